"""Parameter checks shared by the model (and the hardware generators): every invalid value
raises ``ValueError`` or ``TypeError`` naming the parameter and its allowed range."""

import numpy as np

__all__ = ["check_choice", "check_instance", "check_int", "per_layer"]


def check_int(name, value, lo, hi):
    """Return ``value`` as an int if it is an integer in ``[lo, hi]``; raise otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value} is out of range; allowed range is [{lo}, {hi}]")
    return int(value)


def check_instance(name, value, cls):
    """Return ``value`` if it is a ``cls``; raise TypeError naming the expected spikeforge type."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a spikeforge.model.{cls.__name__}, not "
                        f"{type(value).__name__}")
    return value


def check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} = {value!r} is not allowed; choose one of {', '.join(choices)}")
    return value


def per_layer(name, value, count):
    """``value`` repeated for ``count`` layers, or a list/tuple of exactly ``count`` values."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"{name} has {len(value)} entries for {count} layers")
        return list(value)
    return [value] * count
