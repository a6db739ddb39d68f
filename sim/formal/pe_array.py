"""Formal proof of the PE array's accumulation (issue 12, item 2): no update is lost.

:class:`PEArrayProperties` wraps a :class:`~spikefab.hw.pe_array.PEArray` and tracks one
neuron, picked by ``AnyConst`` (PE ``p``, local index ``r``). A *shadow accumulator* in the
wrapper adds the weight of lane ``p`` of every word that addresses ``r`` and is cleared by
every sweep request for it. The PE array wraps its ``acc_bits`` two's-complement sum (no
saturation: docs/design.md §2 makes the accumulator wide enough that no overflow can happen, and
:func:`~spikefab.hw.pe_array.accumulator_bits` chooses that width), so the shadow is an
``acc_bits`` wrapping sum too.

What is proved, for every sequence of words and sweep requests (``words`` and ``sweep``
valid and payload free in every cycle; the neuron is arbitrary):

* **No update lost or counted twice, back to back included**: the sweep of the tracked
  neuron (read and clear) returns exactly the shadow, i.e. the sum of every weight aimed at
  it since the last sweep, however close together the words came (one per cycle to the same
  neuron is the read-modify-write hazard the memory's transparent read port forwards).
* **Sweep timing as documented**: ``currents.valid`` is high exactly the cycle after a
  request; a sweep from the cycle after a word already sees that word.
* **No error** while the contract below is kept (``error`` stays low).

Assumed: reset in the first cycle only; the docstring's contract: no sweep request in the
same cycle as a word, and a valid lane's index, a sweep's row and group are in range.

Covered: three back-to-back updates of the tracked neuron (forwarded twice) read by the
sweep in the very next cycle with a non-zero sum; a wrapped (overflowed) sum read back.

k-induction needs invariants on the inside (:func:`pe_array_internals`): the tracked
accumulator (a flip-flop ``acc{p}_{r}``, or row ``r`` of memory ``pe{p}`` read through an
observer port), plus the weight still in the PE's ``adding`` register if it is aimed at
``r``, equals the shadow; while the sweep's clear is pending, the accumulator equals the
value the sweep returns and the shadow is zero; an add and a clear are never pending
together. With them the flip-flop storage (``rows <= 2``) is 1-inductive and the memory
storage 2-inductive (its read port's data register is the previous cycle's read, with the
write of that cycle forwarded); ``mode prove`` runs with k = 2 for both.

The forwarding matters twice: an add reads the row the previous add writes, and a sweep
reads the row the previous add or sweep (clear) writes. Without the transparent read port
both lose an update (the tests check both ways: the mutant fails, and passes when every
access is followed by a free cycle).
"""

from pathlib import Path

from amaranth import Array, Elaboratable, Module, Mux, ResetSignal, Signal, signed
from amaranth.asserts import AnyConst, AnySeq, Initial
from amaranth.hdl import Assume, Cover, Fragment

from spikefab.hw.elaboration import mark_elaborated
from spikefab.hw.pe_array import PEArray
from spikefab.sim.formal.sby import PropertyChecker, run_sby, signals_by_name

__all__ = ["PEArrayProperties", "pe_array_internals", "prove_pe_array"]


def pe_array_internals(array, platform=None):
    """Elaborate ``array`` and return ``(fragment, internals)``.

    ``internals["stored"][p][r]`` is accumulator ``r`` of PE ``p`` (the ``acc{p}_{r}``
    register, or an asynchronous observer read port's data on memory ``pe{p}``);
    ``internals["adding"|"add_index"|"add_weight"][p]`` are PE ``p``'s add-stage registers
    and ``internals["sweeping"|"sweep_row"|"sweep_group"]`` the sweep registers. Use
    ``fragment`` as the submodule in place of ``array``.
    """
    mark_elaborated(array)
    module = array.elaborate(platform)
    lanes, rows = array.lanes, array.rows
    stored = []
    if array.storage == "memory":
        for p in range(lanes):
            try:
                memory = module.submodules[f"pe{p}"]
            except (AttributeError, KeyError, NameError):
                raise RuntimeError(f"PEArray no longer has a memory 'pe{p}'; update "
                                   f"spikefab.sim.formal") from None
            row_data = []
            for r in range(rows):
                port = memory.read_port(domain="comb")
                module.d.comb += port.addr.eq(r)
                row_data.append(port.data)
            stored.append(row_data)
    fragment = Fragment.get(module, platform)
    names = ["sweeping", "sweep_row", "sweep_group"]
    for p in range(lanes):
        names += [f"adding{p}", f"add_index{p}", f"add_weight{p}"]
    if array.storage == "registers":
        names += [f"acc{p}_{r}" for p in range(lanes) for r in range(rows)]
    found = signals_by_name(fragment, "PEArray", names)
    if array.storage == "registers":
        stored = [[found[f"acc{p}_{r}"] for r in range(rows)] for p in range(lanes)]
    internals = {"stored": stored}
    for name in ("adding", "add_index", "add_weight"):
        internals[name] = [found[f"{name}{p}"] for p in range(lanes)]
    for name in ("sweeping", "sweep_row", "sweep_group"):
        internals[name] = found[name]
    return fragment, internals


class PEArrayProperties(Elaboratable):
    """Formal wrapper of a :class:`PEArray` (properties in the module docstring).

    Parameters
    ----------
    lanes, rows, w_bits, acc_bits, sweep_lanes :
        As for :class:`PEArray`.
    array_class : type
        ``PEArray`` or a subclass (the tests use mutants).
    inductive : bool
        Also assert the invariant on the tracked accumulator (needed by ``mode prove``).
    """

    def __init__(self, lanes=2, rows=3, w_bits=3, acc_bits=4, sweep_lanes=None,
                 array_class=PEArray, *, inductive=True):
        self.array = array_class(lanes=lanes, rows=rows, w_bits=w_bits, acc_bits=acc_bits,
                                 sweep_lanes=sweep_lanes)
        self.inductive = inductive
        self.properties = {}

    def elaborate(self, platform):
        m = Module()
        array = self.array
        lanes, rows, groups, span = array.lanes, array.rows, array.groups, array.sweep_lanes
        acc_bits = array.acc_bits
        check = PropertyChecker()
        self.properties = check.properties
        if self.inductive:
            fragment, inside = pe_array_internals(array, platform)
            m.submodules.array = fragment
        else:
            m.submodules.array = array

        # --- environment: reset in the first cycle only; free words and sweeps (contract)
        m.d.comb += Assume(ResetSignal() == Initial())
        words, sweep = array.words, array.sweep
        m.d.comb += [words.valid.eq(AnySeq(1)),
                     words.payload.eq(AnySeq(len(words.payload.as_value()))),
                     sweep.valid.eq(AnySeq(1)),
                     sweep.payload.eq(AnySeq(len(sweep.payload.as_value())))]
        m.d.comb += Assume(~(words.valid & sweep.valid))
        with m.If(words.valid):
            for p in range(lanes):
                with m.If(words.payload.lanes[p].valid):
                    m.d.comb += Assume(words.payload.lanes[p].index < rows)
        with m.If(sweep.valid):
            m.d.comb += [Assume(sweep.payload.row < rows), Assume(sweep.payload.group < groups)]

        # --- the tracked neuron and its shadow accumulator
        t_lane = Signal(range(lanes))
        t_row = Signal(range(rows))
        m.d.comb += [t_lane.eq(AnyConst(len(t_lane))), t_row.eq(AnyConst(len(t_row))),
                     Assume(t_lane < lanes), Assume(t_row < rows)]
        # (Per-field arrays: an ArrayProxy's own ``index`` attribute hides a field of that name.)
        lane_valid, lane_index, lane_weight = (
            Array(getattr(words.payload.lanes[p], name) for p in range(lanes))[t_lane]
            for name in ("valid", "index", "weight"))
        hit = Signal()            # a word adds into the tracked neuron
        swept = Signal()          # a sweep reads and clears it
        m.d.comb += [hit.eq(words.valid & lane_valid & (lane_index == t_row)),
                     swept.eq(sweep.valid & (sweep.payload.row == t_row)
                              & (sweep.payload.group == t_lane // span))]
        shadow = Signal(signed(acc_bits))
        expect = Signal(signed(acc_bits))        # the shadow when the sweep was requested
        was_swept = Signal()
        was_sweep = Signal()
        m.d.sync += [was_swept.eq(swept), was_sweep.eq(sweep.valid)]
        with m.If(swept):
            m.d.sync += [shadow.eq(0), expect.eq(shadow)]
        with m.Elif(hit):
            m.d.sync += shadow.eq(shadow + lane_weight)      # wraps to acc_bits

        # --- (1) the sweep returns the sum of every update; (2) its timing; (3) no error
        current = Array(array.currents.payload[q] for q in range(span))[t_lane % span]
        m.d.comb += check(array.currents.valid == was_sweep,
                          "currents.valid is not 'a sweep was requested last cycle'")
        with m.If(was_swept):
            m.d.comb += check(current == expect, "sweep read is not the sum of the updates")
        m.d.comb += check(~array.error, "error raised while the contract is kept")

        # --- inductive strengthening: the tracked accumulator agrees with the shadow
        if self.inductive:
            stored = Array(Array(row) for row in inside["stored"])[t_lane][t_row]
            adding = Array(inside["adding"])[t_lane]
            add_index = Array(inside["add_index"])[t_lane]
            add_weight = Array(inside["add_weight"])[t_lane]
            pending = Signal(signed(acc_bits))
            m.d.comb += pending.eq(stored + Mux(adding & (add_index == t_row), add_weight, 0))
            clearing = (inside["sweeping"] & (inside["sweep_row"] == t_row)
                        & (inside["sweep_group"] == t_lane // span))
            m.d.comb += [check(inside["sweeping"] == was_sweep, "sweep register disagrees"),
                         check(clearing == was_swept, "tracked clear disagrees"),
                         check(~(inside["sweeping"] & adding),
                               "an add and a clear pending in the same PE")]
            with m.If(clearing):
                m.d.comb += [check(stored == expect, "stored value is not the swept sum"),
                             check(shadow == 0, "shadow not cleared with the sweep")]
            with m.Else():
                m.d.comb += check(pending == shadow,
                                  "stored value plus pending add is not the shadow")

        # --- (4) covers: back-to-back updates forwarded and read back; a wrapped sum
        hits_in_a_row = Signal(range(4))
        with m.If(hit):
            m.d.sync += hits_in_a_row.eq(Array([1, 2, 3, 3])[hits_in_a_row])
        with m.Elif(~swept):
            m.d.sync += hits_in_a_row.eq(0)
        streak = Signal(range(4))
        with m.If(swept):
            m.d.sync += streak.eq(hits_in_a_row)
        wrapped = Signal()
        m.d.comb += wrapped.eq(hit & (shadow > 0) & (lane_weight > 0)
                               & (shadow + lane_weight > (1 << (acc_bits - 1)) - 1))
        had_wrap = Signal()
        with m.If(wrapped):
            m.d.sync += had_wrap.eq(1)
        with m.If(swept):
            m.d.sync += had_wrap.eq(0)
        was_wrapped = Signal()
        m.d.sync += was_wrapped.eq(swept & had_wrap)
        m.d.comb += [
            Cover(was_swept & (streak == 3) & (current != 0),
                  "three back-to-back updates read by the next-cycle sweep"),
            Cover(was_wrapped & (current < 0), "a wrapped sum read back"),
        ]
        return m


def prove_pe_array(workdir, *, lanes=2, rows=3, w_bits=3, acc_bits=4, sweep_lanes=None,
                   induction=2, array_class=PEArray):
    """k-induction proof and cover run of the PE array; returns ``(prove, cover)``."""
    workdir = Path(workdir)
    params = dict(lanes=lanes, rows=rows, w_bits=w_bits, acc_bits=acc_bits,
                  sweep_lanes=sweep_lanes, array_class=array_class)
    prove = run_sby(PEArrayProperties(**params), workdir / "prove", mode="prove",
                    depth=induction)
    cover = run_sby(PEArrayProperties(**params), workdir / "cover", mode="cover", depth=8)
    return prove, cover
