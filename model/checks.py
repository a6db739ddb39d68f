"""Parameter checks shared by the model (and the hardware generators): every invalid value
raises ``ValueError`` or ``TypeError`` naming the parameter and its allowed range. The same
checks for command-line flags (argparse types) are :mod:`spikefab.cli.args`."""

import numpy as np

__all__ = ["check_choice", "check_instance", "check_int", "check_number", "float_array",
           "per_layer", "need"]


def check_int(name, value, lo, hi):
    """Return ``value`` as an int if it is an integer in ``[lo, hi]``; raise otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer in [{lo}, {hi}], not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} = {value} is out of range; allowed range is [{lo}, {hi}]")
    return int(value)


def check_number(name, value, lo, hi, *, low_open=False):
    """Return ``value`` as a float if it is a real number in ``[lo, hi]`` (``(lo, hi]`` with
    ``low_open``); raise otherwise (NaN is out of every range)."""
    interval = f"{'(' if low_open else '['}{lo}, {hi}]"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)):
        raise TypeError(f"{name} must be a number in {interval}, not {value!r}")
    if not ((lo < value) if low_open else (lo <= value)) or not value <= hi:
        raise ValueError(f"{name} = {value} is out of range; allowed range is {interval}")
    return float(value)


def float_array(name, value, ndim=None, *, finite=True):
    """``value`` as a float64 array; raise naming ``name`` if it is not numeric, has another
    number of dimensions than ``ndim`` (when given) or holds NaN/infinity (when ``finite``)."""
    try:
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise TypeError
        array = array.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array, not {type(value).__name__}") from None
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {array.shape}")
    if finite and not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (it holds NaN or infinity)")
    return array


def check_instance(name, value, cls):
    """Return ``value`` if it is a ``cls``; raise TypeError naming the expected spikefab type."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a spikefab.model.{cls.__name__}, not "
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


def need(module, purpose, *, extra):
    """Import the optional ``module``; a missing one raises :class:`ModuleNotFoundError`
    naming the pip extra of spikefab that provides it (``spikefab.model`` itself needs
    NumPy only, docs/design.md §7)."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        raise ModuleNotFoundError(
            f"{purpose} needs {top}, which is not installed ({error}); install the {extra} "
            f"extra: pip install 'spikefab[{extra}]'", name=top) from error
