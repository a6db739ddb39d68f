"""Readout: counts the output layer's spikes per class and emits one result per sample."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .events import EventKind, EventLayout, addr_bits_for
from .layouts import NamedArrayLayout
from .params import check_int, validating

__all__ = ["Readout", "ResultLayout", "CYCLE_BITS"]

CYCLE_BITS = 32


class ResultLayout(data.StructLayout):
    """``{cls, counts[classes], cycles, counters}``: the predicted class (arg-max of the
    counts, lowest index on ties), the spike count of every output neuron over the sample, the
    cycle (since the first input event) in which the result became valid, and a snapshot of
    the performance counters (``counters_layout``, when given) as they stood when the
    ``SAMPLE`` marker reached the readout (the marker's own push cycle not yet counted)."""

    def __init__(self, classes, count_bits, counters_layout=None):
        fields = {"cls": addr_bits_for(classes),
                  "counts": NamedArrayLayout(count_bits, classes, prefix="class"),
                  "cycles": CYCLE_BITS}
        if counters_layout is not None:
            fields["counters"] = counters_layout
        super().__init__(fields)


class Readout(wiring.Component):
    """Consumes the last layer's events; on ``SAMPLE`` emits the sample's result and starts
    counting the next sample from zero.

    The arg-max is kept as the spikes arrive: when neuron ``i`` reaches count ``c``, it becomes
    the best if ``c`` exceeds the best count, or equals it with a lower index — so the result
    is ready the cycle after ``SAMPLE`` (``Timing.readout_latency = 1``).

    Parameters
    ----------
    classes : int
        Output neurons, ``[1, 65536]``.
    count_bits : int
        Width of a spike count, ``[1, 32]``; a count that would pass ``2**count_bits - 1`` sets
        ``error`` (and saturates) instead of wrapping.

    Members
    -------
    i : ``In(stream.Signature(EventLayout(addr_bits(classes))))``
        Ready unless a result is waiting and not being taken this cycle.
    result : ``Out(stream.Signature(ResultLayout))``
    now : ``In(CYCLE_BITS)``
        The accelerator's cycle count (the result records ``now`` of its valid cycle).
    counters : ``In(counters_layout)``, when ``counters_layout`` is given
        Performance counters, snapshotted into each result.
    error : ``Out(1)``
        Sticky: a count saturated.
    """

    def __init__(self, classes, count_bits, counters_layout=None):
        with validating(self):
            self.classes = check_int("classes", classes, 1, 1 << 16)
            self.count_bits = check_int("count_bits", count_bits, 1, 32)
        ports = {
            "i": In(stream.Signature(EventLayout(addr_bits_for(classes)))),
            "result": Out(stream.Signature(ResultLayout(classes, count_bits, counters_layout))),
            "now": In(CYCLE_BITS),
            "error": Out(1),
        }
        self.has_counters = counters_layout is not None
        if self.has_counters:
            ports["counters"] = In(counters_layout)
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        classes, top = self.classes, (1 << self.count_bits) - 1
        counts = [Signal(self.count_bits, name=f"count{k}") for k in range(classes)]
        best = Signal(range(max(2, classes)))
        best_count = Signal(self.count_bits)

        m.d.comb += [self.i.ready.eq(~self.result.valid | self.result.ready)]
        with m.If(self.result.valid & self.result.ready):
            m.d.sync += self.result.valid.eq(0)

        event = self.i.payload
        with m.If(self.i.valid & self.i.ready):
            with m.Switch(event.kind):
                with m.Case(EventKind.SPIKE):
                    for k, count in enumerate(counts):
                        with m.If(event.addr == k):
                            with m.If(count == top):
                                m.d.sync += self.error.eq(1)
                            with m.Else():
                                m.d.sync += count.eq(count + 1)
                                with m.If((count + 1 > best_count)
                                          | ((count + 1 == best_count) & (k < best))):
                                    m.d.sync += [best.eq(k), best_count.eq(count + 1)]
                with m.Case(EventKind.SAMPLE):
                    m.d.sync += [self.result.valid.eq(1),
                                 self.result.payload.cls.eq(best),
                                 self.result.payload.cycles.eq(self.now + 1),
                                 best.eq(0), best_count.eq(0)]
                    if self.has_counters:
                        m.d.sync += self.result.payload.counters.eq(self.counters)
                    for k, count in enumerate(counts):
                        m.d.sync += [self.result.payload.counts[k].eq(count), count.eq(0)]
        return m
