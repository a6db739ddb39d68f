"""Readout: counts the output layer's spikes per class and emits one result per sample."""

from amaranth import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spikefab.model.early_exit import exit_rule

from .events import EventKind, EventLayout, addr_bits_for
from .layouts import NamedArrayLayout
from .params import check_int, validating

__all__ = ["Readout", "ResultLayout", "ExitLayout", "CYCLE_BITS"]

CYCLE_BITS = 32


class ResultLayout(data.StructLayout):
    """``{cls, counts[classes], cycles, counters}``: the predicted class (arg-max of the
    counts, lowest index on ties), the spike count of every output neuron over the sample, the
    cycle (since the first input event) in which the result became valid, and a snapshot of
    the performance counters (``counters_layout``, when given) as they stood when the
    ``SAMPLE`` marker reached the readout (the marker's own push cycle not yet counted).
    With early exit (``steps_bits``), also ``steps``: the steps the sample ran (the result
    is then emitted, and the snapshot taken, at the exit step's ``STEP`` marker)."""

    def __init__(self, classes, count_bits, counters_layout=None, steps_bits=None):
        fields = {"cls": addr_bits_for(classes),
                  "counts": NamedArrayLayout(count_bits, classes, prefix="class"),
                  "cycles": CYCLE_BITS}
        if counters_layout is not None:
            fields["counters"] = counters_layout
        if steps_bits is not None:
            fields["steps"] = steps_bits
        super().__init__(fields)


class ExitLayout(data.StructLayout):
    """The readout's early-exit state, seen by every layer core: ``exited`` (the readout's
    current sample has exited) and ``tag`` (that sample's number, modulo ``2**tag_bits``)."""

    def __init__(self, tag_bits):
        super().__init__({"exited": 1, "tag": tag_bits})


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
    exit : ``Out(ExitLayout(tag_bits))``, with early exit
        ``exited`` from the cycle after the exit step's ``STEP`` marker until the cycle
        after the sample's ``SAMPLE`` marker; ``tag`` counts the ``SAMPLE`` markers received.

    Early exit (``exit`` = ``"exact"`` or ``("margin", m)``, with ``steps`` = ``T``; see
    :mod:`spikefab.model.early_exit`): at the ``STEP`` marker of step ``t < T - 1`` the rule
    is evaluated on the counts (every spike of step ``t`` already counted); when it holds,
    the result (with ``steps = t + 1``) is emitted as at ``SAMPLE``, and the sample's later
    events are ignored until its ``SAMPLE`` marker, which then emits nothing and only clears;
    they are taken even while the result waits (``i`` is ready while ``exited``), so the
    spikes the last core emitted before the exit was visible never hold the pipeline up
    behind an unread result (the cores discard the rest themselves).
    """

    def __init__(self, classes, count_bits, counters_layout=None, *, exit=None, steps=None,
                 tag_bits=1):
        with validating(self):
            self.classes = check_int("classes", classes, 1, 1 << 16)
            self.count_bits = check_int("count_bits", count_bits, 1, 32)
            self.rule = exit_rule(exit)
            if self.rule is not None:
                self.steps = check_int("steps", steps, 1, (1 << self.count_bits) - 1)
                self.tag_bits = check_int("tag_bits", tag_bits, 1, 32)
        steps_bits = self.steps.bit_length() if self.rule is not None else None
        ports = {
            "i": In(stream.Signature(EventLayout(addr_bits_for(classes)))),
            "result": Out(stream.Signature(ResultLayout(classes, count_bits, counters_layout,
                                                        steps_bits))),
            "now": In(CYCLE_BITS),
            "error": Out(1),
        }
        self.has_counters = counters_layout is not None
        if self.has_counters:
            ports["counters"] = In(counters_layout)
        if self.rule is not None:
            ports["exit"] = Out(ExitLayout(self.tag_bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        classes, top = self.classes, (1 << self.count_bits) - 1
        counts = [Signal(self.count_bits, name=f"count{k}") for k in range(classes)]
        best = Signal(range(max(2, classes)))
        best_count = Signal(self.count_bits)
        # best_count - 1 (modulo 2**count_bits), kept beside it for the arg-max rule
        self._best_below = Signal(self.count_bits, init=top)

        if self.rule is None:
            m.d.comb += [self.i.ready.eq(~self.result.valid | self.result.ready)]
        else:       # an exited sample's later events are ignored, even behind its result
            m.d.comb += [self.i.ready.eq(~self.result.valid | self.result.ready
                                         | self.exit.exited)]
        with m.If(self.result.valid & self.result.ready):
            m.d.sync += self.result.valid.eq(0)

        event = self.i.payload
        if self.rule is not None:
            self._elaborate_exit(m, counts, best, best_count, top)
            return m
        with m.If(self.i.valid & self.i.ready):
            with m.Switch(event.kind):
                with m.Case(EventKind.SPIKE):
                    self._count_spike(m, event.addr, counts, best, best_count, top)
                with m.Case(EventKind.SAMPLE):
                    m.d.sync += [self.result.valid.eq(1),
                                 self.result.payload.cls.eq(best),
                                 self.result.payload.cycles.eq(self.now + 1),
                                 best.eq(0), best_count.eq(0), self._best_below.eq(top)]
                    if self.has_counters:
                        m.d.sync += self.result.payload.counters.eq(self.counters)
                    for k, count in enumerate(counts):
                        m.d.sync += [self.result.payload.counts[k].eq(count), count.eq(0)]
        return m

    def _count_spike(self, m, addr, counts, best, best_count, top):
        """A spike of output neuron ``addr``: its count rises (a count at ``top`` raises the
        error flag instead of wrapping) and the arg-max follows (lowest index on ties).

        ``best_count`` is the largest count, so ``count + 1 > best_count`` is
        ``count == best_count`` and ``count + 1 == best_count`` is ``count == best_count - 1``
        (kept in a register): equality tests, no compare chain after the counts.

        The spike's address comes late (the last core's emitter head: its lowest spiking lane
        and that lane's address), so everything that does not depend on it is computed from
        registers beside it, per class: ``leads`` (the spike raises the best count: the
        class holds it) and ``takes`` (the class becomes the best: it leads, or it is one
        below with a lower index), both without a saturated count. The address then only
        selects one bit of each (``best_count`` rises to ``best_count + 1`` and ``below`` to
        ``best_count`` when it leads; ``best`` becomes the address when it takes; a class one
        below that takes leaves ``best_count`` and ``below`` as they are) and decodes the
        count to raise: no mux chain over the classes after the address."""
        below = self._best_below
        leads = Signal(len(counts), name="leads")
        takes = Signal(len(counts), name="takes")
        for k, count in enumerate(counts):
            free = count != top
            m.d.comb += [leads[k].eq(free & (count == best_count)),
                         takes[k].eq(free & ((count == best_count)
                                             | ((count == below) & (k < best))))]
            with m.If(addr == k):
                with m.If(count == top):
                    m.d.sync += self.error.eq(1)
                with m.Else():
                    m.d.sync += count.eq(count + 1)
        index = addr if len(counts) > 1 else 0
        in_range = (addr < len(counts)) if (1 << len(addr)) > len(counts) else 1
        with m.If(in_range & takes.bit_select(index, 1)):
            m.d.sync += best.eq(addr)
        with m.If(in_range & leads.bit_select(index, 1)):
            m.d.sync += [best_count.eq(best_count + 1), below.eq(best_count)]

    def _elaborate_exit(self, m, counts, best, best_count, top):
        """The event handling with early exit (class doc)."""
        T, rule = self.steps, self.rule
        step = Signal(range(T + 1))                  # STEP markers received this sample
        exited, tag = self.exit.exited, self.exit.tag
        left = Signal(range(T + 1))
        m.d.comb += left.eq(T - 1 - step)
        safe = []
        for k, count in enumerate(counts):
            lead = best_count - count                 # >= 0: best holds the largest count
            if rule.kind == "exact":
                safe.append((best == k) | (lead > left) | ((lead == left) & (best < k)))
            else:
                safe.append((best == k) | (lead >= rule.margin))
        fires = Signal()
        m.d.comb += fires.eq((step < T - 1) & Cat(*safe).all())

        def emit(steps_ran):
            m.d.sync += [self.result.valid.eq(1),
                         self.result.payload.cls.eq(best),
                         self.result.payload.cycles.eq(self.now + 1),
                         self.result.payload.steps.eq(steps_ran)]
            if self.has_counters:
                m.d.sync += self.result.payload.counters.eq(self.counters)
            for k, count in enumerate(counts):
                m.d.sync += self.result.payload.counts[k].eq(count)

        event = self.i.payload
        with m.If(self.i.valid & self.i.ready):
            with m.Switch(event.kind):
                with m.Case(EventKind.SPIKE):
                    with m.If(~exited):
                        self._count_spike(m, event.addr, counts, best, best_count, top)
                with m.Case(EventKind.STEP):
                    with m.If(~exited):
                        m.d.sync += step.eq(step + 1)
                        with m.If(fires):
                            emit(step + 1)
                            m.d.sync += exited.eq(1)
                with m.Case(EventKind.SAMPLE):
                    with m.If(~exited):
                        emit(step)
                    m.d.sync += [best.eq(0), best_count.eq(0), self._best_below.eq(top),
                                 step.eq(0), exited.eq(0),
                                 tag.eq(tag + 1)]
                    m.d.sync += [count.eq(0) for count in counts]
