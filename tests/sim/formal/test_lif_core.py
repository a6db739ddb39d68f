"""SymbiYosys proofs of the LIF core's spike emitter (issue 12, item 2): under arbitrary
back-pressure every spike and marker the neuron update decides is emitted exactly once, in
order, with the stream rules on ``spikes``, each spike naming the swept neuron, in ascending
address order (:mod:`spikefab.sim.formal.lif_core`). It
closes by k-induction (1-inductive) for N = 3, P = S = 2, emit_depth = 2 and for N = 4,
P = 2, S = 1, emit_depth = 3 (delayed reset timing); every cover is reached; each of a few
broken emitters (mutants, defined here) is caught."""

import numpy as np
import pytest
from amaranth import Mux

from spikefab.hw.lif_core import LIFCore
from spikefab.model import Layer
from spikefab.sim.formal import (
    LIFCoreProperties,
    prove_lif_core,
    run_sby,
)

from .mutation import driven

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("solver")]


def test_lif_core_proved_by_induction(tmp_path):
    prove, cover = prove_lif_core(tmp_path, lanes=2, emit_depth=2, induction=1)
    assert prove.status == "PASS", prove.log
    assert prove.proved_by_induction, prove.log
    assert cover.status == "PASS", cover.log
    assert cover.covers_reached == 4, cover.log


def test_lif_core_one_lane_per_cycle_proved_by_induction(tmp_path):
    layer = Layer(np.zeros((4, 1), dtype=int), theta=3, w_bits=2, v_bits=4, reset="zero",
                  timing="delayed")
    prove, cover = prove_lif_core(tmp_path, layer=layer, lanes=2, sweep_lanes=1,
                                  emit_depth=3, induction=1)
    assert prove.status == "PASS", prove.log
    assert prove.proved_by_induction, prove.log
    assert cover.status == "PASS", cover.log
    assert cover.covers_reached == 3, cover.log      # no two-lane chunk at S = 1


# --- mutants: each breaks a promise of the LIFCore docstring ------------------------------

class DropsChunkWhenFull(LIFCore):
    """Issues a chunk when the emitter queue has no room left for it (``<=`` for ``<``):
    its spikes are written past the last entry and lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        active, countdown = driven(m, "active"), driven(m, "countdown")
        issue_chunk, level = driven(m, "issue_chunk"), driven(m, "level")
        write, c1_valid = driven(m, "write"), driven(m, "c1_valid")
        m.d.comb += driven(m, "issue").eq(active & (countdown == 0)
                                          & (issue_chunk <= self.chunks)
                                          & (level + write + c1_valid <= self.emit_depth))
        return m


class DropsRestOfChunk(LIFCore):
    """Pops the head entry on every push: a chunk's second spike is lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += driven(m, "pops").eq(self.spikes.valid)       # on a push
        return m


class EmitsHighestLaneFirst(LIFCore):
    """Pushes a chunk's highest firing lane first but still clears the lowest: a spike is
    emitted twice and another never."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        head = driven(m, "entry0")
        lowest = driven(m, "lowest")
        mask = head[:self.sweep_lanes]
        m.d.comb += lowest.eq(Mux(mask[1], 1, 0))
        return m


class PayloadChangesUnderStall(LIFCore):
    """While the consumer stalls, shows the address of the chunk being queued."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        write, c_base = driven(m, "write"), driven(m, "c_base")
        with m.If(~self.spikes.ready & write):
            m.d.comb += self.spikes.payload.addr.eq(c_base)
        return m


class IdleBeforeEmitted(LIFCore):
    """Reports ``idle`` once the sweep is done, with spikes still in the emitter queue."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        active, c1_valid, c_valid = (driven(m, name) for name in ("active", "c1_valid",
                                                                  "c_valid"))
        m.d.comb += self.idle.eq(~active & ~c1_valid & ~c_valid)
        return m


class NamesTheNextChunk(LIFCore):
    """Gives a chunk's spikes the addresses of the next chunk (base one chunk too high)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.sync += driven(m, "c_base").eq(driven(m, "c1_base") + self.sweep_lanes)
        return m


class SweepsDownward(LIFCore):
    """Visits the chunks from the last to the first, consistently (sweep request, chunk and
    base), so the spikes of a step come in descending address order."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        issue_row, issue_base = driven(m, "issue_row"), driven(m, "issue_base")
        chunk = driven(m, "chunk")
        last = self.chunks - 1
        m.d.comb += self.sweep.payload.row.eq(self.rows - 1 - issue_row)
        m.d.sync += [driven(m, "c1_chunk").eq(last - chunk),
                     driven(m, "c1_base").eq(last * self.sweep_lanes - issue_base)]
        return m


@pytest.mark.parametrize("mutant, expected", [
    (NamesTheNextChunk, "decided chunk is not the swept one"),
    (SweepsDownward, "spikes of a command not ascending"),
    (DropsChunkWhenFull, "event k emitted as another event"),
    (DropsRestOfChunk, "event k emitted as another event"),
    (EmitsHighestLaneFirst, "event k emitted as another event"),
    (PayloadChangesUnderStall, "spikes.payload changed before spikes.ready"),
    (IdleBeforeEmitted, "idle with decided events not emitted"),
])
def test_mutant_is_caught(tmp_path, mutant, expected):
    # Bounded, without the invariants on the inside, so the failure is an end-to-end one.
    design = LIFCoreProperties(lanes=2, emit_depth=2, core_class=mutant, inductive=False)
    result = run_sby(design, tmp_path, mode="bmc", depth=12)
    assert result.status == "FAIL", result.log
    assert expected in result.failed, (result.failed, result.log)
