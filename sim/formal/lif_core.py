"""Formal proof of the LIF core's spike emitter (issue 12, item 2): no spike lost.

:class:`LIFCoreProperties` wraps a :class:`~spikefab.hw.lif_core.LIFCore` with free input
currents (so any neuron may fire in any step), free commands and arbitrary back-pressure on
``spikes``. The *decided* events are the neuron update's output: in the cycle a chunk leaves
the second compute stage, its spike mask (``c_mask``: lane ``b`` is neuron ``c_base + b``)
gives its spikes in ascending lane order, and the marker pseudo-chunk gives the command's
``STEP``/``SAMPLE``. The wrapper numbers decided and emitted events with modular counters
and tracks the event numbered ``k`` (``AnyConst``), as the event queue's proof does.

What is proved, for every input sequence (``control``, ``currents`` and ``spikes.ready``
free in every cycle):

* **Every decided event is emitted exactly once, in order** (tracked token): when emitted
  event number ``k`` is pushed, decided event number ``k`` exists and ``spikes.payload``
  equals it (kind and address). Since ``k`` is arbitrary, no event is lost, duplicated or
  reordered. When the core reports ``idle``, as many events have been emitted as decided.
* **Stream rules on** ``spikes``: once ``spikes.valid`` is high while ``spikes.ready`` is
  low, next cycle ``spikes.valid`` is still high and ``spikes.payload`` unchanged.
* **Only real neurons**: a pushed ``SPIKE`` names a neuron below ``N`` (never a padding lane
  of the last chunk).
* **The right neurons, ascending**: a decided chunk is the one whose currents the core swept
  two cycles before (its base is ``(row * groups + group) * S`` of that sweep request), and
  within one command the decided chunks come in ascending order. With the token property,
  the ``SPIKE`` events of a step leave in ascending address order, as documented.

Assumed: reset in the first cycle only; ``control.payload`` is an ``EventKind`` (``SPIKE``
too: it is refused with ``error``). ``control``'s producer need not keep a command up.

Covered: the emitter queue full; a chunk with two spikes emitted after back-pressure; the
tracked event emitted after waiting; a ``SAMPLE`` marker emitted.

k-induction needs invariants on the inside (read through :func:`lif_core_internals`): the
emitter queue never overflows (``level`` plus the two compute stages ``<= emit_depth``),
an entry holds a spike mask (non-zero, kind ``SPIKE``) or a marker (mask zero, kind ``STEP``
or ``SAMPLE``), its spikes are real neurons, ``decided - emitted`` is the number of events
the entries hold, and the tracked event, while pending, sits at its place in the queue; the second stage's
registered flags (``c_live``, ``c_marker_valid``) agree with its state; each
stage's base is its chunk times ``S``, the sweep request is the issued chunk, the chunks in
flight of one command ascend, and a command's marker follows its chunks. With them the
properties are 1-inductive (``mode prove`` closes with k = 1).

Not proved here: the neuron arithmetic itself (leak, threshold, reset, saturation), which
the simulation tests check against the golden model bit for bit; the currents are free.
"""

from pathlib import Path

from amaranth import Const, Elaboratable, Module, Mux, ResetSignal, Signal
from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import Assume, Cover, Fragment
from amaranth.lib import data

import numpy as np

from spikefab.hw.elaboration import mark_elaborated
from spikefab.hw.events import EventKind
from spikefab.hw.lif_core import LIFCore
from spikefab.model import Layer
from spikefab.sim.formal.sby import PropertyChecker, run_sby, signals_by_name

__all__ = ["LIFCoreProperties", "lif_core_internals", "proof_layer", "prove_lif_core"]


def proof_layer(neurons=3):
    """``neurons`` integrate-and-fire neurons, ``v_bits = 4``, ``theta = 2``, subtract reset
    (the weights are unused: the currents are free)."""
    return Layer(np.zeros((neurons, 1), dtype=int), theta=2, w_bits=2, v_bits=4)


def _popcount(bits, width):
    return sum((bits[b] for b in range(width)), Const(0, range(width + 1)))


def lif_core_internals(core, platform=None):
    """Elaborate ``core`` and return ``(fragment, internals)``: its decision stage
    (``c_valid``, ``c_marker``, ``c_mask``, ``c_base``, ``c_kind``), its emitter queue
    (``entries``, views of ``{mask, base, kind}``, and ``level``) and the first stage's
    ``c1_valid``, ``c1_marker`` and ``c1_kind``, and its flags ``c_live`` and
    ``c_marker_valid``. Use ``fragment`` in place of ``core``."""
    mark_elaborated(core)
    module = core.elaborate(platform)
    fragment = Fragment.get(module, platform)
    names = ["c_valid", "c_marker", "c_mask", "c_base", "c_kind", "c_chunk", "c1_valid",
             "c1_marker", "c1_kind", "c1_chunk", "c1_base", "issue_chunk", "issue_base",
             "issue_row", "issue_group", "level", "active", "kind", "c_live",
             "c_marker_valid"]
    names += [f"entry{e}" for e in range(core.emit_depth)]
    found = signals_by_name(fragment, "LIFCore", names)
    layout = data.StructLayout({"mask": core.sweep_lanes, "base": len(found["c_base"]),
                                "kind": EventKind})
    if sum(len(found[f"entry{e}"]) for e in range(core.emit_depth)) != \
            layout.size * core.emit_depth:
        raise RuntimeError("LIFCore's emitter entries changed layout; update "
                           "spikefab.sim.formal")
    internals = {name: found[name] for name in names if not name.startswith("entry")}
    internals["entries"] = [data.View(layout, found[f"entry{e}"])
                            for e in range(core.emit_depth)]
    return fragment, internals


class LIFCoreProperties(Elaboratable):
    """Formal wrapper of a :class:`LIFCore` (properties in the module docstring).

    Parameters
    ----------
    layer : Layer
        Neuron parameters and size (default :func:`proof_layer`).
    lanes, sweep_lanes, emit_depth, acc_bits, drain :
        As for :class:`LIFCore`.
    core_class : type
        ``LIFCore`` or a subclass (the tests use mutants).
    inductive : bool
        Also assert the invariants on the inside (needed by ``mode prove``).
    """

    def __init__(self, layer=None, *, lanes=2, sweep_lanes=None, emit_depth=2, acc_bits=4,
                 drain=1, core_class=LIFCore, inductive=True):
        self.layer = proof_layer() if layer is None else layer
        self.core = core_class(self.layer, lanes=lanes, acc_bits=acc_bits, drain=drain,
                               sweep_lanes=sweep_lanes, emit_depth=emit_depth)
        self.inductive = inductive
        self.properties = {}

    def elaborate(self, platform):
        m = Module()
        core = self.core
        span, depth, neurons = core.sweep_lanes, core.emit_depth, core.neurons
        check = PropertyChecker()
        self.properties = check.properties
        # The decision stage is observed in every mode: it defines the decided events.
        fragment, inside = lif_core_internals(core, platform)
        m.submodules.core = fragment

        # --- environment: reset in the first cycle only; free commands, currents, ready
        m.d.comb += Assume(ResetSignal() == Initial())
        m.d.comb += [core.control.valid.eq(AnySeq(1)),
                     core.control.payload.eq(AnySeq(2)),
                     core.currents.valid.eq(AnySeq(1)),
                     core.currents.payload.eq(AnySeq(len(core.currents.payload.as_value()))),
                     core.spikes.ready.eq(AnySeq(1))]
        m.d.comb += Assume(core.control.payload.as_value() <= 2)
        out = core.spikes
        push = out.valid & out.ready

        # --- the decided events of this cycle: c_mask's set lanes ascending, or the marker
        c_valid, c_marker, c_mask = inside["c_valid"], inside["c_marker"], inside["c_mask"]
        c_base, c_kind = inside["c_base"], inside["c_kind"]
        marker_now = c_valid & c_marker
        decided_now = Signal(range(span + 2))
        m.d.comb += decided_now.eq(Mux(marker_now, 1, _popcount(c_mask, span)))
        count_bits = (depth * span + 2).bit_length() + 1
        decided = Signal(count_bits)
        emitted = Signal(count_bits)
        m.d.sync += decided.eq(decided + decided_now)
        with m.If(push):
            m.d.sync += emitted.eq(emitted + 1)

        # --- (1) tracked token
        token_index = AnyConst(count_bits)
        offset = Signal(count_bits)          # its place among this cycle's decided events
        m.d.comb += offset.eq(token_index - decided)
        token_in = Signal()                  # decided, not yet emitted
        token_kind = Signal(2)
        token_addr = Signal(len(out.payload.addr))
        token_waited = Signal()              # it was held back by spikes.ready at least once
        token_out = Signal()
        with m.If(offset < decided_now):
            m.d.sync += [token_in.eq(1), token_waited.eq(0)]
            with m.If(marker_now):
                m.d.sync += [token_kind.eq(c_kind), token_addr.eq(0)]
            for b in range(span):
                with m.If(c_mask[b] & (_popcount(c_mask[:b], b) == offset) & ~marker_now):
                    m.d.sync += [token_kind.eq(EventKind.SPIKE), token_addr.eq(c_base + b)]
        m.d.comb += token_out.eq(0)
        with m.If(push & (emitted == token_index)):
            m.d.comb += [check(token_in, "event k emitted before it was decided"),
                         check((out.payload.kind.as_value() == token_kind)
                               & (out.payload.addr == token_addr),
                               "event k emitted as another event"),
                         token_out.eq(1)]
            m.d.sync += token_in.eq(0)
        with m.If(token_in & out.valid & ~out.ready):
            m.d.sync += token_waited.eq(1)
        with m.If(core.idle):
            m.d.comb += check(decided == emitted, "idle with decided events not emitted")

        # --- (2) stream rules on spikes
        waiting = Signal()
        held = Signal(len(out.payload.as_value()))
        m.d.sync += [waiting.eq(out.valid & ~out.ready), held.eq(out.payload)]
        with m.If(waiting):
            m.d.comb += [check(out.valid, "spikes.valid withdrawn before spikes.ready"),
                         check(out.payload.as_value() == held,
                               "spikes.payload changed before spikes.ready")]

        # --- (3) only real neurons
        with m.If(out.valid & (out.payload.kind == EventKind.SPIKE)):
            m.d.comb += check(out.payload.addr < neurons, "spike of a padding lane")

        # --- (4) ascending addresses: within one command the decided chunks come in
        # ascending order (and a chunk's spikes are numbered by ascending lane above)
        spiked = Signal()                    # a spike was decided since the last marker
        last_base = Signal.like(c_base)      # the chunk of the last decided spikes
        with m.If(marker_now):
            m.d.sync += spiked.eq(0)
        with m.Elif(c_valid & (c_mask != 0)):
            m.d.sync += [spiked.eq(1), last_base.eq(c_base)]
            with m.If(spiked):
                m.d.comb += check(c_base > last_base, "spikes of a command not ascending")

        # --- (5) a decided chunk is the one whose currents were swept two cycles before
        groups = core.groups
        sweep_valid = [Signal(name=f"swept_valid{d}") for d in (1, 2)]
        sweep_chunk = [Signal(range(core.rows * groups), name=f"swept_chunk{d}") for d in (1, 2)]
        m.d.sync += [sweep_valid[0].eq(core.sweep.valid), sweep_valid[1].eq(sweep_valid[0]),
                     sweep_chunk[0].eq(core.sweep.payload.row * groups
                                       + core.sweep.payload.group),
                     sweep_chunk[1].eq(sweep_chunk[0])]
        with m.If(c_valid & ~c_marker):
            m.d.comb += check(sweep_valid[1] & (c_base == sweep_chunk[1] * span),
                              "decided chunk is not the swept one")

        # --- inductive strengthening
        if self.inductive:
            entries, level = inside["entries"], inside["level"]

            def is_kind(value):
                return (value == EventKind.STEP) | (value == EventKind.SAMPLE)
            m.d.comb += [
                check(level + inside["c1_valid"] + c_valid <= depth, "emitter queue overflow"),
                check(~inside["active"] | is_kind(inside["kind"]), "command kind not a marker"),
            ]
            with m.If(inside["c1_valid"] & inside["c1_marker"]):
                m.d.comb += check(is_kind(inside["c1_kind"]), "C1 marker kind")
            # the second stage's registered flags agree with its state
            m.d.comb += [check(inside["c_live"] == (c_valid & ~c_marker
                                                    & (c_kind != EventKind.SAMPLE)),
                               "C2 live flag"),
                         check(inside["c_marker_valid"] == (c_valid & c_marker),
                               "C2 marker flag")]
            with m.If(marker_now):
                m.d.comb += [check(is_kind(c_kind), "C2 marker kind"),
                             check(c_mask == 0, "marker with spikes")]
            # chunk numbers and their first neuron agree in every stage
            chunks = core.chunks
            m.d.comb += check(inside["issue_base"] == inside["issue_chunk"] * span,
                              "issue base is not chunk * S")
            with m.If(inside["active"]):
                m.d.comb += check(inside["issue_chunk"] <= chunks, "issue chunk out of range")
            with m.If(inside["c1_valid"] & ~inside["c1_marker"]):
                m.d.comb += check((inside["c1_base"] == inside["c1_chunk"] * span)
                                  & (inside["c1_chunk"] < chunks), "C1 base is not chunk * S")
            with m.If(c_valid & ~c_marker):
                m.d.comb += check((c_base == inside["c_chunk"] * span)
                                  & (inside["c_chunk"] < chunks), "C2 base is not chunk * S")
                for b in range(span):
                    with m.If(c_mask[b]):
                        m.d.comb += check(c_base + b < neurons, "decided spike out of range")
            # chunks in flight are ordered: each stage's chunk is above every older one of the
            # same command (no marker between them)
            issuing = inside["active"] & (inside["issue_chunk"] < core.chunks)
            stages = [  # (holds a chunk, is a marker, its base), oldest first
                (spiked, Const(0), last_base),
                (c_valid & ~c_marker, marker_now, c_base),
                (inside["c1_valid"] & ~inside["c1_marker"],
                 inside["c1_valid"] & inside["c1_marker"], inside["c1_base"]),
                (issuing, Const(0), inside["issue_base"]),
            ]
            # the sweep requests agree with the chunks issued
            if groups > 1:
                issue_index = inside["issue_row"] * groups + inside["issue_group"]
            else:
                issue_index = inside["issue_row"]
            with m.If(issuing):
                m.d.comb += check(issue_index == inside["issue_chunk"],
                                  "sweep request is not the issued chunk")
            with m.If(inside["c1_valid"] & ~inside["c1_marker"]):
                m.d.comb += check(sweep_valid[0] & (inside["c1_base"] == sweep_chunk[0] * span),
                                  "C1 chunk is not the swept one")
            # and a command's marker follows its chunks: it is issued after them, while the
            # core is still active
            c1_marker_now = inside["c1_valid"] & inside["c1_marker"]
            with m.If(inside["c1_valid"] & ~inside["c1_marker"]):
                m.d.comb += check(inside["active"], "C1 chunk without its command")
            with m.If(c_valid & ~c_marker):
                m.d.comb += check(inside["active"] | c1_marker_now, "C2 chunk without its marker")
            with m.If(spiked):
                m.d.comb += check(inside["active"] | c1_marker_now | marker_now,
                                  "decided spikes without their marker")
            for older in range(len(stages)):
                for newer in range(older + 1, len(stages)):
                    between = [stages[x][1] for x in range(older + 1, newer)]
                    no_marker = ~sum(between, Const(0, 1)).bool() if between else Const(1)
                    with m.If(stages[older][0] & stages[newer][0] & no_marker):
                        m.d.comb += check(stages[newer][2] > stages[older][2],
                                          "chunks in flight not ascending")
            held_events = Const(0, count_bits)
            ahead = Signal(count_bits)           # events to be emitted before the tracked one
            m.d.comb += ahead.eq(token_index - emitted)
            for e, entry in enumerate(entries):
                present = level > e
                spikes_here = entry.mask != 0
                with m.If(present):
                    m.d.comb += check(spikes_here == (entry.kind == EventKind.SPIKE),
                                      "entry is neither a spike mask nor a marker")
                    with m.If(~spikes_here):
                        m.d.comb += check(is_kind(entry.kind), "entry marker kind")
                    for b in range(span):
                        place = held_events + _popcount(entry.mask[:b], b)
                        with m.If(entry.mask[b]):
                            m.d.comb += check(entry.base + b < neurons,
                                              "queued spike out of range")
                            with m.If(token_in & (place[:count_bits] == ahead)):
                                m.d.comb += [
                                    check(token_kind == EventKind.SPIKE, "tracked kind moved"),
                                    check(token_addr == entry.base + b,
                                          "tracked spike not at its place in the queue")]
                    with m.If(~spikes_here & token_in & (held_events == ahead)):
                        m.d.comb += [check(token_kind == entry.kind.as_value(),
                                           "tracked marker not at its place in the queue"),
                                     check(token_addr == 0, "tracked marker address")]
                count = Mux(present, Mux(spikes_here, _popcount(entry.mask, span), 1), 0)
                held_events = (held_events + count)[:count_bits]
            m.d.comb += [check((decided - emitted)[:count_bits] == held_events,
                               "decided - emitted is not the events held"),
                         check(token_in == (ahead < held_events),
                               "tracked flag disagrees with the counters")]

        # --- (6) covers
        m.d.comb += [
            Cover(inside["level"] == depth, "emitter queue full"),
            Cover(token_out & token_waited & (token_kind == EventKind.SPIKE)
                  & (token_addr == neurons - 1), "tracked spike emitted after waiting"),
            Cover(push & (out.payload.kind == EventKind.SAMPLE), "SAMPLE marker emitted"),
        ]
        if span > 1:
            m.d.comb += Cover(push & waiting & (inside["entries"][0].mask == (1 << span) - 1),
                              "a chunk with every lane firing emitted after back-pressure")
        return m


def prove_lif_core(workdir, *, layer=None, lanes=2, sweep_lanes=None, emit_depth=2,
                   induction=2, core_class=LIFCore):
    """k-induction proof and cover run of the LIF core's emitter; returns ``(prove, cover)``."""
    workdir = Path(workdir)
    params = dict(lanes=lanes, sweep_lanes=sweep_lanes, emit_depth=emit_depth,
                  core_class=core_class)
    prove = run_sby(LIFCoreProperties(layer, **params), workdir / "prove", mode="prove",
                    depth=induction)
    cover = run_sby(LIFCoreProperties(layer, **params), workdir / "cover", mode="cover",
                    depth=12)
    return prove, cover
