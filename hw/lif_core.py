"""LIF core: the per-step neuron sweep — leak, threshold, reset, saturation, spike emission."""

from amaranth import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

import numpy as np

from spikefab.model.kernel_image import SWEEP_BLOCK, KernelImage
from spikefab.model.network import Layer, signed_range
from spikefab.model.placement import check_placement

from .events import EventKind, EventLayout, addr_bits_for
from .layouts import NamedArrayLayout
from .params import check_instance, check_int, validating
from .pe_array import SweepRequest

__all__ = ["LIFCore"]


def _lowest_set(m, bits, width, name):
    """Index of the lowest set bit of ``bits`` (0 when none), a priority encoder."""
    index = Signal(range(max(2, width)), name=name)
    for b in reversed(range(width)):
        with m.If(bits[b]):
            m.d.comb += index.eq(b)
    return index


class LIFCore(wiring.Component):
    """Sweeps a layer's neurons on ``STEP`` (docs/design.md §2 step 2-4) and clears them on
    ``SAMPLE``, ``S`` neurons per cycle, and emits the spiking neurons' addresses.

    The sweep visits ``C = ceil(N / S)`` *chunks*; chunk ``k`` is neurons ``kS .. kS+S-1``,
    lane ``i % S`` for neuron ``i``. Membranes (``v_bits``, saturating), refractory bits
    (the last spike, for ``delayed`` timing) and biases live in memories of ``C`` words of
    ``S`` lanes. The input currents come from the :class:`~spikefab.hw.pe_array.PEArray`
    of ``P = lanes`` PEs through ``sweep``/``currents`` (read and clear): chunk ``k`` is
    row ``kS // P`` of PE group ``(kS % P) // S``. A direct layer (``layer.direct``,
    docs/design.md §13) holds its currents: its ``STEP`` sweep only reads them (the
    request's ``clear`` low; ``SAMPLE``'s clears them) and its current is ``A >> x_shift``,
    the accumulator shifted (wiring). The neuron parameters (threshold, leak
    mode and constants, reset, timing) are fixed at generation; the multiplier of the
    ``mul`` leak is the only multiplier.

    A chunk's spike mask goes into an *emitter queue* of ``emit_depth`` entries, and the
    emitter pushes one spike per cycle from its head, so sweeping and emitting overlap.

    Parameters
    ----------
    layer : Layer
        The neuron parameters, bias and size ``N`` (the weights are not used here).
    lanes : int
        ``P``, the PE array's lanes, ``[1, min(256, N)]``.
    acc_bits : int
        Width of the currents from the PE array, ``[2, 48]``.
    drain : int
        Cycles from accepting a command to the first chunk, ``[1, 16]`` (``Timing.drain``):
        the time the last weight word needs to land in the accumulators.
    sweep_lanes : int, optional
        ``S``, neurons updated per cycle, a divisor of ``lanes`` (default ``lanes``).
    emit_depth : int
        Entries of the emitter queue, ``[1, 16]`` (``Timing.emit_depth``).
    order : KernelImage, optional
        The convolution core's neuron order (:mod:`spikefab.model.kernel_image`): the sweep
        then walks the core's ``rows · P`` neurons ``h`` (padding channels included, which
        never fire), takes the bias of ``order.order[h]`` and emits each spike with its NIR
        index: the chunk's first lane's index is kept by a mixed-radix counter over
        ``order.chunk_digits(S)`` and lane ``l`` adds ``l · order.positions`` (no
        multiplier, no table). Without a bias the sweep skips inactive rows (see
        :meth:`_skipping_sequencer`) unless ``skip=False`` (the dense baseline).
    placement : sequence of int, optional
        A fully connected layer's neuron placement (:mod:`spikefab.model.placement`): user
        neuron ``i`` at hardware position ``placement[i]``. The sweep walks the hardware
        positions (chunk ``k`` is positions ``kS .. kS+S-1``, the bias ROM holds the bias of
        the neuron placed there) and the emitter sends each spike with its *user* address,
        looked up in a table of ``N`` entries (a ROM read combinationally) from the position.
        ``None`` (the identity) builds no table: exactly the core without a placement.

    Members
    -------
    control : ``In(stream.Signature(EventKind))``
        ``STEP`` or ``SAMPLE``; ready while the core is idle. (``SPIKE`` is refused with
        ``error``.)
    sweep : ``Out(stream.Signature(SweepRequest(rows, P // S), always_ready=True))``
        Read-and-clear requests to the PE array.
    currents : ``In(stream.Signature(ArrayLayout(signed(acc_bits), S), always_ready=True))``
    spikes : ``Out(stream.Signature(EventLayout(addr_bits(N))))``
        ``SPIKE(i)`` for every neuron that fired, in ascending address order, then the
        command itself as a marker (``STEP`` / ``SAMPLE``). Back-pressure stalls the
        emitter, and through a full emitter queue the sweep; nothing is dropped.
    idle : ``Out(1)``
        No command in progress and every spike and marker pushed.
    error : ``Out(1)``
        Sticky: a ``SPIKE`` command was offered.
    touch : ``In(stream.Signature({group, pos}, always_ready=True))``, skipping sweep only
        A word landed on row ``(group, pos)`` this cycle: the row is swept at the next
        ``STEP`` (the convolution core drives it with every kernel word).

    Timing (the sweep contract of :mod:`spikefab.model.cycles`): a command accepted in
    cycle ``s`` may issue chunk 0 in cycle ``s + drain``. A chunk issued in ``c`` is
    computed in two stages, ``c + 1`` (input current, leak) and ``c + 2`` (sum, saturation,
    threshold, reset, membrane write); if it has spikes, its mask enters the emitter queue
    at the end of ``c + 2`` and its first spike can be pushed in ``c + 3``
    (``sweep_latency = 3``). Chunks issue one per cycle while the queue's entries, the
    second stage's chunk if it has spikes and the first stage's chunk (spikes not yet
    known) are fewer than ``emit_depth``. The marker is one more item after the
    last chunk, an entry of one push; ``control`` is ready again the cycle after the
    marker *issues* (every accumulator has been read by then), so the next command's sweep
    may start while the emitter still pushes this one's spikes, which stay ahead of it.
    Without back-pressure a ``SAMPLE`` takes ``drain + C + 1`` cycles from acceptance to
    ready.
    """

    def __init__(self, layer, *, lanes, acc_bits, drain=2, sweep_lanes=None, emit_depth=4,
                 order=None, skip=True, placement=None):
        with validating(self):
            check_instance("layer", layer, Layer)
            self.layer = layer
            self.order = order
            if order is not None:
                check_instance("order", order, KernelImage)
                if order.layer is not layer or order.lanes != lanes:
                    raise ValueError("order was not compiled from this layer with these lanes")
                self.neurons = order.rows * order.lanes
                self.bias = np.where(order.order >= 0, layer.bias[np.maximum(order.order, 0)],
                                     0)
                self.skips = order.skips and bool(skip)
            else:
                self.neurons = layer.neurons
                self.bias = layer.bias
                self.skips = False
            self.user_address = None
            if placement is not None:
                if order is not None:
                    raise ValueError("placement applies to fully connected layers only; the "
                                     "convolution core (order) keeps its own neuron order")
                placement = np.array(check_placement(placement, layer.neurons),
                                     dtype=np.int64)
                self.user_address = np.empty(layer.neurons, dtype=np.int64)
                self.user_address[placement] = np.arange(layer.neurons)
                self.bias = np.asarray(layer.bias)[self.user_address]
            self.lanes = check_int("lanes", lanes, 1, min(256, self.neurons))
            self.acc_bits = check_int("acc_bits", acc_bits, 2, 48)
            self.drain = check_int("drain", drain, 1, 16)
            self.sweep_lanes = check_int("sweep_lanes", lanes if sweep_lanes is None
                                         else sweep_lanes, 1, lanes)
            if lanes % self.sweep_lanes:
                raise ValueError(f"sweep_lanes = {sweep_lanes} must divide lanes = {lanes}")
            self.emit_depth = check_int("emit_depth", emit_depth, 1, 16)
            self.rows = -(-self.neurons // self.lanes)
            self.groups = lanes // self.sweep_lanes
            self.chunks = -(-self.neurons // self.sweep_lanes)
            self.event_layout = EventLayout(addr_bits_for(layer.neurons))
        ports = {}
        if self.skips:
            ports["touch"] = In(stream.Signature(data.StructLayout({
                "group": range(max(2, order.groups)), "pos": range(order.positions)}),
                always_ready=True))
        super().__init__(ports | {
            "control": In(stream.Signature(EventKind)),
            "sweep": Out(stream.Signature(SweepRequest(self.rows, self.groups,
                                                       hold=layer.direct),
                                          always_ready=True)),
            "currents": In(stream.Signature(NamedArrayLayout(signed(acc_bits),
                                                             self.sweep_lanes, prefix="lane"),
                                            always_ready=True)),
            "spikes": Out(stream.Signature(self.event_layout)),
            "idle": Out(1),
            "error": Out(1),
        })

    # -- the neuron update of docs/design.md §2 for one lane, in two pipeline stages -----------
    def _width(self):
        return max(self.layer.v_bits, self.acc_bits) + 3

    def _first_half(self, m, v, current, bias, p):
        """Stage C1: the input current ``I = W s + b`` and the leaked membrane, in parallel."""
        layer = self.layer
        total = Signal(signed(self._width()), name=f"total{p}")
        if layer.direct:
            current = current >> layer.x_shift         # arithmetic: toward minus infinity
        m.d.comb += total.eq(current + bias)
        leaked = Signal(signed(layer.v_bits + 1), name=f"leaked{p}")
        if layer.leak == "shift":
            m.d.comb += leaked.eq(v - (v >> layer.k))
        elif layer.leak == "mul":
            m.d.comb += leaked.eq((v * Const(layer.m, layer.f + 1)) >> layer.f)
        else:
            m.d.comb += leaked.eq(v)
        return total, leaked

    def _addends(self, m, leaked, total, r, p):
        """End of stage C1 with delayed reset timing: the two addends of the sum ``pre`` (the leaked membrane, zero when
        a delayed zero reset is pending; the current, less ``theta`` when a delayed subtract
        reset is pending) and ``pre``'s second addend less ``theta + 1``, so that stage C2
        tests the threshold by the sign of one sum instead of a compare after the adder."""
        layer = self.layer
        width = self._width()
        theta = layer.theta
        rest = Signal(signed(width + 1), name=f"rest{p}")
        fire_rest = Signal(signed(width + 2), name=f"fire_rest{p}")
        kept = leaked
        if layer.reset == "subtract":
            m.d.comb += [rest.eq(total - Mux(r, theta, 0)),
                         fire_rest.eq(total - Mux(r, 2 * theta + 1, theta + 1))]
        else:
            kept = Signal.like(leaked, name=f"kept{p}")
            m.d.comb += [kept.eq(Mux(r, 0, leaked)), rest.eq(total),
                         fire_rest.eq(total - (theta + 1))]
        return kept, rest, fire_rest

    def _second_half_delayed(self, m, kept, rest, fired, p):
        """Stage C2 with delayed reset timing (the pending reset was applied in C1, see
        :meth:`_addends`): sum and saturation; returns ``(new_v, fired)``. The threshold
        test, the sign of ``kept + rest - theta - 1`` (a sum beside ``pre``'s, no compare
        after an adder), is made at the end of C1 and arrives registered as ``fired`` (the
        immediate timing keeps the compare after the sum in C2, which costs fewer logic cells
        on the UP5K)."""
        layer = self.layer
        lo, hi = signed_range(layer.v_bits)
        width = self._width()
        pre = Signal(signed(width + 1), name=f"pre{p}")
        m.d.comb += pre.eq(kept + rest)
        clamped = Signal(signed(layer.v_bits), name=f"sat{p}")
        m.d.comb += clamped.eq(Mux(pre > hi, hi, Mux(pre < lo, lo, pre)))
        new_v = Signal(signed(layer.v_bits), name=f"new_v{p}")
        m.d.comb += new_v.eq(clamped)
        return new_v, fired

    def _second_half(self, m, leaked, total, p):
        """Stage C2 with immediate reset timing: sum, saturation, threshold and reset; returns
        ``(new_v, fired)``."""
        layer = self.layer
        lo, hi = signed_range(layer.v_bits)
        width = self._width()
        pre = Signal(signed(width + 1), name=f"pre{p}")
        m.d.comb += pre.eq(leaked + total)
        # The threshold test and the subtract reset work on the unsaturated sum, in parallel
        # with the clamp, so only one compare/subtract stage follows the adder: since
        # lo < theta < hi, sat(pre) > theta exactly when pre > theta, and
        # sat(pre) - theta = min(pre, hi) - theta when it fires.
        clamped = Signal(signed(layer.v_bits), name=f"sat{p}")
        m.d.comb += clamped.eq(Mux(pre > hi, hi, Mux(pre < lo, lo, pre)))
        fired = Signal(name=f"fired{p}")
        m.d.comb += fired.eq(pre > layer.theta)
        new_v = Signal(signed(layer.v_bits), name=f"new_v{p}")
        if layer.reset == "subtract":
            reset_v = Signal(signed(width + 1), name=f"reset_v{p}")
            m.d.comb += reset_v.eq(pre - layer.theta)
            m.d.comb += new_v.eq(Mux(fired, Mux(pre > hi, hi - layer.theta, reset_v), clamped))
        else:
            m.d.comb += new_v.eq(Mux(fired, 0, clamped))
        return new_v, fired

    def _advance_base(self, m, base):
        """The mixed-radix counter of the convolution core's emission index: the lowest
        digit that does not wrap counts up, the ones below it go back to 0, and ``base``
        moves by that digit's stride less the strides the lower digits had added."""
        spec = self.order.chunk_digits(self.sweep_lanes)
        undone = 0                        # what the digits below have added at their top
        for d, ((radix, stride), digit) in enumerate(zip(spec, self._digits)):
            top = digit == radix - 1
            with (m.If(~top) if d == 0 else m.Elif(~top)):
                m.d.sync += [digit.eq(digit + 1), base.eq(base + (stride - undone))]
                m.d.sync += [lower.eq(0) for lower in self._digits[:d]]
            undone += (radix - 1) * stride
        # All digits at their top: past the last chunk (the marker); base is not used.

    def _skipping_sequencer(self, m, active, countdown, room, issue, chunk, c_nonzero):
        """The issue order of the convolution core's skipping sweep (no bias): rows (a
        channel group's position, its ``P / S`` chunks) whose activity flag is set, in
        ascending order; a block of :data:`~spikefab.model.kernel_image.SWEEP_BLOCK`
        positions with no flag set costs one cycle and issues nothing. A row's flag is set by
        ``touch`` (a word landed on it) and rewritten by the sweep (any neuron of the row left
        with a non-zero membrane or a pending reset). Drives ``issue`` and ``chunk``; returns
        ``(is_chunk, sweep row, NIR index of the chunk's first lane)``."""
        order = self.order
        block = SWEEP_BLOCK
        groups, positions, blocks = order.groups, order.positions, order.blocks
        per_row = self.lanes // self.sweep_lanes
        hw = positions
        flags = [Signal(blocks * block, name=f"active{g}") for g in range(groups)]
        slices = Array(Array(f.word_select(b, block) for b in range(blocks)) for f in flags)

        group = Signal(range(max(2, groups)))
        blk = Signal(range(max(2, blocks)))
        block_pos = Signal(range(blocks * block + 1))              # blk * 16
        group_row = Signal(range(groups * hw + 1))                 # group * HW
        group_base = Signal(range(groups * self.lanes * hw + 1))   # group * P * HW
        sweep_group = Signal(range(max(2, per_row)))               # S-lane group of the row
        sg_base = Signal(range(self.lanes * hw + 1))               # sweep_group * S * HW
        mask = Signal(block)
        fresh = Signal()
        done = Signal()
        self._sweep_group = sweep_group

        start = self.control.valid & self.control.ready & (self.control.payload != EventKind.SPIKE)
        pending = Signal(block)
        m.d.comb += pending.eq(Mux(fresh, slices[group][blk], mask))
        bit = _lowest_set(m, pending, block, "active_bit")
        only = (pending & (pending - 1))[:block] == 0                # bit is the last one
        pos = Signal(range(blocks * block + 1))
        m.d.comb += pos.eq(block_pos + bit)
        row = Signal(range(groups * hw + block + 1))
        m.d.comb += row.eq(group_row + pos)
        m.d.comb += chunk.eq(row * per_row + sweep_group)
        base = Signal(range(groups * self.lanes * hw + self.lanes * hw + block + 1))
        m.d.comb += base.eq(group_base + sg_base + pos)

        sweeping = active & (countdown == 0)
        m.d.comb += issue.eq(sweeping & room & (done | (pending != 0)))
        advance = Signal()          # to the next block (after its last row, or when empty)
        m.d.comb += advance.eq(sweeping & ~done & ((pending == 0) | (
            issue & (sweep_group == per_row - 1) & only)))

        with m.If(start):
            m.d.sync += [group.eq(0), blk.eq(0), block_pos.eq(0), group_row.eq(0),
                         group_base.eq(0), sweep_group.eq(0), sg_base.eq(0), fresh.eq(1),
                         done.eq(0)]
        with m.Elif(advance):
            m.d.sync += [fresh.eq(1), sweep_group.eq(0), sg_base.eq(0)]
            with m.If(blk != blocks - 1):
                m.d.sync += [blk.eq(blk + 1), block_pos.eq(block_pos + block)]
            with m.Elif(group != groups - 1):
                m.d.sync += [blk.eq(0), block_pos.eq(0), group.eq(group + 1),
                             group_row.eq(group_row + hw),
                             group_base.eq(group_base + self.lanes * hw)]
            with m.Else():
                m.d.sync += done.eq(1)
        with m.Elif(issue & ~done):
            with m.If(sweep_group == per_row - 1):
                m.d.sync += [sweep_group.eq(0), sg_base.eq(0),
                             mask.eq(pending & ~(1 << bit)[:block]), fresh.eq(0)]
            with m.Else():
                m.d.sync += [sweep_group.eq(sweep_group + 1),
                             sg_base.eq(sg_base + self.sweep_lanes * hw), mask.eq(pending),
                             fresh.eq(0)]

        # The flags: set by touch, rewritten by the sweep's second stage (the first chunk of a
        # row writes its state, the others add theirs).
        c1_group, c_group = Signal.like(group), Signal.like(group)
        c1_pos, c_pos = Signal.like(pos), Signal.like(pos)
        c1_first, c_first = Signal(), Signal()
        m.d.sync += [c1_group.eq(group), c1_pos.eq(pos), c1_first.eq(sweep_group == 0),
                     c_group.eq(c1_group), c_pos.eq(c1_pos), c_first.eq(c1_first)]
        swept = Signal()            # the C2 chunk (a chunk, not the marker) is being written
        m.d.comb += swept.eq(self._c2_chunk)
        for g, f in enumerate(flags):
            with m.If(self.touch.valid & (self.touch.payload.group == g)):
                m.d.sync += f.bit_select(self.touch.payload.pos, 1).eq(1)
            with m.Elif(swept & (c_group == g)):
                target = f.bit_select(c_pos, 1)
                m.d.sync += target.eq(c_nonzero | (~c_first & target))
        return ~done, row, base

    def elaborate(self, platform):
        m = Module()
        layer, lanes = self.layer, self.sweep_lanes
        if self.order is not None:
            self._digits = [Signal(range(max(2, radix)), name=f"digit{d}")
                            for d, (radix, _) in enumerate(
                                self.order.chunk_digits(self.sweep_lanes))]
        chunks, groups = self.chunks, self.groups
        v_layout = NamedArrayLayout(signed(layer.v_bits), lanes, prefix="lane")

        m.submodules.membranes = v_mem = Memory(shape=v_layout, depth=chunks, init=[])
        v_write = v_mem.write_port()
        v_read = v_mem.read_port()
        delayed = layer.timing == "delayed"
        if delayed:
            m.submodules.refractory = r_mem = Memory(shape=lanes, depth=chunks, init=[])
            r_write = r_mem.write_port()
            r_read = r_mem.read_port()
        has_bias = bool(self.bias.any())
        if has_bias:
            padded = list(self.bias) + [0] * (chunks * lanes - self.neurons)
            bias_rows = [[int(b) for b in padded[r * lanes:(r + 1) * lanes]]
                         for r in range(chunks)]
            m.submodules.bias = b_mem = Memory(shape=v_layout, depth=chunks, init=bias_rows)
            b_read = b_mem.read_port()

        # -- command and sweep control -------------------------------------------------------
        active = Signal()
        kind = Signal(EventKind)
        countdown = Signal(range(self.drain + 1))
        issue_chunk = Signal(range(chunks + 2))    # chunks = the marker pseudo-chunk
        issue_row = Signal(range(self.rows))       # the chunk's PE row and group
        issue_group = Signal(range(groups))
        # The NIR index of the issued chunk's first lane: issue_chunk * S, by adding (or on the
        # convolution core the mixed-radix sum of its digits, kept by adding).
        issue_base = Signal(range((chunks + 1) * lanes + 1))
        m.d.comb += self.control.ready.eq(~active)
        with m.If(self.control.valid & self.control.ready):
            with m.If(self.control.payload == EventKind.SPIKE):
                m.d.sync += self.error.eq(1)
            with m.Else():
                m.d.sync += [active.eq(1), kind.eq(self.control.payload),
                             countdown.eq(self.drain - 1), issue_chunk.eq(0), issue_row.eq(0),
                             issue_group.eq(0), issue_base.eq(0)]
                if self.order is not None:
                    m.d.sync += [digit.eq(0) for digit in self._digits]
        with m.If(countdown != 0):
            m.d.sync += countdown.eq(countdown - 1)

        # -- compute stage 1 (C1): the chunk issued last cycle, its data just read ----------
        c1_valid = Signal()
        c1_marker = Signal()
        c1_chunk = Signal(range(chunks))
        c1_base = Signal.like(issue_base)
        c1_kind = Signal(EventKind)
        # -- compute stage 2 (C2): the chunk issued two cycles ago --------------------------
        c_valid = Signal()
        c_marker = Signal()
        c_chunk = Signal(range(chunks))
        c_base = Signal.like(issue_base)
        c_kind = Signal(EventKind)
        c_mask = Signal(lanes)
        m.d.sync += [c_valid.eq(c1_valid), c_marker.eq(c1_marker), c_chunk.eq(c1_chunk),
                     c_base.eq(c1_base), c_kind.eq(c1_kind)]
        # Registered beside them, for ``write`` (the issue rule's late input): the C2 chunk
        # is swept for spikes (a chunk, not clearing), and it is the marker.
        c_live, c_marker_valid = Signal(name="c_live"), Signal(name="c_marker_valid")
        m.d.sync += [c_live.eq(c1_valid & ~c1_marker & (c1_kind != EventKind.SAMPLE)),
                     c_marker_valid.eq(c1_valid & c1_marker)]
        compute = c_valid & ~c_marker
        self._c2_chunk = compute
        new_v = []
        fired = []
        last_chunk_lanes = self.neurons - (chunks - 1) * lanes      # lanes of real neurons
        for p in range(lanes):
            bias = b_read.data[p] if has_bias else Const(0, signed(2))
            total, leaked = self._first_half(m, v_read.data[p], self.currents.payload[p],
                                             bias, p)
            if delayed:
                kept, rest, fire_rest = self._addends(m, leaked, total, r_read.data[p], p)
                c_kept = Signal.like(kept, name=f"c_leaked{p}")
                c_rest = Signal.like(rest, name=f"c_total{p}")
                # The threshold test at the end of C1, registered: C2's spikes (the emitter
                # queue's write, and through it the issue rule) come from flip-flops.
                over = Signal(signed(self._width() + 3), name=f"over{p}")
                m.d.comb += over.eq(kept + fire_rest)
                c_fired = Signal(name=f"c_fired{p}")
                m.d.sync += [c_kept.eq(kept), c_rest.eq(rest), c_fired.eq(~over[-1])]
                v, s = self._second_half_delayed(m, c_kept, c_rest, c_fired, p)
            else:
                c_total = Signal.like(total, name=f"c_total{p}")
                c_leaked = Signal.like(leaked, name=f"c_leaked{p}")
                m.d.sync += [c_total.eq(total), c_leaked.eq(leaked)]
                v, s = self._second_half(m, c_leaked, c_total, p)
            in_range = 1 if p < last_chunk_lanes else (c_chunk != chunks - 1)
            new_v.append(v)
            fired.append(s & in_range)
        clearing = c_kind == EventKind.SAMPLE
        c_nonzero = Signal()      # the chunk's neurons hold state after this sweep
        m.d.comb += c_nonzero.eq(compute & ~clearing
                                 & ((Cat(*(v != 0 for v in new_v)) != 0)
                                    | ((Cat(*fired) != 0) if delayed else 0)))
        m.d.comb += c_mask.eq(Mux(compute & ~clearing, Cat(*fired), 0))
        m.d.comb += [v_write.addr.eq(c_chunk), v_write.en.eq(compute)]
        for p in range(lanes):
            m.d.comb += v_write.data[p].eq(Mux(clearing, 0, new_v[p]))
        if delayed:
            m.d.comb += [r_write.addr.eq(c_chunk), r_write.en.eq(compute),
                         r_write.data.eq(c_mask)]

        # -- emitter queue (Q) and emitter (E) -----------------------------------------------
        # A shift-register queue: entry 0 is the head the emitter pushes from; a pop moves
        # every entry down one place, and a write lands behind the last remaining entry.
        depth = self.emit_depth
        # ``kind``: SPIKE for a chunk's spikes, else the marker to push (the core may already
        # be sweeping the next command while its earlier marker waits here).
        entry_layout = data.StructLayout({"mask": lanes, "base": len(issue_base),
                                          "kind": EventKind})
        entries = [Signal(entry_layout, name=f"entry{e}") for e in range(depth)]
        level = Signal(range(depth + 1))
        head = entries[0]
        lowest = _lowest_set(m, head.mask, lanes, "lowest")
        # The lowest spiking lane's offset from the chunk's base address: the lane itself, or
        # on the convolution core lane * H_out * W_out (the next channel, same position).
        offset = lowest if self.order is None else Array(
            Const(lane * self.order.positions, len(issue_base)) for lane in range(lanes))[lowest]
        m.d.comb += self.spikes.valid.eq(level != 0)
        address = head.base + offset
        if self.user_address is not None:
            # The neuron placed at this position: its user address, from a ROM of N entries.
            m.submodules.user_address = table = Memory(
                shape=len(self.spikes.payload.addr), depth=self.neurons,
                init=[int(a) for a in self.user_address])
            lookup = table.read_port(domain="comb")
            m.d.comb += lookup.addr.eq(address)
            address = lookup.data
        with m.If(head.mask != 0):
            m.d.comb += [self.spikes.payload.kind.eq(EventKind.SPIKE),
                         self.spikes.payload.addr.eq(address)]
        with m.Else():
            m.d.comb += [self.spikes.payload.kind.eq(head.kind), self.spikes.payload.addr.eq(0)]
        rest = (head.mask & (head.mask - 1))[:lanes]         # the head without its lowest bit
        # What a push does, from registers: pop the head (its last spike, or the marker) or
        # shift its lowest spike out. The consumer's ``ready`` comes late (on the boards
        # through the readout from the host link's state), so it only chooses, last, between
        # the update with a push and the one without.
        pops, shifts = Signal(name="pops"), Signal(name="shifts")
        m.d.comb += [pops.eq(self.spikes.valid & (rest == 0)),
                     shifts.eq(self.spikes.valid & (rest != 0))]
        write = Signal()
        # = c_valid & ((c_mask != 0) | c_marker), as the OR of the threshold tests and two
        # registers
        m.d.comb += write.eq(c_marker_valid | (c_live & (Cat(*fired) != 0)))

        def update(pop):
            """The queue's next state, ``pop`` the head or not (``None``: no push at all)."""
            if pop is not None:
                with m.If(shifts):
                    m.d.sync += head.mask.eq(rest)
            # A write lands at ``level - pop``. That entry is written every cycle, whether or
            # not a chunk arrives: without a write it lies past the new level, where nothing
            # reads it. So ``write`` (late: the second stage's threshold tests) enables no
            # flip-flop.
            for e in range(depth):
                following = entries[e + 1] if e + 1 < depth else Const(0, entry_layout.size)
                lands = [entries[e].mask.eq(c_mask), entries[e].base.eq(c_base),
                         entries[e].kind.eq(Mux(c_marker, c_kind, EventKind.SPIKE))]
                if pop is None:
                    with m.If(level == e):
                        m.d.sync += lands
                    continue
                with m.If(pop):
                    with m.If(level == e + 1):
                        m.d.sync += lands
                    with m.Else():
                        m.d.sync += entries[e].eq(following)
                with m.Elif(level == e):
                    m.d.sync += lands
            m.d.sync += level.eq(level + write - (0 if pop is None else pop))

        with m.If(self.spikes.ready):
            update(pops)
        with m.Else():
            update(None)
        m.d.comb += self.idle.eq(~active & ~c1_valid & ~c_valid & (level == 0))

        # -- issue stage (I) ------------------------------------------------------------------
        issue = Signal()
        # Held: the queue's entries, the C2 chunk if it has spikes (or is the marker), and the
        # C1 chunk whatever it holds (its spikes are not known yet).
        # (level + write + c1_valid < depth, chosen by ``write`` from two compares of
        # registers: ``write`` comes late, from the second stage's sum and threshold, and no
        # longer runs through an adder and a compare on the iCE40's critical path.)
        room_if_write, room_if_not = Signal(), Signal()
        m.d.comb += [room_if_write.eq(level + c1_valid < depth - 1),
                     room_if_not.eq(level + c1_valid < depth)]
        room = Mux(write, room_if_write, room_if_not)
        chunk = Signal(range(chunks))
        if self.skips:
            is_chunk, sweep_row, base = self._skipping_sequencer(m, active, countdown, room,
                                                                 issue, chunk, c_nonzero)
        else:
            # both cases from registers, ``write`` choosing between them last
            may_issue = Signal()
            m.d.comb += may_issue.eq(active & (countdown == 0) & (issue_chunk <= chunks))
            m.d.comb += issue.eq(Mux(write, may_issue & room_if_write, may_issue & room_if_not))
            is_chunk = issue_chunk < chunks
            m.d.comb += chunk.eq(issue_chunk)
            sweep_row, base = issue_row, issue_base
        m.d.comb += [
            self.sweep.valid.eq(issue & is_chunk),
            self.sweep.payload.row.eq(sweep_row),
            self.sweep.payload.group.eq(self._sweep_group if self.skips else issue_group),
            v_read.addr.eq(chunk),
        ]
        if layer.direct:
            m.d.comb += self.sweep.payload.clear.eq(kind == EventKind.SAMPLE)
        if delayed:
            m.d.comb += r_read.addr.eq(chunk)
        if has_bias:
            m.d.comb += b_read.addr.eq(chunk)
        m.d.sync += [c1_valid.eq(issue), c1_marker.eq(issue & ~is_chunk), c1_chunk.eq(chunk),
                     c1_base.eq(base), c1_kind.eq(kind)]
        with m.If(issue & ~is_chunk):
            m.d.sync += active.eq(0)             # the marker: free for the next command
        if not self.skips:
            with m.If(issue):
                m.d.sync += issue_chunk.eq(issue_chunk + 1)
                if self.order is None:
                    m.d.sync += issue_base.eq(issue_base + lanes)
                else:
                    self._advance_base(m, issue_base)
                if groups > 1:
                    with m.If(issue_group == groups - 1):
                        m.d.sync += [issue_group.eq(0), issue_row.eq(issue_row + 1)]
                    with m.Else():
                        m.d.sync += issue_group.eq(issue_group + 1)
                else:
                    m.d.sync += issue_row.eq(issue_row + 1)
        return m
