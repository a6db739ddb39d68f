"""A tiny component for the toolchain smoke test: a free-running counter with an enable."""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out


class Counter(wiring.Component):
    """Counts clock cycles while ``en`` is high; ``count`` is the registered value.

    Latency: ``count`` shows the number of cycles in which ``en`` was high before the last
    clock edge.
    """

    en: In(1)
    count: Out(8)

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            m.d.sync += self.count.eq(self.count + 1)
        return m
