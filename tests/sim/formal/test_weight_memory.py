"""SymbiYosys proofs of the weight memory (issue 12, item 2): the column stream of
:mod:`spikefab.sim.formal.weight_memory` (exactly the words of each request, one per cycle;
``columns.ready`` exactly as documented) closes by k-induction (k = rows + 1 = 4) for every
format on the 5 x 4 proof layer at 2 lanes, every cover is reached, and each of a few broken
weight memories (mutants, defined here) is caught."""

import pytest
from amaranth import Mux

from spikefab.hw.weight_memory import WeightMemory
from spikefab.sim.formal import (
    WeightMemoryProperties,
    prove_weight_memory,
    run_sby,
)

from .mutation import driven

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("solver")]


@pytest.mark.parametrize("fmt, covers", [("csc", 4), ("bitmap", 4), ("dense", 3)])
def test_weight_memory_proved_by_induction(tmp_path, fmt, covers):
    prove, cover = prove_weight_memory(tmp_path, fmt=fmt)
    assert prove.depth == 4
    assert prove.status == "PASS", prove.log
    assert prove.proved_by_induction, prove.log
    assert cover.status == "PASS", cover.log
    # dense has no empty column, so no placeholder word to cover
    assert cover.covers_reached == covers, cover.log


# --- mutants: each breaks one promise of the WeightMemory docstring ------------------------

class AlwaysReady(WeightMemory):
    """Accepts a column while the previous one still streams: the rest of it is lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        m.d.comb += self.columns.ready.eq(1)
        return m


class BubbleBetweenColumns(WeightMemory):
    """Ready only once the issue stage is idle: every column costs a cycle more (the
    docstring promises back to back, ready in the cycle that issues the last word)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        remaining, f_valid = driven(m, "remaining"), driven(m, "f_valid")
        m.d.comb += self.columns.ready.eq((remaining == 0) & ~f_valid)
        return m


class RepeatsFirstWord(WeightMemory):
    """The word address is not advanced after a column's first word: the first word is
    streamed twice and the second lost."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        f_valid, next_addr = driven(m, "f_valid"), driven(m, "next_addr")
        issue, issue_addr = driven(m, "issue"), driven(m, "issue_addr")
        with m.If(issue & f_valid):
            m.d.sync += next_addr.eq(issue_addr)
        return m


class DropsLastWord(WeightMemory):
    """``words.valid`` is low on the last word of a column of more than one word."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        o_valid, o_last, o_row = driven(m, "o_valid"), driven(m, "o_last"), driven(m, "o_row")
        m.d.comb += self.words.valid.eq(Mux(o_last & (o_row != 0), 0, o_valid))
        return m


@pytest.mark.parametrize("mutant, fmt, expected", [
    (AlwaysReady, "csc", "columns.ready is not 'no word due beyond next cycle'"),
    (BubbleBetweenColumns, "csc", "columns.ready is not 'no word due beyond next cycle'"),
    (RepeatsFirstWord, "csc", "lane index wrong"),
    (RepeatsFirstWord, "dense", "lane weight wrong"),
    (DropsLastWord, "bitmap", "words.valid is not 'a word is due'"),
])
def test_mutant_is_caught(tmp_path, mutant, fmt, expected):
    # Bounded, without the invariant on the memories, so the failure is an end-to-end one.
    design = WeightMemoryProperties(fmt=fmt, memory_class=mutant, inductive=False)
    result = run_sby(design, tmp_path, mode="bmc", depth=10)
    assert result.status == "FAIL", result.log
    assert expected in result.failed, (result.failed, result.log)
