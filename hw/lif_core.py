"""LIF core: the per-step neuron sweep — leak, threshold, reset, saturation, spike emission."""

from amaranth import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikeforge.model.network import Layer, signed_range

from .events import EventKind, EventLayout, addr_bits_for
from .layouts import NamedArrayLayout
from .params import check_instance, check_int, validating

__all__ = ["LIFCore"]


def _lowest_set(m, bits, width, name):
    """Index of the lowest set bit of ``bits`` (0 when none), a priority encoder."""
    index = Signal(range(max(2, width)), name=name)
    for b in reversed(range(width)):
        with m.If(bits[b]):
            m.d.comb += index.eq(b)
    return index


class LIFCore(wiring.Component):
    """Sweeps a layer's neurons on ``STEP`` (DESIGN.md §2 step 2-4) and clears them on
    ``SAMPLE``, ``P`` neurons per cycle, and emits the spiking neurons' addresses.

    Neuron ``i`` is lane ``i % P`` of row ``i // P``. Its membrane (``v_bits``, saturating),
    refractory bit (the last spike, for ``delayed`` timing) and bias live in block RAMs of
    ``rows = ceil(N / P)`` words of ``P`` lanes. The input current of a row comes from the
    :class:`~spikeforge.hw.pe_array.PEArray` through ``sweep``/``currents`` (read and clear).
    The neuron parameters (threshold, leak mode and constants, reset, timing) are fixed at
    generation; the multiplier of the ``mul`` leak is the only multiplier.

    Parameters
    ----------
    layer : Layer
        The neuron parameters, bias and size ``N`` (the weights are not used here).
    lanes : int
        ``P``, ``[1, N]``.
    acc_bits : int
        Width of the currents from the PE array, ``[2, 48]``.
    drain : int
        Cycles from accepting a command to the first row, ``[1, 16]`` (``Timing.drain``):
        the time the last weight word needs to land in the accumulators.

    Members
    -------
    control : ``In(stream.Signature(EventKind))``
        ``STEP`` or ``SAMPLE``; ready while the core is idle. (``SPIKE`` is refused with
        ``error``.)
    sweep : ``Out(stream.Signature(range(rows), always_ready=True))``
        Row read-and-clear requests to the PE array.
    currents : ``In(stream.Signature(ArrayLayout(signed(acc_bits), P), always_ready=True))``
    spikes : ``Out(stream.Signature(EventLayout(addr_bits(N))))``
        ``SPIKE(i)`` for every neuron that fired, in ascending address order, then the
        command itself as a marker (``STEP`` / ``SAMPLE``). Back-pressure stalls the sweep;
        nothing is dropped.
    error : ``Out(1)``
        Sticky: a ``SPIKE`` command was offered.

    Timing (``Timing`` of the cycle model): a command accepted in cycle ``s`` issues row 0 in
    cycle ``s + drain``. A row issued in ``c`` is computed in ``c + 1`` and its spikes are
    pushed from ``c + 2`` (``sweep_latency = 2``), one per cycle. A silent row lets the next
    one issue in ``c + 1``; after a row with spikes the next issues in the cycle of its last
    push. The marker goes out like a row with one spike after the last row, and ``control``
    is ready again the cycle after. Without back-pressure a ``STEP`` takes
    ``drain + rows + spikes + 3`` cycles from acceptance to ready, a ``SAMPLE``
    ``drain + rows + 3``.
    """

    def __init__(self, layer, *, lanes, acc_bits, drain=2):
        with validating(self):
            check_instance("layer", layer, Layer)
            self.layer = layer
            self.neurons = layer.neurons
            self.lanes = check_int("lanes", lanes, 1, min(256, layer.neurons))
            self.acc_bits = check_int("acc_bits", acc_bits, 2, 48)
            self.drain = check_int("drain", drain, 1, 16)
            self.rows = -(-self.neurons // self.lanes)
            self.event_layout = EventLayout(addr_bits_for(self.neurons))
        super().__init__({
            "control": In(stream.Signature(EventKind)),
            "sweep": Out(stream.Signature(range(self.rows), always_ready=True)),
            "currents": In(stream.Signature(NamedArrayLayout(signed(acc_bits), self.lanes,
                                                             prefix="lane"),
                                            always_ready=True)),
            "spikes": Out(stream.Signature(self.event_layout)),
            "error": Out(1),
        })

    # -- the neuron update of DESIGN.md §2 for one lane, as combinational logic -------------
    def _neuron(self, m, v, r, current, bias, p):
        layer = self.layer
        lo, hi = signed_range(layer.v_bits)
        width = max(layer.v_bits, self.acc_bits) + 3
        total = Signal(signed(width), name=f"total{p}")     # I = W s + b
        m.d.comb += total.eq(current + bias)
        if layer.leak == "shift":
            leaked = v - (v >> layer.k)
        elif layer.leak == "mul":
            leaked = (v * Const(layer.m, layer.f + 1)) >> layer.f
        else:
            leaked = v
        pre = Signal(signed(width + 1), name=f"pre{p}")
        if layer.timing == "immediate":
            m.d.comb += pre.eq(leaked + total)
        elif layer.reset == "subtract":
            m.d.comb += pre.eq(leaked + total - Mux(r, layer.theta, 0))
        else:
            m.d.comb += pre.eq(Mux(r, 0, leaked) + total)
        # The threshold test and the subtract reset work on the unsaturated sum, in parallel
        # with the clamp, so only one compare/subtract stage follows the adders: since
        # lo < theta < hi, sat(pre) > theta exactly when pre > theta, and
        # sat(pre) - theta = min(pre, hi) - theta when it fires.
        clamped = Signal(signed(layer.v_bits), name=f"sat{p}")
        m.d.comb += clamped.eq(Mux(pre > hi, hi, Mux(pre < lo, lo, pre)))
        fired = Signal(name=f"fired{p}")
        m.d.comb += fired.eq(pre > layer.theta)
        new_v = Signal(signed(layer.v_bits), name=f"new_v{p}")
        if layer.timing == "delayed":
            m.d.comb += new_v.eq(clamped)
        elif layer.reset == "subtract":
            reset_v = Signal(signed(width + 1), name=f"reset_v{p}")
            m.d.comb += reset_v.eq(pre - layer.theta)
            m.d.comb += new_v.eq(Mux(fired, Mux(pre > hi, hi - layer.theta, reset_v), clamped))
        else:
            m.d.comb += new_v.eq(Mux(fired, 0, clamped))
        return new_v, fired

    def elaborate(self, platform):
        m = Module()
        layer, lanes, rows = self.layer, self.lanes, self.rows
        v_layout = NamedArrayLayout(signed(layer.v_bits), lanes, prefix="lane")

        m.submodules.membranes = v_mem = Memory(shape=v_layout, depth=rows, init=[])
        v_write = v_mem.write_port()
        v_read = v_mem.read_port()
        delayed = layer.timing == "delayed"
        if delayed:
            m.submodules.refractory = r_mem = Memory(shape=lanes, depth=rows, init=[])
            r_write = r_mem.write_port()
            r_read = r_mem.read_port()
        has_bias = bool(layer.bias.any())
        if has_bias:
            padded = list(layer.bias) + [0] * (rows * lanes - self.neurons)
            bias_rows = [[int(b) for b in padded[r * lanes:(r + 1) * lanes]] for r in range(rows)]
            m.submodules.bias = b_mem = Memory(shape=v_layout, depth=rows, init=bias_rows)
            b_read = b_mem.read_port()

        # -- command and sweep control -------------------------------------------------------
        active = Signal()
        kind = Signal(EventKind)
        countdown = Signal(range(self.drain + 1))
        issue_row = Signal(range(rows + 2))        # rows = the marker pseudo-row
        issue_base = Signal(range((rows + 1) * lanes + 1))   # issue_row * lanes, kept by adding
        m.d.comb += self.control.ready.eq(~active)
        with m.If(self.control.valid & self.control.ready):
            with m.If(self.control.payload == EventKind.SPIKE):
                m.d.sync += self.error.eq(1)
            with m.Else():
                m.d.sync += [active.eq(1), kind.eq(self.control.payload),
                             countdown.eq(self.drain - 1), issue_row.eq(0), issue_base.eq(0)]
        with m.If(countdown != 0):
            m.d.sync += countdown.eq(countdown - 1)

        # -- compute stage (C): the row issued last cycle ----------------------------------
        c_valid = Signal()
        c_marker = Signal()
        c_row = Signal(range(rows))
        c_base = Signal.like(issue_base)
        c_mask = Signal(lanes)
        compute = c_valid & ~c_marker
        new_v = []
        fired = []
        last_row_lanes = self.neurons - (rows - 1) * lanes      # lanes of real neurons
        for p in range(lanes):
            r_bit = r_read.data[p] if delayed else Const(0)
            bias = b_read.data[p] if has_bias else Const(0, signed(2))
            v, s = self._neuron(m, v_read.data[p], r_bit, self.currents.payload[p], bias, p)
            in_range = 1 if p < last_row_lanes else (c_row != rows - 1)
            new_v.append(v)
            fired.append(s & in_range)
        clearing = kind == EventKind.SAMPLE
        m.d.comb += c_mask.eq(Mux(compute & ~clearing, Cat(*fired), 0))
        m.d.comb += [v_write.addr.eq(c_row), v_write.en.eq(compute)]
        for p in range(lanes):
            m.d.comb += v_write.data[p].eq(Mux(clearing, 0, new_v[p]))
        if delayed:
            m.d.comb += [r_write.addr.eq(c_row), r_write.en.eq(compute),
                         r_write.data.eq(c_mask)]

        # -- emitter (E): pushes the lowest pending spike, or the marker --------------------
        e_mask = Signal(lanes)
        e_base = Signal.like(issue_base)
        e_marker = Signal()
        lowest = _lowest_set(m, e_mask, lanes, "lowest")
        m.d.comb += self.spikes.valid.eq((e_mask != 0) | e_marker)
        with m.If(e_mask != 0):
            m.d.comb += [self.spikes.payload.kind.eq(EventKind.SPIKE),
                         self.spikes.payload.addr.eq(e_base + lowest)]
        with m.Else():
            m.d.comb += [self.spikes.payload.kind.eq(kind), self.spikes.payload.addr.eq(0)]
        push = self.spikes.valid & self.spikes.ready
        single = (e_mask & (e_mask - 1))[:lanes] == 0
        empty_after = ~self.spikes.valid | (push & (e_marker | single))
        c_quiet = ~c_valid | ((c_mask == 0) & ~c_marker)
        with m.If(push):
            with m.If(e_mask != 0):
                m.d.sync += e_mask.eq((e_mask & (e_mask - 1))[:lanes])
            with m.Else():
                m.d.sync += [e_marker.eq(0), active.eq(0)]
        with m.If(c_valid & ((c_mask != 0) | c_marker)):    # the issue rule keeps E free
            m.d.sync += [e_mask.eq(c_mask), e_marker.eq(c_marker), e_base.eq(c_base)]

        # -- issue stage (I) ------------------------------------------------------------------
        issue = Signal()
        m.d.comb += issue.eq(active & (countdown == 0) & (issue_row <= rows)
                             & empty_after & c_quiet)
        is_row = issue_row < rows
        row = Signal(range(rows))
        m.d.comb += row.eq(issue_row)
        m.d.comb += [
            self.sweep.valid.eq(issue & is_row),
            self.sweep.payload.eq(row),
            v_read.addr.eq(row),
        ]
        if delayed:
            m.d.comb += r_read.addr.eq(row)
        if has_bias:
            m.d.comb += b_read.addr.eq(row)
        m.d.sync += [c_valid.eq(issue), c_marker.eq(issue & ~is_row), c_row.eq(row),
                     c_base.eq(issue_base)]
        with m.If(issue):
            m.d.sync += [issue_row.eq(issue_row + 1), issue_base.eq(issue_base + lanes)]
        return m
