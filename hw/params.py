"""Parameter checks shared by the hardware generators.

Every generator validates its parameters at construction and raises ``ValueError`` (or
``TypeError``) naming the parameter and the allowed range (docs/design.md §5).
"""

import contextlib

from spikefab.hw.elaboration import never_elaborated
from spikefab.model.checks import check_choice, check_instance, check_int

__all__ = ["check_int", "check_choice", "check_instance", "validating"]


@contextlib.contextmanager
def validating(component):
    """Wrap a component's parameter checks: a rejected component is never elaborated, so
    silence Amaranth's "created but never used" warning for it and for every block it built
    before a later check refused it."""
    try:
        yield
    except Exception:
        never_elaborated(component)
        raise
