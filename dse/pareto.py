"""Pareto sets of design points: who is not dominated, and by how many ranks.

A row is a mapping of objective names to numbers; ``objectives`` says for each name whether
more (``"max"``, e.g. accuracy) or less (``"min"``, e.g. µs per image, LUTs, energy) is
better. Row ``a`` **dominates** row ``b`` when ``a`` is at least as good in every objective and
strictly better in one. The **front** (rank 1) is the rows no row dominates; rank ``k + 1`` is
the front of what remains after removing ranks ``1 … k`` (non-dominated sorting). Rows with a
missing (``None``) or non-finite objective take no part: their rank is ``None``.

    >>> rows = [{"acc": 0.9, "us": 10}, {"acc": 0.8, "us": 5}, {"acc": 0.8, "us": 12}]
    >>> pareto_front(rows, {"acc": "max", "us": "min"})
    [0, 1]
    >>> pareto_ranks(rows, {"acc": "max", "us": "min"})
    [1, 1, 2]
"""

import math

import numpy as np

__all__ = ["DIRECTIONS", "pareto_front", "pareto_ranks"]

DIRECTIONS = ("max", "min")


def _matrix(rows, objectives):
    """Rows as a cost matrix (every objective turned into "less is better"), and the indices
    of the rows that have every objective as a finite number."""
    if not isinstance(objectives, dict) or not objectives:
        raise TypeError(f"objectives must be a non-empty dict of name -> 'max' or 'min', not "
                        f"{objectives!r}")
    for name, direction in objectives.items():
        if direction not in DIRECTIONS:
            raise ValueError(f"objectives[{name!r}] = {direction!r} is not allowed; choose "
                             f"'max' or 'min'")
    usable, costs = [], []
    for index, row in enumerate(rows):
        values = [row.get(name) for name in objectives]
        if any(v is None or isinstance(v, bool) or not isinstance(v, (int, float, np.number))
               or not math.isfinite(v) for v in values):
            continue
        usable.append(index)
        costs.append([-v if objectives[name] == "max" else v
                      for name, v in zip(objectives, values)])
    return np.array(costs, dtype=np.float64).reshape(len(usable), len(objectives)), usable


def _non_dominated(costs, alive):
    """Among the rows of ``costs`` selected by the boolean mask ``alive``, those that no other
    alive row dominates."""
    result = np.zeros(len(costs), dtype=bool)
    candidates = costs[alive]
    for i in np.flatnonzero(alive):
        no_worse = np.all(candidates <= costs[i], axis=1)
        better = np.any(candidates < costs[i], axis=1)
        result[i] = not np.any(no_worse & better)
    return result


def pareto_front(rows, objectives):
    """Indices (ascending) of the rows on the Pareto front of ``objectives``."""
    costs, usable = _matrix(rows, objectives)
    if not usable:
        return []
    front = _non_dominated(costs, np.ones(len(usable), dtype=bool))
    return [usable[i] for i in np.flatnonzero(front)]


def pareto_ranks(rows, objectives):
    """The non-dominated-sorting rank of every row (1 = the front), ``None`` for rows missing
    an objective."""
    costs, usable = _matrix(rows, objectives)
    ranks = [None] * len(rows)
    alive = np.ones(len(usable), dtype=bool)
    rank = 0
    while alive.any():
        rank += 1
        front = _non_dominated(costs, alive)
        for i in np.flatnonzero(front):
            ranks[usable[i]] = rank
        alive &= ~front
    return ranks
