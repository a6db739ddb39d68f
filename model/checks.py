"""Parameter checks shared by the model (and the hardware generators): every invalid value
raises ``ValueError`` or ``TypeError`` naming the parameter and its allowed range. The
``flag_*`` functions are the same checks for command-line flags (argparse types)."""

import argparse
import os
from pathlib import Path

import numpy as np

__all__ = ["check_choice", "check_instance", "check_int", "check_number", "float_array",
           "per_layer", "flag_int", "flag_float",
           "flag_input_file", "flag_input_dir", "flag_output_dir", "need"]


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


# --- Command-line flags -----------------------------------------------------------------------
# argparse ``type=`` callables: a bad value makes argparse answer with one line naming the flag
# the user typed, e.g. ``argument --lanes: 0 is out of range; allowed range is [1, 256]``.

def _flag_number(convert, noun, lo, hi, low_open):
    interval = f"{'(' if low_open else '['}{lo}, {hi}]"

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}; allowed range is "
                                             f"{interval}") from None
        if not (lo < value if low_open else lo <= value) or not value <= hi:
            raise argparse.ArgumentTypeError(f"{text} is out of range; allowed range is "
                                             f"{interval}")
        return value
    parse.__name__ = noun.split()[-1]        # argparse names the type in its own messages
    return parse


def flag_int(lo, hi):
    """An argparse type: an integer in ``[lo, hi]``."""
    return _flag_number(int, "an integer", lo, hi, False)


def flag_float(lo, hi, *, low_open=False):
    """An argparse type: a number in ``[lo, hi]`` (``(lo, hi]`` with ``low_open``)."""
    return _flag_number(float, "a number", lo, hi, low_open)


def flag_input_file(text):
    """An argparse type: an existing, readable file, returned as an absolute path (a tool or
    simulator may run in another folder)."""
    path = Path(text).expanduser().resolve()
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist (looked for {path})")
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} is not a file")
    if not os.access(path, os.R_OK):
        raise argparse.ArgumentTypeError(f"{text} is not readable")
    return path


def flag_input_dir(text):
    """An argparse type: an existing folder, returned as an absolute path."""
    path = Path(text).expanduser().resolve()
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not an existing folder (looked for {path})")
    return path


def flag_output_dir(text):
    """An argparse type: a folder to write into, returned as an absolute path, resolved against
    the working directory once, where the command starts (so every tool and simulator it runs
    writes to the same place, whatever folder they run in)."""
    path = Path(text).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} exists and is not a folder")
    return path


def need(module, purpose, *, extra):
    """Import the optional ``module``; a missing one raises :class:`ModuleNotFoundError`
    naming the pip extra of spikefab that provides it (``spikefab.model`` itself needs
    NumPy only, DESIGN.md §7)."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        raise ModuleNotFoundError(
            f"{purpose} needs {top}, which is not installed ({error}); install the {extra} "
            f"extra: pip install 'spikefab[{extra}]'", name=top) from error
