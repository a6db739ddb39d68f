"""Pareto sets (spikefab.dse.pareto) against a hand table, a 2-D sweep-line reference and
the definition of non-dominated sorting."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.dse.pareto import pareto_front, pareto_ranks

ACC_US = {"acc": "max", "us": "min"}


def test_hand_table():
    rows = [{"acc": 0.95, "us": 900}, {"acc": 0.95, "us": 400}, {"acc": 0.90, "us": 300},
            {"acc": 0.90, "us": 300}, {"acc": 0.80, "us": 350}, {"acc": 0.50, "us": 100},
            {"acc": None, "us": 1}, {"acc": 0.99, "us": math.nan}]
    # 0 is dominated by 1; 2 and 3 tie (neither dominates the other); 4 by 2; 6, 7 unusable.
    assert pareto_front(rows, ACC_US) == [1, 2, 3, 5]
    assert pareto_ranks(rows, ACC_US) == [2, 1, 1, 1, 2, 1, None, None]


def sweep_line_front(rows):
    """2-D reference: sort by accuracy (best first) then µs; a row is on the front when its µs
    is below every µs of a strictly more accurate row, and no equally accurate row is faster."""
    usable = [(i, r["acc"], r["us"]) for i, r in enumerate(rows)]
    front = []
    best_us_above = math.inf
    for acc in sorted({a for _, a, _ in usable}, reverse=True):
        level = [(i, us) for i, a, us in usable if a == acc]
        fastest = min(us for _, us in level)
        if fastest < best_us_above:
            front += [i for i, us in level if us == fastest]
        best_us_above = min(best_us_above, fastest)
    return sorted(front)


rows_strategy = st.lists(st.fixed_dictionaries({"acc": st.integers(0, 6),
                                                "us": st.integers(0, 6)}), max_size=30)


@settings(max_examples=200, deadline=None)
@given(rows_strategy)
def test_front_equals_sweep_line(rows):
    assert pareto_front(rows, ACC_US) == sweep_line_front(rows)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(0, 4)),
                max_size=25))
def test_ranks_peel_fronts(triples):
    rows = [{"a": a, "b": b, "c": c} for a, b, c in triples]
    objectives = {"a": "max", "b": "min", "c": "min"}
    ranks = pareto_ranks(rows, objectives)
    remaining = list(range(len(rows)))
    rank = 0
    while remaining:
        rank += 1
        sub = [rows[i] for i in remaining]
        front = [remaining[k] for k in pareto_front(sub, objectives)]
        assert sorted(i for i in remaining if ranks[i] == rank) == front
        remaining = [i for i in remaining if i not in front]


@pytest.mark.parametrize("objectives, error", [
    ({}, TypeError), ({"acc": "up"}, ValueError), ([("acc", "max")], TypeError)])
def test_bad_objectives(objectives, error):
    with pytest.raises(error, match="objectives"):
        pareto_front([{"acc": 1}], objectives)
