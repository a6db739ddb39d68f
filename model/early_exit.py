"""Early exit: end a sample as soon as its class is known (docs/design.md §2, *Early exit*).

The output layer's spike counts ``c[k]`` grow by at most one per step (a neuron spikes at most
once per step), so after step ``t`` (0-based) of ``T`` any class can gain at most
``R = T - 1 - t`` more. With ``L`` the current arg-max (lowest index on ties):

* ``"exact"``: the sample ends after step ``t < T - 1`` when, for every ``k != L``,
  ``c[L] - c[k] > R``, or ``c[L] - c[k] == R`` and ``L < k`` (a tie goes to the lower
  index) — ``L`` can no longer be overtaken, so the class equals the full-``T`` class.
* ``("margin", m)``, ``m >= 1``: the sample ends after step ``t < T - 1`` when
  ``c[L] - c[k] >= m`` for every ``k != L`` (the leader is ``m`` ahead of the runner-up);
  this may change the class (it trades accuracy for latency).

The rule is evaluated after every step but the last (a sample that never exits runs its ``T``
steps and ends as without early exit). With one class the rule always holds: the sample ends
after step 0.
"""

from dataclasses import dataclass

import numpy as np

__all__ = ["ExitRule", "MAX_MARGIN", "exit_rule", "exit_fires"]

#: The largest margin of ``("margin", m)``.
MAX_MARGIN = 1 << 24


@dataclass(frozen=True)
class ExitRule:
    """An early-exit rule: ``kind`` ``"exact"`` or ``"margin"`` with its ``margin`` (``None``
    for exact)."""

    kind: str
    margin: int = None

    def __post_init__(self):
        if self.kind not in ("exact", "margin"):
            raise ValueError(f"kind = {self.kind!r} is not allowed; choose 'exact' or 'margin'")
        if self.kind == "exact":
            if self.margin is not None:
                raise ValueError(f"margin = {self.margin!r} is not allowed with kind 'exact' "
                                 f"(leave it None)")
            return
        m = self.margin
        if not isinstance(m, (int, np.integer)) or isinstance(m, bool):
            raise TypeError(f"margin must be an int in [1, {MAX_MARGIN}], not "
                            f"{type(m).__name__}")
        if not 1 <= m <= MAX_MARGIN:
            raise ValueError(f"margin = {m} is out of range; allowed range is "
                             f"[1, {MAX_MARGIN}]")
        object.__setattr__(self, "margin", int(m))

    def __str__(self):
        return "exact" if self.kind == "exact" else f"margin {self.margin}"


def exit_rule(rule):
    """Normalize ``rule``: ``None`` (no early exit), ``"exact"``, ``("margin", m)`` with an
    int ``m >= 1``, or an :class:`ExitRule`. Raises ``ValueError`` naming the allowed values."""
    if rule is None or isinstance(rule, ExitRule):
        return rule
    if isinstance(rule, str) and rule == "exact":
        return ExitRule("exact")
    if (isinstance(rule, tuple) and len(rule) == 2 and rule[0] == "margin"):
        m = rule[1]
        if isinstance(m, (int, np.integer)) and not isinstance(m, bool) and 1 <= m <= MAX_MARGIN:
            return ExitRule("margin", int(m))
        raise ValueError(f"the margin of exit = {rule!r} is out of range; allowed: an int "
                         f"in [1, {MAX_MARGIN}]")
    raise ValueError(f"exit = {rule!r} is not allowed; choose None, 'exact' or "
                     f"('margin', m) with an int m >= 1")


def exit_fires(rule, counts, step, steps):
    """Whether ``rule`` ends each sample after ``step`` (0-based) of ``steps``: ``counts``
    ``[B, K]`` are the output spike counts over steps ``0 .. step``; returns bool ``[B]``."""
    counts = np.asarray(counts, dtype=np.int64)
    if step >= steps - 1:
        return np.zeros(len(counts), dtype=bool)
    leader = np.argmax(counts, axis=1)
    lead = counts[np.arange(len(counts)), leader][:, None] - counts          # [B, K]
    k = np.arange(counts.shape[1])[None]
    own = k == leader[:, None]
    if rule.kind == "exact":
        left = steps - 1 - step
        ok = own | (lead > left) | ((lead == left) & (leader[:, None] < k))
    else:
        ok = own | (lead >= rule.margin)
    return ok.all(axis=1)
