"""Parameter checks shared by the hardware generators.

Every generator validates its parameters at construction and raises ``ValueError`` (or
``TypeError``) naming the parameter and the allowed range (DESIGN.md §5).
"""

import contextlib

__all__ = ["check_int", "check_choice", "validating"]


def check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value} is out of range; allowed range is [{lo}, {hi}]")
    return value


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} = {value!r} is not allowed; choose one of {', '.join(choices)}")
    return value


@contextlib.contextmanager
def validating(component):
    """Wrap a component's parameter checks: a rejected component is never elaborated, so
    silence Amaranth's "created but never used" warning for it."""
    try:
        yield
    except Exception:
        component._MustUse__silence = True
        raise
