"""Convolution core: one convolutional layer with each kernel stored once (weight sharing)."""

from amaranth import Const, Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikefab.model.conv import ConvLayer
from spikefab.model.kernel_image import KernelImage

from .conv_address import MAX_TABLE_SIDE, ConvAddressGenerator
from .events import EventKind, EventLayout, addr_bits_for
from .layer_core import LayerCounters, count_updates
from .layouts import NamedArrayLayout
from .lif_core import LIFCore
from .params import check_instance, check_int, validating
from .pe_array import PEArray, accumulator_bits
from .weight_memory import LoadTarget

__all__ = ["ConvCore"]


class ConvCore(wiring.Component):
    """A convolutional layer of the accelerator (docs/design.md §12, *Convolution core*):
    decode table → address generator → kernel memory → PE array → LIF sweep.

    Lanes go across output channels: lane ``p`` of ``P`` owns the channels ``co ≡ p (mod P)``
    and the ``G = ceil(C_out / P)`` channel groups take one kernel word each per reached
    position. The memories and the neuron order are those of
    :class:`~spikefab.model.kernel_image.KernelImage`.

    Handshake and timing (the convolution rules of :mod:`spikefab.model.cycles`):

    * The core pops one event at a time, when it is free and the event has been at the head
      of the queue for a full cycle (the decode table, a block RAM, is read with the head's
      address every cycle): an event pushed in ``c`` is popped from ``c + 2`` on, and two
      pops are at least two cycles apart.
    * ``SPIKE(j)`` popped in cycle ``s``: the decode table gives ``(ci, y, x)`` (after the
      input pool) in ``s + 1``, where the address generator takes it; it walks the ``R``
      reached positions, each held for ``G`` cycles (one kernel word per channel group), from
      ``s + 2``; the kernel words reach the PE array in ``s + 3 .. s + 2 + R·G``. The core is
      free again in ``s + max(2, R·G)``, so events stream back to back at one word per cycle.
      An event that reaches nothing costs two cycles.
    * ``STEP`` / ``SAMPLE`` go to the LIF core (``drain + 1`` cycles to the first chunk, so the
      last kernel word has landed); the core is free the cycle after the marker issues.
    * The sweep and the emitter are :class:`~spikefab.hw.lif_core.LIFCore`'s over the core's
      ``G · HW · P`` neurons (without a bias, skipping the rows that received no word and
      hold no state: blocks of 16 positions, an empty block one cycle); spikes leave with their NIR index (``co · HW + oy · W_out + ox``)
      in the core's neuron order: channel group, position, channel.

    Parameters
    ----------
    layer : ConvLayer
    image : KernelImage
        ``compile_kernel(layer, lanes)``.
    drain, emit_depth : int
        ``Timing.drain`` and ``Timing.emit_depth``.
    sweep_lanes : int, optional
        ``S``, a divisor of the lanes (default: the lanes).
    dense : bool
        Build the dense baseline: ``SPIKE(j)`` sets bit ``j`` of an input vector in one cycle;
        ``STEP`` walks every input (each taken two cycles apart at least, as an event), its
        words gated by the bit, then sweeps every chunk (design §12).

    Members
    -------
    i : ``In(stream.Signature(EventLayout(addr_bits(fan_in))))``
    o : ``Out(stream.Signature(EventLayout(addr_bits(N))))``
    counters : ``Out(LayerCounters)``
        ``words`` counts kernel words, ``synaptic_updates`` their non-zero lanes.
    load : ``In(...)``
        The kernel memory is built with its contents (no run-time load): any write sets
        ``error``.
    idle : ``Out(1)``
    error : ``Out(1)``
        Sticky: a write to ``load``, a PE-array collision, an event the address generator was
        not ready for, or a bad LIF command (none expected).
    """

    def __init__(self, layer, image, *, drain=2, sweep_lanes=None, emit_depth=4, dense=False):
        with validating(self):
            check_instance("layer", layer, ConvLayer)
            check_instance("image", image, KernelImage)
            if image.layer is not layer:
                raise ValueError("image was not compiled from this layer")
            geometry = layer.geometry
            for name, side in (("height", geometry.height), ("width", geometry.width)):
                check_int(f"the convolution's input {name}", side, 1, MAX_TABLE_SIDE)
            self.layer, self.image, self.dense = layer, image, bool(dense)
            self.acc_bits = accumulator_bits(layer.w_bits, layer.fan_in)
            # The tag: the channel's kernel offset, and (dense baseline) the input's gate on top.
            tag_bits = image.decode_fields()["tag"] + self.dense
            self.generator = ConvAddressGenerator(geometry, tag_bits=tag_bits)
            self.pes = PEArray(lanes=image.lanes, rows=image.rows, w_bits=layer.w_bits,
                               acc_bits=self.acc_bits, sweep_lanes=sweep_lanes)
            self.lif = LIFCore(layer, lanes=image.lanes, acc_bits=self.acc_bits,
                               drain=check_int("drain", drain, 1, 15) + 1,
                               sweep_lanes=sweep_lanes, emit_depth=emit_depth, order=image,
                               skip=not self.dense)
            self.decode_layout = data.StructLayout(image.decode_fields())
        super().__init__({
            "i": In(stream.Signature(EventLayout(addr_bits_for(layer.fan_in)))),
            "o": Out(stream.Signature(EventLayout(addr_bits_for(layer.neurons)))),
            "counters": Out(LayerCounters()),
            "load": In(stream.Signature(data.StructLayout(
                {"target": LoadTarget, "addr": 1, "data": 1}), always_ready=True)),
            "idle": Out(1),
            "error": Out(1),
        })

    def _decode_rows(self):
        image = self.image
        return [{"reaches": int(r), "tag": int(c) * image.taps, "y": int(y), "x": int(x),
                 "wait": int(w)}
                for r, c, y, x, w in zip(image.reaches, image.channel, image.y, image.x,
                                         image.event_wait)]

    def elaborate(self, platform):
        m = Module()
        image, lanes = self.image, self.image.lanes
        m.submodules.generator = gen = self.generator
        m.submodules.pes = pes = self.pes
        m.submodules.lif = lif = self.lif
        wiring.connect(m, lif.sweep, pes.sweep)
        wiring.connect(m, pes.currents, lif.currents)
        wiring.connect(m, wiring.flipped(self.o), lif.spikes)

        m.submodules.decode = decode = Memory(shape=self.decode_layout, depth=image.fan_in,
                                              init=self._decode_rows())
        decoded = decode.read_port()
        kernel_layout = NamedArrayLayout(signed(image.w_bits), lanes, prefix="lane")
        m.submodules.kernel = kernel = Memory(
            shape=kernel_layout, depth=len(image.words),
            init=[[int(w) for w in word] for word in image.words])
        weights = kernel.read_port()

        # -- taking events ---------------------------------------------------------------------
        head = self.i.payload
        pop = self.i.valid & self.i.ready
        decoding = Signal()         # the decode table shows the entry of the input just taken
        wait = Signal.like(decoded.data.wait)
        walk_free = ~decoding & (wait == 0)
        is_spike = head.kind == EventKind.SPIKE
        with m.If(decoding):
            m.d.sync += wait.eq(decoded.data.wait)
        with m.Elif(wait != 0):
            m.d.sync += wait.eq(wait - 1)
        gate = Signal()             # the dense baseline's gate of the input being walked
        if not self.dense:
            fresh = Signal()        # the head was there last cycle: the table shows its entry
            m.d.sync += fresh.eq(self.i.valid & ~pop)
            m.d.comb += decoded.addr.eq(head.addr)
            m.d.comb += self.i.ready.eq(fresh & walk_free & lif.control.ready)
            m.d.sync += decoding.eq(pop & is_spike)
            with m.If(pop & ~is_spike):
                m.d.comb += [lif.control.valid.eq(1), lif.control.payload.eq(head.kind)]
            streaming = Const(0)
        else:
            # SPIKE(j) sets bit j of the input spike vector (one cycle); STEP walks every input
            # j in turn, each taken like an event (two cycles apart at least, when the walk is
            # free), its words gated by bit j; then the LIF core sweeps and the vector clears.
            fan_in = self.layer.fan_in
            spiked = Signal(fan_in)
            streaming = Signal()
            j = Signal(range(fan_in + 1))
            fresh = Signal()
            take = streaming & fresh & walk_free & (j != fan_in)
            m.d.sync += fresh.eq(streaming & ~take)
            m.d.comb += decoded.addr.eq(j)
            m.d.comb += self.i.ready.eq(~streaming & walk_free & lif.control.ready)
            m.d.sync += [decoding.eq(take), gate.eq(spiked.bit_select(j, 1))]
            with m.If(take):
                m.d.sync += j.eq(j + 1)
            with m.If(streaming & walk_free & (j == fan_in)):
                m.d.comb += [lif.control.valid.eq(1), lif.control.payload.eq(EventKind.STEP)]
                m.d.sync += [streaming.eq(0), spiked.eq(0)]
            with m.If(pop):
                with m.Switch(head.kind):
                    with m.Case(EventKind.SPIKE):
                        m.d.sync += spiked.bit_select(head.addr, 1).eq(1)
                    with m.Case(EventKind.STEP):
                        m.d.sync += [streaming.eq(1), j.eq(0)]
                    with m.Default():
                        m.d.comb += [lif.control.valid.eq(1), lif.control.payload.eq(head.kind)]

        # -- the walk: the address generator, each reached position held for G cycles -------------
        m.d.comb += [gen.i.valid.eq(decoding & decoded.data.reaches),
                     gen.i.payload.y.eq(decoded.data.y), gen.i.payload.x.eq(decoded.data.x),
                     gen.i.payload.tag.eq(decoded.data.tag | (gate << len(decoded.data.tag)))]
        groups = image.groups
        group = Signal(range(max(2, groups)))
        kernel_base = Signal(range(len(image.words)))       # group * C_in * taps
        row_base = Signal(range(image.rows))                # group * HW
        reach = gen.o.payload
        tag = reach.tag[:len(decoded.data.tag)]
        m.d.comb += [weights.addr.eq(kernel_base + tag + reach.tap),
                     gen.o.ready.eq(group == groups - 1)]
        with m.If(gen.o.valid):
            with m.If(group == groups - 1):
                m.d.sync += [group.eq(0), kernel_base.eq(0), row_base.eq(0)]
            with m.Else():
                m.d.sync += [group.eq(group + 1),
                             kernel_base.eq(kernel_base + len(image.words) // groups),
                             row_base.eq(row_base + image.positions)]

        # The kernel word arrives the cycle after its address: it goes to the PE array then.
        word_valid = Signal()
        word_index = Signal(range(image.rows))
        word_gate = Signal()
        m.d.sync += [word_valid.eq(gen.o.valid), word_index.eq(row_base + reach.pos),
                     word_gate.eq(reach.tag[-1] if self.dense else 1)]
        if lif.skips:
            # The word's row becomes active for the next sweep.
            m.d.comb += lif.touch.valid.eq(word_valid)
            m.d.sync += [lif.touch.payload.group.eq(group), lif.touch.payload.pos.eq(reach.pos)]
        word = pes.words.payload
        m.d.comb += [pes.words.valid.eq(word_valid), word.live.eq(1)]
        for p in range(lanes):
            m.d.comb += [word.lanes[p].valid.eq(word_gate), word.lanes[p].index.eq(word_index),
                         word.lanes[p].weight.eq(weights.data[p])]

        # -- errors, counters, idle -------------------------------------------------------------
        broken = Signal()           # sticky
        with m.If((gen.i.valid & ~gen.i.ready) | self.load.valid):
            m.d.sync += broken.eq(1)
        m.d.comb += self.error.eq(broken | pes.error | lif.error)

        c = self.counters
        with m.If(pop & is_spike):
            m.d.sync += c.events.eq(c.events + 1)
        with m.If(word_valid):
            m.d.sync += c.words.eq(c.words + 1)
        updates = count_updates(m, [word_valid & word_gate & (word.lanes[p].weight != 0)
                                    for p in range(lanes)])
        m.d.sync += c.synaptic_updates.eq(c.synaptic_updates + updates)
        with m.If(pop | ~walk_free | ~lif.control.ready | streaming):
            m.d.sync += c.busy.eq(c.busy + 1)
        with m.If(lif.spikes.valid & ~lif.spikes.ready):
            m.d.sync += c.stall.eq(c.stall + 1)
        m.d.comb += self.idle.eq(walk_free & ~streaming & ~gen.o.valid & ~word_valid & lif.idle)
        return m
