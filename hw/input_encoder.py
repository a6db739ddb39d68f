"""On-chip input encoder: a sample's pixel intensities in, its input event stream out
(docs/design.md §13).

The host sends each image once, as ``N0`` intensities; :class:`InputEncoder` makes the
``rate`` or ``latency`` spike trains of :mod:`spikefab.model.encoders` bit for bit and
pushes them in the accelerator's event order (:func:`spikefab.model.events.event_stream`):
per step the step's spikes in ascending address order, then ``STEP``; ``SAMPLE`` after the
last step. For a direct network (``direct``) it pushes the non-zero intensities once, as
events carrying their value, then the ``T`` markers.

``rate`` needs the golden model's xorshift draws, one per (step, input) in raster order.
xorshift32 is linear over GF(2): one step is a 32×32 bit matrix ``M`` (:func:`xorshift_rows`
gives the rows of ``M**n``), so scanning ``scan = k`` inputs per cycle takes one state
register ``s`` (the state before the group's first draw) and parity networks: lane ``l``
draws from ``M**(l+1) · s`` and the next group starts from ``M**k · s``; at the end of a step,
whose last group holds only ``r = N0 - (G-1)·k`` inputs, from ``M**r · s``.
"""

from amaranth import Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikefab.model.encoders import (HARDWARE_ENCODERS, RATE_SEED, SCAN_RANGE, X_BITS_RANGE,
                                     xorshift32)

from .events import EventKind, EventLayout, addr_bits_for
from .params import check_choice, check_int, validating

__all__ = ["InputEncoder", "xorshift_rows"]

INPUTS_RANGE = (1, 1 << 16)
STEPS_RANGE = (1, 1 << 16)


def xorshift_rows(n):
    """The 32 rows of the GF(2) matrix of ``n`` xorshift32 steps: bit ``i`` of the state
    after ``n`` steps is the parity of ``state & rows[i]``. (The generator is linear, so
    column ``j`` is ``n`` steps applied to the state ``1 << j``.)"""
    n = check_int("n", n, 0, 1 << 16)
    columns = []
    for j in range(32):
        state = 1 << j
        for _ in range(n):
            state = xorshift32(state)
        columns.append(state)
    return [sum(((columns[j] >> i) & 1) << j for j in range(32)) for i in range(32)]


def _apply(state, rows, bits=range(32)):
    """The bits ``bits`` (ascending) of ``M**n · state`` as parity networks, LSB first."""
    return Cat(*[(state & Const(rows[i], 32)).xor() for i in bits])


class InputEncoder(wiring.Component):
    """Encode one sample's intensities into its input event stream, ``rate`` or ``latency``.

    Parameters
    ----------
    inputs : int
        ``N0``, the inputs (pixels) per sample, ``[1, 65536]``.
    steps : int
        ``T``, the time steps per sample, ``[1, 65536]`` (fixed when the block is built).
    x_bits : int
        Intensity width, ``[1, 16]``: intensities are ``[0, 2**x_bits - 1]``.
    kind : {"rate", "latency", "direct"}
        The rule of :func:`~spikefab.model.encoders.encode_rate` (with ``seed``) or
        :func:`~spikefab.model.encoders.encode_latency`; or ``direct``
        (:func:`~spikefab.model.encoders.encode_direct`): step 0 pushes ``SPIKE(i, x[i])``
        for every non-zero ``x[i]`` (``o``'s events carry an ``x_bits``-bit ``value``), the
        other steps only their ``STEP``.
    scan : int
        ``k``, inputs examined per cycle, ``[1, 32]``.
    seed : int
        The rate generator's seed, ``[1, 2**32 - 1]`` (default ``RATE_SEED``).

    Members
    -------
    pixels : ``In(stream.Signature(unsigned(x_bits)))``
        The sample's intensities in raster order (input 0 first). ``pixels.ready`` is high
        while the block is idle (``busy`` low), ``start`` is low and fewer than ``N0``
        pixels were taken since reset or the last taken ``start``; the ``i``-th pixel taken
        is input ``i``. Inputs not written keep their earlier value (0 after reset).
        ``latency`` stores each pixel's fire step, ``((x_max - x) * T) >> x_bits`` (``T``
        for ``x = 0``: never), computed as it is written (shifts and adds: no multiplier).
    start : ``In(1)``
        Taken in a cycle where ``busy`` is low: encode the stored pixels, and count the next
        pixels from input 0 again. Ignored while ``busy``.
    busy : ``Out(1)``
        High from the cycle after ``start`` is taken to the cycle the ``SAMPLE`` is pushed.
    o : ``Out(stream.Signature(EventLayout(addr_bits_for(N0)[, x_bits])))``
        The events, never dropped or repeated under back-pressure: a pending event holds
        ``o.valid`` and its payload until ``o.ready``. ``o.valid`` and ``o.payload`` come
        combinationally from registers and the pixel memory's output; they do not depend on
        ``o.ready``.

    Storage: one :class:`~amaranth.lib.memory.Memory` of ``G = ceil(N0 / k)`` words of
    ``k`` lanes (input ``g*k + l`` in lane ``l`` of word ``g``), each ``x_bits`` wide
    (``rate``) or ``ceil(log2(T + 1))`` wide (``latency``), written one lane at a time
    (``granularity``), read by one synchronous port. Its initial contents are ``x = 0``
    everywhere (intensity 0, or fire step ``T``), so the lanes of the last word beyond
    ``N0``, never written, never spike.

    Timing (the cycle model :func:`spikefab.model.encoders.encoder_cycles`). Two stages:
    *B* holds the item loaded last (a group on the memory's output with its thresholds
    registered, or a marker), *E* the item emitting, with its spike mask registered, so
    ``o.valid`` and ``o.payload`` come from registers only. ``start`` taken in cycle ``c0``
    puts step 0's group 0 in B in ``c0 + 1`` and in E in ``c0 + 2``. E works through the
    items of the sample in order — per step its ``G`` groups, then ``STEP``; ``SAMPLE``
    after the last step — one at a time: a group with ``p`` spikes pushes them in ascending
    address order, one per cycle, and takes ``max(1, p)`` cycles (a group without spikes:
    one cycle with ``o.valid`` low); a marker takes one cycle. B hands E the next item in
    the cycle E finishes one (and loads the item after it), so items follow without a gap,
    and every cycle with ``o.valid`` high and ``o.ready`` low delays everything after it by
    one cycle. So with an always-ready output the ``SAMPLE`` is pushed in cycle ``c0 + C``
    with::

        C = 2 + T * (G + 1) + sum over (t, g) of max(0, p[t, g] - 1)

    (``direct``: its items are step 0's ``G`` groups, ``T`` ``STEP`` markers and ``SAMPLE``,
    so ``C = 2 + G + T + sum over g of max(0, p[0, g] - 1)``) and ``busy`` falls (the next ``start`` can be taken) in ``c0 + C + 1``.
    """

    def __init__(self, inputs, steps, *, x_bits=8, kind="rate", scan=1, seed=RATE_SEED):
        with validating(self):
            self.inputs = check_int("inputs", inputs, *INPUTS_RANGE)
            self.steps = check_int("steps", steps, *STEPS_RANGE)
            self.x_bits = check_int("x_bits", x_bits, *X_BITS_RANGE)
            self.kind = check_choice("kind", kind, HARDWARE_ENCODERS)
            self.scan = check_int("scan", scan, *SCAN_RANGE)
            self.seed = check_int("seed", seed, 1, 0xFFFFFFFF)
        self.groups = -(-self.inputs // self.scan)
        self.tail = self.inputs - (self.groups - 1) * self.scan
        self.slot_bits = (self.steps.bit_length() if self.kind == "latency" else self.x_bits)
        self.layout = EventLayout(addr_bits_for(self.inputs),
                                  self.x_bits if self.kind == "direct" else 0)
        super().__init__({
            "pixels": In(stream.Signature(unsigned(self.x_bits))),
            "start": In(1),
            "busy": Out(1),
            "o": Out(stream.Signature(self.layout)),
        })

    def elaborate(self, platform):
        m = Module()
        k, w, groups, steps = self.scan, self.slot_bits, self.groups, self.steps
        rate, direct = self.kind == "rate", self.kind == "direct"
        # Unwritten inputs read as x = 0: intensity 0 (rate, direct), fire step T = never
        # (latency); so do the lanes of the last word beyond N0, which are never written: no
        # lane mask.
        empty = sum(steps << (lane * w) for lane in range(k)) if self.kind == "latency" else 0
        m.submodules.storage = storage = Memory(shape=unsigned(k * w), depth=groups,
                                                init=[empty] * groups)
        write = storage.write_port(granularity=w)
        read = storage.read_port()
        taken_start = Signal()
        m.d.comb += taken_start.eq(self.start & ~self.busy)

        # -- pixel writes: raster order, one lane of one word per pixel ----------------------
        word = Signal(range(groups))
        lane = Signal(range(k))
        full = Signal()
        value = self.pixels.payload
        if rate or direct:
            slot = value
        else:
            # (x_max - x) * T as shifts and adds of the constant T's set bits: no multiplier
            # (yosys would otherwise give a constant product a DSP block).
            dimness = (~value).as_unsigned()
            product = sum(dimness << bit for bit in range(steps.bit_length()) if steps >> bit & 1)
            slot = Mux(value == 0, steps, product >> self.x_bits)
        take = self.pixels.valid & self.pixels.ready
        m.d.comb += [
            self.pixels.ready.eq(~self.busy & ~self.start & ~full),
            write.addr.eq(word),
            write.data.eq(Cat(*[slot[:w]] * k)),
            write.en.eq(Mux(take, Const(1, k) << lane, 0)),
        ]
        with m.If(taken_start):
            m.d.sync += [word.eq(0), lane.eq(0), full.eq(0)]
        with m.Elif(take):
            with m.If((word == groups - 1) & (lane == self.tail - 1)):
                m.d.sync += [word.eq(0), lane.eq(0), full.eq(1)]
            with m.Elif(lane == k - 1):
                m.d.sync += [word.eq(word + 1), lane.eq(0)]
            with m.Else():
                m.d.sync += lane.eq(lane + 1)

        # -- the next item: group n_group of step n_step, or a marker ------------------------
        GROUP, STEP, SAMPLE = EventKind.SPIKE.value, EventKind.STEP.value, EventKind.SAMPLE.value
        addr_bits = self.layout.addr_bits
        n_kind = Signal(2, init=GROUP)
        n_group = Signal(range(groups))
        n_base = Signal(addr_bits)
        n_step = Signal(range(steps))
        state = Signal(32, init=self.seed)

        # -- stage B: the item loaded last (a group on the memory's output, or a marker) ----
        b_valid = Signal()
        b_kind = Signal(2)
        b_base = Signal(addr_bits)
        lanes = [read.data[l * w:(l + 1) * w] for l in range(k)]
        if rate:
            draws = Signal(k * self.x_bits)  # the group's thresholds u, one per lane
            top = range(32 - self.x_bits, 32)
            x_bits = self.x_bits
            hits = Cat(*[lanes[l] > draws[l * x_bits:(l + 1) * x_bits] for l in range(k)])
        elif direct:
            hits = Cat(*[lanes[l] != 0 for l in range(k)])
        else:
            hits = Cat(*[lanes[l] == n_step for l in range(k)])

        # -- stage E: the item emitting (its spike mask registered) ---------------------------
        e_valid = Signal()
        e_kind = Signal(2)
        e_base = Signal(addr_bits)
        e_mask = Signal(k)
        done = Signal(k)                    # the group's spikes already pushed
        remaining = Signal(k)
        lowest = Signal(k)
        index = Signal(range(k))
        m.d.comb += [
            remaining.eq(e_mask & ~done),
            lowest.eq(remaining & (~remaining + 1)),
        ]
        lowest_index = Const(0, range(k))
        for l in reversed(range(k)):
            lowest_index = Mux(remaining[l], l, lowest_index)
        m.d.comb += index.eq(lowest_index)

        is_group = e_kind == GROUP
        single = ((remaining & (remaining - 1))[:k] == 0)
        advance = Signal()                  # E's item is finished this cycle
        forward = Signal()                  # B's item moves to E
        m.d.comb += [
            self.busy.eq(b_valid | e_valid),
            self.o.valid.eq(e_valid & (~is_group | remaining.any())),
            self.o.payload.kind.eq(e_kind),
            self.o.payload.addr.eq(Mux(is_group, e_base + index, 0)),
            advance.eq(e_valid & Mux(is_group, ~remaining.any() | (single & self.o.ready),
                                     self.o.ready)),
            forward.eq(b_valid & (~e_valid | advance)),
        ]
        with m.If(advance):
            m.d.sync += done.eq(0)
        with m.Elif(self.o.valid & self.o.ready):
            m.d.sync += done.eq(done | lowest)
        with m.If(forward):
            m.d.sync += [e_valid.eq(1), e_kind.eq(b_kind), e_base.eq(b_base), e_mask.eq(hits)]
        with m.Elif(advance):
            m.d.sync += e_valid.eq(0)
        if direct:
            # The emitting group's intensities, registered with its mask (the memory's
            # output moves on to the next item when this one moves to E).
            e_values = Signal(k * w)
            with m.If(forward):
                m.d.sync += e_values.eq(read.data)
            m.d.comb += self.o.payload.value.eq(
                Mux(is_group, e_values.word_select(index, w), 0))

        load = Signal()
        m.d.comb += [
            load.eq(taken_start | (forward & (b_kind != SAMPLE))),
            read.addr.eq(n_group),
            read.en.eq(load),
        ]
        with m.If(load):
            m.d.sync += [b_valid.eq(1), b_kind.eq(n_kind), b_base.eq(n_base)]
            if rate:
                m.d.sync += draws.eq(Cat(*[_apply(state, xorshift_rows(l + 1), top)
                                           for l in range(k)]))
            with m.Switch(n_kind):
                with m.Case(GROUP):
                    with m.If(n_group == groups - 1):
                        m.d.sync += [n_kind.eq(STEP), n_group.eq(0), n_base.eq(0)]
                        if rate:
                            m.d.sync += state.eq(_apply(state, xorshift_rows(self.tail)))
                    with m.Else():
                        m.d.sync += [n_group.eq(n_group + 1), n_base.eq(n_base + k)]
                        if rate:
                            m.d.sync += state.eq(_apply(state, xorshift_rows(k)))
                with m.Case(STEP):
                    with m.If(n_step == steps - 1):
                        m.d.sync += [n_kind.eq(SAMPLE), n_step.eq(0)]
                    with m.Else():
                        # direct: the groups only at step 0, then the markers
                        m.d.sync += [n_kind.eq(STEP if direct else GROUP),
                                     n_step.eq(n_step + 1)]
                with m.Case(SAMPLE):
                    m.d.sync += [n_kind.eq(GROUP), state.eq(self.seed)]
        with m.Elif(forward):
            m.d.sync += b_valid.eq(0)       # the SAMPLE moved on: nothing more to load
        return m
