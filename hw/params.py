"""Parameter checks shared by the hardware generators.

Every generator validates its parameters at construction and raises ``ValueError`` (or
``TypeError``) naming the parameter and the allowed range (DESIGN.md §5).
"""

import contextlib

from amaranth import Elaboratable

from spikefab.model.checks import check_choice, check_instance, check_int

__all__ = ["check_int", "check_choice", "check_instance", "validating"]


def _silence(value, seen):
    """Mark ``value`` and every elaboratable it holds (attributes, lists, dicts) as not to be
    reported unused."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, Elaboratable):
        value._MustUse__silence = True
        children = vars(value).values()
    elif isinstance(value, (list, tuple)):
        children = value
    elif isinstance(value, dict):
        children = value.values()
    else:
        return
    for child in children:
        _silence(child, seen)


@contextlib.contextmanager
def validating(component):
    """Wrap a component's parameter checks: a rejected component is never elaborated, so
    silence Amaranth's "created but never used" warning for it and for every block it built
    before a later check refused it."""
    try:
        yield
    except Exception:
        _silence(component, set())
        raise
