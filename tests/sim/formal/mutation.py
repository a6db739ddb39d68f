"""Helpers for the mutants of the formal tests: a mutant is a subclass of a block whose
``elaborate`` builds the real block and then overrides one of its signals (the last
assignment to a signal wins in Amaranth), so ``hw/`` itself is never edited."""


def driven(module, name):
    """The signal named ``name`` that ``module`` (an Amaranth ``Module`` under construction)
    drives; fails loudly if the block no longer has it."""
    matches = [signal for signal in module._driving.keys() if signal.name == name]
    assert len(matches) == 1, f"expected one signal named {name!r}, found {len(matches)}"
    return matches[0]
