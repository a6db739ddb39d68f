"""Every place spikefab reaches into Amaranth's private API, each wrapped once here.

1. The "created but never used" check. Amaranth warns (``UnusedElaboratable``) when an elaboratable is garbage-collected without
having been elaborated. Two of our cases are by design and have no public API:

* a block refused by its own parameter checks, or a board top built only for its identity and
  geometry (its netlist was given), is never elaborated: :func:`never_elaborated`;
* a formal-proof wrapper elaborates a block itself (to add observer ports before the block's
  memories are elaborated), as ``Fragment.get`` would: :func:`mark_elaborated`.

Both set attributes of ``amaranth._unused.MustUse`` (``_MustUse__silence``,
``_MustUse__used``).

2. The signals a fragment drives (:func:`driven_signals`, for the formal proofs' view of a
block's registers): ``Statement._lhs_signals()``.

``tests/hw/test_elaboration.py`` fails, naming the attribute, when an Amaranth release
changes one of them.
"""

from amaranth._unused import MustUse

__all__ = ["driven_signals", "mark_elaborated", "never_elaborated"]


def never_elaborated(value):
    """Silence the unused-elaboratable warning for ``value`` and every elaboratable it holds
    (attributes, lists, tuples, dicts, recursively)."""
    seen, stack = set(), [value]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, MustUse):
            item._MustUse__silence = True
            stack.extend(vars(item).values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())


def mark_elaborated(elaboratable):
    """Record that ``elaboratable`` was elaborated (by a caller that calls its ``elaborate``
    directly instead of through ``Fragment.get``); returns it."""
    elaboratable._MustUse__used = True
    return elaboratable


def driven_signals(fragment):
    """``{name: signal}`` of every signal the statements of ``fragment`` (an elaborated
    ``Fragment``) assign, in any domain (the first of a name wins)."""
    found = {}
    for statements in fragment.statements.values():
        for statement in statements:
            for signal in statement._lhs_signals():
                found.setdefault(signal.name, signal)
    return found
