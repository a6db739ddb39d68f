"""Formal proof of the weight memory's column stream (issue 12, item 2).

:class:`WeightMemoryProperties` wraps a :class:`~spikefab.hw.weight_memory.WeightMemory`
built from a small fixed layer (:func:`proof_layer`) and checks it against a model of its
docstring: a column ``j`` accepted in cycle ``s`` has its ``n_j = max(1, L_j)`` words on
``words`` in cycles ``s + 2 .. s + 1 + n_j``, one per cycle, and ``columns.ready`` rises in
the cycle that issues a column's last word.

The expected words come from the weight matrix alone (docs/design.md §3, as
``tests/hw/test_weight_memory.py`` derives them), not from the memory image: ``dense`` has
``rows`` words per column with every lane of a real neuron valid; ``csc`` and ``bitmap``
pack each lane's non-zeros in ascending local index, ``max_p nnz_p(j)`` words, and an empty
column is one word with no valid lane (``live = 0``).

What is proved, for every sequence of column requests (``columns.valid`` and
``columns.payload`` free in every cycle; the producer need not keep a request up):

* **Exactly the words of each request, one per cycle**: ``words.valid`` is high exactly in
  the cycles the model expects a word, and then ``last`` marks the ``n_j``-th word, ``live``
  is ``L_j != 0``, and every lane's ``valid`` is ``gate & expected`` with the expected
  ``index`` and ``weight`` when valid. No word is lost, duplicated, reordered or late.
* **Ready as documented**: ``columns.ready`` is high exactly when no accepted column has a
  word due two or more cycles ahead; so columns stream back to back, no request is accepted
  while it would overlap the previous one, and none is refused when it would not.
* **Stream rules on** ``words``: the port is ``always_ready`` (the consumer takes one word
  per cycle, as the docstring says), so there is no back-pressure to wait for: every word is
  taken in its cycle and the rules hold trivially; the property above is what "no word lost
  or duplicated" means for it.

Assumed: reset in the first cycle only, a requested column address is below ``fan_in``,
and no run-time ``load`` (``load.valid = 0``: loading is for while no column streams).

Covered: two columns back to back (a first word right after a last word), the longest
column, an empty column's placeholder word, a gated column's word.

k-induction starts from an arbitrary state, memory contents included, so the wrapper also
asserts that every row of the ``weights``, ``pointers`` and ``bitmaps`` memories still holds
the image's word (read through observer ports, :func:`weight_memory_internals`). With that
the properties are ``rows + 1``-inductive: every internal register is overwritten within a
few cycles of a request and any disagreement shows on ``words`` or ``columns.ready`` before
then. ``mode prove`` closes with k = ``rows + 1`` (4 for the 3-row proof layer).
"""

from pathlib import Path

import numpy as np
from amaranth import Array, Const, Elaboratable, Module, ResetSignal, Signal, signed
from amaranth.asserts import AnySeq, Initial
from amaranth.hdl import Assume, Cover, Fragment

from spikefab.hw.elaboration import mark_elaborated
from spikefab.hw.weight_memory import WeightMemory
from spikefab.model import Layer, compile_weights

from spikefab.sim.formal.sby import PropertyChecker, run_sby

__all__ = ["WeightMemoryProperties", "expected_column_words", "proof_layer",
           "prove_weight_memory", "weight_memory_internals"]


def proof_layer():
    """5 neurons x 4 inputs, ``w_bits = 3``. At 2 lanes (3 rows, the last with a padding
    lane) the ``csc``/``bitmap`` columns have ``L_j`` = 0 (empty: one placeholder word),
    3 (full), 2 (two non-zeros in lane 0, lane 1 idle) and 1 (neuron 4 alone, last row)
    words; ``dense`` has 3 words per column."""
    weights = np.array([[0, 1, 3, 0],
                        [0, -2, 0, 0],
                        [0, 3, -4, 0],
                        [0, -1, 0, 0],
                        [0, 2, 0, -3]])
    return Layer(weights, theta=1, w_bits=3, v_bits=4)


def expected_column_words(weights, lanes, fmt):
    """Per column: ``(live, words)``; each word a list of ``lanes`` entries, ``(index,
    weight)`` for a valid lane or ``None`` (from the matrix, docs/design.md §3)."""
    neurons, fan_in = weights.shape
    rows = -(-neurons // lanes)
    columns = []
    for j in range(fan_in):
        if fmt == "dense":
            columns.append((True, [[(r, int(weights[r * lanes + p, j]))
                                    if r * lanes + p < neurons else None
                                    for p in range(lanes)] for r in range(rows)]))
            continue
        per_lane = [[(r, int(weights[r * lanes + p, j])) for r in range(rows)
                     if r * lanes + p < neurons and weights[r * lanes + p, j] != 0]
                    for p in range(lanes)]
        length = max(len(entries) for entries in per_lane)
        if length == 0:
            columns.append((False, [[None] * lanes]))
        else:
            columns.append((True, [[per_lane[p][k] if k < len(per_lane[p]) else None
                                    for p in range(lanes)] for k in range(length)]))
    return columns


def weight_memory_internals(memory, platform=None):
    """Elaborate ``memory`` and return ``(fragment, peeks)``: ``peeks`` maps each of its
    memories (``weights``, ``pointers``, ``bitmaps``) to one asynchronous observer read port
    per row (address set). Use ``fragment`` as the submodule in place of ``memory``."""
    mark_elaborated(memory)
    module = memory.elaborate(platform)
    peeks = {}
    for name in ("weights", "pointers", "bitmaps"):
        try:
            storage = getattr(module.submodules, name)
        except AttributeError:
            if name == "weights" or name in memory.image.memories:
                raise RuntimeError(f"WeightMemory no longer has a {name!r} memory; update "
                                   f"spikefab.sim.formal") from None
            continue
        ports = []
        for address in range(storage.depth):
            port = storage.read_port(domain="comb")
            module.d.comb += port.addr.eq(address)
            ports.append(port)
        peeks[name] = ports
    return Fragment.get(module, platform), peeks


class WeightMemoryProperties(Elaboratable):
    """Formal wrapper of a :class:`WeightMemory` (properties in the module docstring).

    Parameters
    ----------
    layer : Layer
        The weights (default :func:`proof_layer`).
    lanes : int
        PEs of the memory word.
    fmt : str
        ``dense``, ``csc`` or ``bitmap``.
    memory_class : type
        ``WeightMemory`` or a subclass (the tests use mutants).
    inductive : bool
        Also assert that the memories still hold the image's words (observed through
        :func:`weight_memory_internals`), which k-induction needs: its first state is
        arbitrary, memory contents included. A ``mode bmc`` run does not need it.
    """

    def __init__(self, layer=None, lanes=2, fmt="csc", memory_class=WeightMemory, *,
                 inductive=True):
        self.inductive = inductive
        self.layer = proof_layer() if layer is None else layer
        self.lanes = lanes
        self.fmt = fmt
        self.memory = memory_class(compile_weights(self.layer, lanes, fmt))
        self.columns = expected_column_words(self.layer.weights, lanes, fmt)
        self.longest = max(len(words) for _live, words in self.columns)
        self.properties = {}

    def elaborate(self, platform):
        m = Module()
        memory, lanes = self.memory, self.lanes
        check = PropertyChecker()
        self.properties = check.properties
        if self.inductive:
            fragment, peeks = weight_memory_internals(memory, platform)
            m.submodules.memory = fragment
        else:
            m.submodules.memory = memory
        fan_in, longest = len(self.columns), self.longest

        # --- environment: reset in the first cycle only; free requests; no run-time load
        m.d.comb += Assume(ResetSignal() == Initial())
        request = memory.columns
        m.d.comb += [request.valid.eq(AnySeq(1)),
                     request.payload.eq(AnySeq(len(request.payload.as_value()))),
                     memory.load.valid.eq(0), memory.load.payload.eq(0)]
        with m.If(request.valid):
            m.d.comb += Assume(request.payload.addr < fan_in)
        accept = request.valid & request.ready

        # --- the expected words, as constant tables indexed by column * longest + word
        words_of = Array(Const(len(words), range(longest + 1)) for _live, words in self.columns)
        live_of = Array(Const(int(live), 1) for live, _words in self.columns)
        table = [[(words[k][p] if k < len(words) else None) for _live, words in self.columns
                  for k in range(longest)] for p in range(lanes)]
        w_bits = self.layer.w_bits
        exp_valid = [Array(Const(slot is not None, 1) for slot in table[p]) for p in range(lanes)]
        exp_index = [Array(Const(slot[0] if slot else 0, range(max(2, memory.rows)))
                           for slot in table[p]) for p in range(lanes)]
        exp_weight = [Array(Const(slot[1] if slot else 0, signed(w_bits)) for slot in table[p])
                      for p in range(lanes)]

        # --- the model: the request accepted last cycle (f_*) and the column on ``words``
        f_valid = Signal()
        f_col = Signal(range(fan_in))
        f_gate = Signal()
        m.d.sync += [f_valid.eq(accept), f_col.eq(request.payload.addr),
                     f_gate.eq(request.payload.gate)]
        active = Signal()             # a word is due in this cycle
        col = Signal(range(fan_in))
        gate = Signal()
        k = Signal(range(longest + 1))   # its number within the column
        n_cur = Signal(range(longest + 1))
        n_f = Signal(range(longest + 1))
        m.d.comb += [n_cur.eq(words_of[col]), n_f.eq(words_of[f_col])]
        with m.If(f_valid):
            m.d.sync += [active.eq(1), col.eq(f_col), gate.eq(f_gate), k.eq(0)]
        with m.Elif(active):
            m.d.sync += [k.eq(k + 1), active.eq(k + 1 < n_cur)]

        # --- (1) the words, one per cycle, exactly as expected
        out = memory.words
        entry = Signal(range(fan_in * longest))
        m.d.comb += entry.eq(col * longest + k)
        m.d.comb += check(out.valid == active, "words.valid is not 'a word is due'")
        with m.If(active):
            m.d.comb += [
                check(out.payload.last == (k + 1 == n_cur), "last is not on the n_j-th word"),
                check(out.payload.live == live_of[col], "live is not 'column not empty'"),
            ]
            for p in range(lanes):
                lane = out.payload.lanes[p]
                m.d.comb += check(lane.valid == (gate & exp_valid[p][entry]),
                                  "lane valid is not gate & expected")
                with m.If(gate & exp_valid[p][entry]):
                    m.d.comb += [
                        check(lane.index == exp_index[p][entry], "lane index wrong"),
                        check(lane.weight == exp_weight[p][entry], "lane weight wrong"),
                    ]

        # --- (2) ready exactly when no accepted column has a word due two cycles ahead
        far = (active & (k + 3 <= n_cur)) | (f_valid & (n_f >= 2))
        m.d.comb += check(request.ready == ~far, "columns.ready is not 'no word due beyond "
                                                 "next cycle'")

        # --- inductive strengthening: the memories hold the image (no write is enabled)
        if self.inductive:
            image = memory.image
            for name, ports in peeks.items():
                words = image.memories[name].words
                for address, port in enumerate(ports):
                    m.d.comb += check(port.data == (words[address] if address < len(words)
                                                    else 0), "a memory row is not the image's")

        # --- (3) covers
        m.d.comb += [
            Cover(active & out.payload.last & f_valid, "two columns back to back"),
            Cover(active & (n_cur == longest) & out.payload.last & gate,
                  "longest column streamed"),
            Cover(active & ~gate & out.payload.live, "gated column's word"),
        ]
        if any(not live for live, _words in self.columns):       # dense has none
            m.d.comb += Cover(active & ~out.payload.live, "empty column's placeholder word")
        return m


def prove_weight_memory(workdir, *, fmt="csc", lanes=2, layer=None, induction=None,
                        memory_class=WeightMemory):
    """k-induction proof and cover run of the weight memory; returns ``(prove, cover)``."""
    workdir = Path(workdir)
    wrapper = WeightMemoryProperties(layer, lanes, fmt, memory_class)
    induction = induction or wrapper.memory.rows + 1
    prove = run_sby(wrapper, workdir / "prove", mode="prove", depth=induction)
    cover = run_sby(WeightMemoryProperties(layer, lanes, fmt, memory_class),
                    workdir / "cover", mode="cover", depth=3 * wrapper.longest + 4)
    return prove, cover
