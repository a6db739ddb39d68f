"""Layer core: dispatches a layer's input events to its weight memory, PE array and LIF core."""

from amaranth import Cat, Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spikefab.model.memory import WeightImage
from spikefab.model.network import Layer

from .events import EventKind, EventLayout, addr_bits_for
from .lif_core import LIFCore
from .params import check_instance, check_int, validating
from .pe_array import PEArray, accumulator_bits
from .readout import ExitLayout
from .weight_memory import WeightMemory

__all__ = ["COUNTER_BITS", "LayerCore", "LayerCounters", "count_updates"]

COUNTER_BITS = 32


def count_updates(m, hits):
    """The number of set bits among ``hits`` (one per lane), counted in a three-stage
    pipeline (the lane bits, sums of up to 16 lanes, the total) so a wide word is no long
    path: the updates of a word land in the returned signal 3 cycles after the word."""
    lanes = len(hits)
    bits = Signal(lanes, name="hits")
    m.d.sync += bits.eq(Cat(*hits))
    groups = [bits[i:i + 16] for i in range(0, lanes, 16)]
    partial = [Signal(range(len(g) + 1), name=f"updates_part{i}")
               for i, g in enumerate(groups)]
    for group, total in zip(groups, partial):
        m.d.sync += total.eq(sum(group[b] for b in range(len(group))))
    updates = Signal(range(lanes + 1))
    m.d.sync += updates.eq(sum(partial))
    return updates


class LayerCounters(data.StructLayout):
    """Performance counters of one layer core, cumulative since reset (``COUNTER_BITS``
    each): SPIKE ``events`` consumed, weight ``words`` read, ``synaptic_updates`` (lanes with a
    valid non-zero weight), ``busy`` cycles (popping an event or unable to pop the next) and
    ``stall`` cycles (a spike or marker waiting for room downstream); with early exit
    (``dropped=True``) also ``dropped``: the ``SPIKE`` and ``STEP`` events of exited samples
    discarded (not in ``events``)."""

    def __init__(self, dropped=False):
        names = ("events", "words", "synaptic_updates", "busy", "stall")
        if dropped:
            names += ("dropped",)
        super().__init__({name: COUNTER_BITS for name in names})


class LayerCore(wiring.Component):
    """One layer of the accelerator (docs/design.md §3): weight memory → PE array → LIF sweep.

    The controller pops the layer's input events one at a time and only when the core is free
    — the timing contract of :mod:`spikefab.model.cycles`, which this block implements:

    * ``SPIKE(j)`` (sparse mode) goes to the weight memory as column ``j``; the next event is
      popped when the memory issues the column's last word, ``max(1, L_j)`` cycles later.
    * ``STEP`` / ``SAMPLE`` go to the LIF core as commands once the last column is issued; the
      next event is popped the cycle after the LIF core has pushed its marker.
    * Dense baseline (``dense=True``): ``SPIKE(j)`` sets bit ``j`` of an input spike vector
      (one cycle); ``STEP`` streams every column ``0 .. fan_in-1`` with its lanes gated by that
      bit (``rows`` cycles each), then sweeps, and clears the vector.
    * A direct layer (``layer.direct``, docs/design.md §13; sparse mode): its input events
      carry a ``value`` (``EventLayout(addr_bits, x_bits)``) that goes with the column to the
      PE array, whose lanes add ``weight * value``; the accumulators are ``x_bits`` wider and
      hold the sum through the ``STEP`` sweeps until ``SAMPLE``'s. Same cycles as a spike.

    Parameters
    ----------
    layer : Layer
    image : WeightImage
        ``compile_weights(layer, lanes, format)`` (``dense`` format when ``dense``).
    dense : bool
        Build the sparsity-oblivious baseline.
    capacity : int, optional
        Weight-memory depth for run-time loading (see :class:`WeightMemory`).
    drain, emit_depth : int
        ``Timing.drain`` and ``Timing.emit_depth`` (see :class:`LIFCore`).
    sweep_lanes : int, optional
        Neurons the LIF sweep updates per cycle, a divisor of the image's lanes (default:
        the lanes).
    runtime_weights : bool
        A run-time loaded single-port weight store (``WeightMemory(runtime=True)``).
    exit_tag_bits : int, optional
        Build for early exit (sparse mode only): the core numbers its samples (its
        ``SAMPLE`` markers popped, modulo ``2**exit_tag_bits``) and discards, in one cycle
        each, the ``SPIKE`` and ``STEP`` events it pops while the readout's ``exit`` says
        this sample has exited; ``SAMPLE`` is always processed (its sweep clears the
        sample's membranes, refractory bits and accumulators).

    Members
    -------
    i : ``In(stream.Signature(EventLayout(addr_bits(fan_in))))``
        Input events (from the layer's :class:`EventQueue`).
    o : ``Out(stream.Signature(EventLayout(addr_bits(N))))``
        Output events: spikes in ascending hardware position (ascending address with the
        identity placement; with the image's placement each spike carries the user's
        address), then the marker.
    counters : ``Out(LayerCounters)``
    load : ``In(...)``
        The weight memory's run-time load port.
    idle : ``Out(1)``
        No event being processed and every output event pushed.
    error : ``Out(1)``
        Sticky: a PE array collision or a bad LIF command (never expected).
    exit : ``In(ExitLayout(exit_tag_bits))``, with early exit
        The readout's exit state.
    """

    def __init__(self, layer, image, *, dense=False, capacity=None, drain=2, sweep_lanes=None,
                 emit_depth=4, runtime_weights=False, exit_tag_bits=None):
        with validating(self):
            check_instance("layer", layer, Layer)
            check_instance("image", image, WeightImage)
            if (image.neurons, image.fan_in, image.w_bits) != (layer.neurons, layer.fan_in,
                                                               layer.w_bits):
                raise ValueError("image was not compiled from this layer (neurons, fan_in or "
                                 "w_bits differ)")
            if dense and image.format != "dense":
                raise ValueError(f"the dense baseline needs format 'dense', not "
                                 f"{image.format!r}")
            self.layer, self.image, self.dense = layer, image, dense
            self.value_bits = layer.x_bits if layer.direct else 0
            if dense and self.value_bits:
                raise ValueError("a direct input layer (x_bits given) runs in the sparse mode; "
                                 "the dense baseline takes spikes only")
            self.acc_bits = accumulator_bits(layer.w_bits, layer.fan_in, self.value_bits)
            self.memory = WeightMemory(image, capacity=capacity, runtime=runtime_weights,
                                       value_bits=self.value_bits)
            self.pes = PEArray(lanes=image.lanes, rows=image.rows, w_bits=layer.w_bits,
                               acc_bits=self.acc_bits, sweep_lanes=sweep_lanes,
                               value_bits=self.value_bits)
            # A direct layer's PE lanes take a cycle more (the product's register).
            self.lif = LIFCore(layer, lanes=image.lanes, acc_bits=self.acc_bits,
                               drain=drain + (1 if self.value_bits else 0),
                               sweep_lanes=sweep_lanes, emit_depth=emit_depth,
                               placement=image.placement)
            self.exit_tag_bits = exit_tag_bits
            if exit_tag_bits is not None:
                check_int("exit_tag_bits", exit_tag_bits, 1, 32)
                if dense:
                    raise ValueError("early exit (exit_tag_bits) needs the sparse mode, not "
                                     "the dense baseline")
        ports = {
            "i": In(stream.Signature(EventLayout(addr_bits_for(layer.fan_in),
                                                 self.value_bits))),
            "o": Out(stream.Signature(EventLayout(addr_bits_for(layer.neurons)))),
            "counters": Out(LayerCounters(dropped=exit_tag_bits is not None)),
            "load": In(stream.Signature(self.memory.load_layout, always_ready=True)),
            "idle": Out(1),
            "error": Out(1),
        }
        if exit_tag_bits is not None:
            ports["exit"] = In(ExitLayout(exit_tag_bits))
        super().__init__(ports)

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = self.memory
        m.submodules.pes = pes = self.pes
        m.submodules.lif = lif = self.lif
        wiring.connect(m, memory.words, pes.words)
        wiring.connect(m, lif.sweep, pes.sweep)
        wiring.connect(m, pes.currents, lif.currents)
        wiring.connect(m, wiring.flipped(self.o), lif.spikes)
        wiring.connect(m, wiring.flipped(self.load), memory.load)
        m.d.comb += self.error.eq(pes.error | lif.error)

        head = self.i.payload
        idle = memory.columns.ready & lif.control.ready    # free to take the next event
        pop = self.i.valid & self.i.ready
        fan_in = self.layer.fan_in

        drop = None
        if self.exit_tag_bits is not None:   # the head belongs to an exited sample: discard
            drop = Signal()
            tag = Signal(self.exit_tag_bits)
            m.d.comb += drop.eq(self.exit.exited & (self.exit.tag == tag)
                                & (head.kind != EventKind.SAMPLE))
            with m.If(pop & (head.kind == EventKind.SAMPLE)):
                m.d.sync += tag.eq(tag + 1)
            with m.If(pop & drop):
                m.d.sync += self.counters.dropped.eq(self.counters.dropped + 1)
        if not self.dense:
            with m.If(self.i.valid & idle):
                if drop is not None:
                    with m.If(~drop):
                        self._dispatch(m, head, memory, lif, self.value_bits)
                else:
                    self._dispatch(m, head, memory, lif, self.value_bits)
                m.d.comb += self.i.ready.eq(1)
        else:
            spiked = Signal(fan_in)
            column = Signal(range(fan_in + 1))
            streaming = Signal()
            with m.If(streaming):
                # Every column in turn, gated by whether its input spiked this step.
                with m.If(column != fan_in):
                    m.d.comb += [memory.columns.valid.eq(1),
                                 memory.columns.payload.addr.eq(column),
                                 memory.columns.payload.gate.eq(spiked.bit_select(column, 1))]
                    with m.If(memory.columns.ready):
                        m.d.sync += column.eq(column + 1)
                with m.Elif(memory.columns.ready):
                    m.d.comb += [lif.control.valid.eq(1), lif.control.payload.eq(EventKind.STEP)]
                    m.d.sync += [streaming.eq(0), spiked.eq(0)]
            with m.Elif(self.i.valid & idle):
                m.d.comb += self.i.ready.eq(1)
                with m.Switch(head.kind):
                    with m.Case(EventKind.SPIKE):
                        m.d.sync += spiked.bit_select(head.addr, 1).eq(1)
                    with m.Case(EventKind.STEP):
                        # Column 0 goes out in the cycle STEP is popped.
                        m.d.comb += [memory.columns.valid.eq(1),
                                     memory.columns.payload.addr.eq(0),
                                     memory.columns.payload.gate.eq(spiked[0])]
                        m.d.sync += [streaming.eq(1), column.eq(1)]
                    with m.Default():
                        m.d.comb += [lif.control.valid.eq(1),
                                     lif.control.payload.eq(head.kind)]

        # -- performance counters ------------------------------------------------------------
        c = self.counters
        word = memory.words.payload
        consumed = pop & (head.kind == EventKind.SPIKE)
        with m.If(consumed if drop is None else consumed & ~drop):
            m.d.sync += c.events.eq(c.events + 1)
        with m.If(memory.words.valid & word.live):
            m.d.sync += c.words.eq(c.words + 1)
        updates = count_updates(m, [lane.valid & (lane.weight != 0) & memory.words.valid
                                    for lane in word.lanes])
        m.d.sync += c.synaptic_updates.eq(c.synaptic_updates + updates)
        free = idle & ~streaming if self.dense else idle
        m.d.comb += self.idle.eq(free & lif.idle)
        busy = pop | ~idle
        if self.dense:
            busy = busy | streaming
        with m.If(busy):
            m.d.sync += c.busy.eq(c.busy + 1)
        with m.If(lif.spikes.valid & ~lif.spikes.ready):
            m.d.sync += c.stall.eq(c.stall + 1)
        return m

    @staticmethod
    def _dispatch(m, head, memory, lif, value_bits):
        """Sparse mode: ``SPIKE(j)`` to the weight memory as column ``j`` (with its value on a
        direct layer), a marker to the LIF core."""
        with m.If(head.kind == EventKind.SPIKE):
            m.d.comb += [memory.columns.valid.eq(1),
                         memory.columns.payload.addr.eq(head.addr),
                         memory.columns.payload.gate.eq(1)]
            if value_bits:
                m.d.comb += memory.columns.payload.value.eq(head.value)
        with m.Else():
            m.d.comb += [lif.control.valid.eq(1), lif.control.payload.eq(head.kind)]
