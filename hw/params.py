"""Parameter checks shared by the hardware generators.

Every generator validates its parameters at construction and raises ``ValueError`` (or
``TypeError``) naming the parameter and the allowed range (DESIGN.md §5).
"""

import contextlib

from spikeforge.model.checks import check_choice, check_instance, check_int

__all__ = ["check_int", "check_choice", "check_instance", "validating"]


@contextlib.contextmanager
def validating(component):
    """Wrap a component's parameter checks: a rejected component is never elaborated, so
    silence Amaranth's "created but never used" warning for it."""
    try:
        yield
    except Exception:
        component._MustUse__silence = True
        raise
