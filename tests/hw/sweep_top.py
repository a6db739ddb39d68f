"""One Verilog top holding many block instances (one per parameter set), so a single
Verilator build covers a whole parameter sweep. Instance ``name``'s ports appear as
``name__<port>`` (e.g. ``csc_p4_w8__columns__valid``)."""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import Out


class SweepTop(wiring.Component):
    def __init__(self, blocks):
        self.blocks = dict(blocks)
        super().__init__({name: Out(block.signature) for name, block in self.blocks.items()})

    def elaborate(self, platform):
        m = Module()
        for name, block in self.blocks.items():
            m.submodules[name] = block
            wiring.connect(m, wiring.flipped(getattr(self, name)), block)
        return m
