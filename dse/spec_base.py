"""The vocabulary of a sweep specification (:mod:`spikefab.dse.spec`): the allowed values of
its keys, :data:`DEFAULT_SPEC`, :class:`SpecError` and the checks that raise it.

The specification's readers (:mod:`spikefab.dse.spec`) and its points
(:mod:`spikefab.dse.points`) both import from here, so neither imports the other's module
for a constant. Every public name is also importable from :mod:`spikefab.dse.spec`.
"""

import difflib
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = ["CONV_MODES", "DATASETS", "DEFAULT_SPEC", "EVENT_DATASETS", "FILE_NETWORK_AXES",
           "ENCODERS", "NETWORKS", "NETWORK_SUFFIXES", "SPEC_SUFFIXES", "LANES_RANGE",
           "STEPS_RANGE", "SpecError"]

#: The built-in networks (and data sets): the digits demo and the MNIST reference.
NETWORKS = ("digits", "mnist")
#: The built-in data sets a network file can be tested on: the image sets of :data:`NETWORKS`
#: and the event set of :data:`EVENT_DATASETS`.
DATASETS = ("digits", "mnist", "fashion-mnist", "mnist-saccades")
#: The built-in event data sets (:func:`spikefab.model.datasets.load_events`): their input is
#: the data set's own spike trains (the encoder ``events``).
EVENT_DATASETS = ("mnist-saccades",)
#: The input encoders a sweep can use: ``rate`` and ``latency`` code images, ``events`` is an
#: event data set's own trains (only with one).
ENCODERS = ("rate", "latency", "events")
#: Where a convolutional layer runs: ``kernel`` (the convolution core, lanes across output
#: channels) or ``unrolled`` (the fully connected baseline in the point's ``format``).
CONV_MODES = ("kernel", "unrolled")
#: The file extensions :func:`load_spec` reads.
SPEC_SUFFIXES = (".yaml", ".yml", ".toml")
#: Allowed PE counts of a layer in ``axes.lanes`` (a layer's neuron count bounds them further).
LANES_RANGE = (1, 4096)
#: Allowed timesteps ``T``.
STEPS_RANGE = (1, 65535)
#: Network files by extension (``Spec.network_kind``).
NETWORK_SUFFIXES = (".npz", ".nir")

#: Every key with its default; :meth:`Spec.to_dict` of ``load_spec(None)`` equals it.
#: Copy it before changing it (``copy.deepcopy``).
DEFAULT_SPEC = {
    "network": "digits",
    "dataset": None,
    "board": "icebreaker",
    "clock_mhz": None,
    "samples": None,
    "cycle_samples": 100,
    "train": {"hidden": 128, "epochs": 60, "seed": 0},
    "axes": {
        "lanes": [1, 2, 4, 8, 16],
        "format": ["csc"],
        "queue_depth": [16],
        "w_bits": [4],
        "density": [0.5],
        "steps": [32],
        "encoder": ["rate"],
        "conv": ["kernel"],
    },
    "synthesis": {"max_points": 12, "near": 1, "calibration": 4, "timeout_s": 1800, "lhr": 0},
}

#: The axes of a network file that differ from :data:`DEFAULT_SPEC`'s (``w_bits`` ``None``:
#: not swept).
FILE_NETWORK_AXES = {"w_bits": None, "density": [1.0]}

#: The keys of a point, in the order of the product (``lanes`` varies fastest); ``conv`` only
#: for a network with convolutional layers.
_POINT_KEYS = ("w_bits", "density", "steps", "encoder", "conv", "format", "queue_depth",
               "lanes")


class SpecError(ValueError):
    """An invalid sweep specification; the message names the source and the key path."""


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def _kind(value):
    """A value's type in the words of the spec formats (for 'not a ...' messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _suggest(word, choices):
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Check:
    """Checks that raise :class:`SpecError` prefixed with the source's name."""

    def __init__(self, source):
        self.source = source

    def fail(self, message):
        raise SpecError(f"{self.source}: {message}")

    def integer(self, path, value, lo, hi=None):
        interval = f"[{lo}, {hi}]" if hi is not None else f"[{lo}, inf)"
        if isinstance(value, (bool, np.bool_)):
            self.fail(f"{path} = {value!r} must be an integer in {interval}, not a bool")
        if not isinstance(value, numbers.Integral):
            self.fail(f"{path} = {value!r} must be an integer in {interval}")
        value = int(value)
        if value < lo or (hi is not None and value > hi):
            self.fail(f"{path} = {value} is out of range; allowed range is {interval}")
        return value

    def number(self, path, value, lo, hi=math.inf, *, low_open=True):
        interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if hi == math.inf else ']'}"
        if isinstance(value, (bool, np.bool_)):
            self.fail(f"{path} = {value!r} must be a number in {interval}, not a bool")
        if not isinstance(value, numbers.Real):
            self.fail(f"{path} = {value!r} must be a number in {interval}")
        shown = value if type(value) in (int, float) else float(value)
        value = float(value)
        above = value > lo if low_open else value >= lo
        below = value < hi if hi == math.inf else value <= hi
        if not (above and below):          # NaN fails both
            self.fail(f"{path} = {shown!r} is out of range; allowed range is {interval}")
        return value

    def choice(self, path, value, choices):
        if not isinstance(value, str) or value not in choices:
            self.fail(f"{path} = {value!r} is not allowed; choose one of "
                      f"{', '.join(choices)}{_suggest(value, choices)}")
        return value

    def mapping(self, path, value, allowed):
        """``value`` as a dict with keys among ``allowed`` (``None`` is empty)."""
        where = f"in {path}" if path else "at the top level"
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            what = f"{path} must be" if path else "the top level must be"
            self.fail(f"{what} a mapping with keys {', '.join(allowed)}, not {_kind(value)}")
        for key in value:
            if key not in allowed:
                self.fail(f"unknown key {key!r} {where}; allowed keys: {', '.join(allowed)}"
                          f"{_suggest(key, allowed)}")
        return dict(value)

    def values(self, path, value, item):
        """An axis: a non-empty list without repeats (a scalar is a one-element list), each
        item checked by ``item(path, value)``; a tuple."""
        if isinstance(value, (list, tuple)):
            paths = [f"{path}[{index}]" for index in range(len(value))]
            items = list(value)
        else:
            paths, items = [path], [value]
        if not items:
            self.fail(f"{path} is empty; give at least one value")
        checked = []
        for where, raw in zip(paths, items):
            value = item(where, raw)
            if value in checked:
                self.fail(f"{where} = {value!r} repeats {paths[checked.index(value)]}")
            checked.append(value)
        return tuple(checked)

    def lanes(self, path, value):
        """``axes.lanes``: a tuple of ints (uniform) or a tuple of per-layer tuples."""
        def lane(where, raw):
            return self.integer(where, raw, *LANES_RANGE)

        if isinstance(value, (list, tuple)) and any(isinstance(v, (list, tuple))
                                                    for v in value):
            return tuple(self.values(f"{path}[{index}]", layer, lane)
                         for index, layer in enumerate(value))
        return self.values(path, value, lane)

    def path(self, path, value, base):
        """A file path (str or os.PathLike) resolved against ``base``; ``Path``."""
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            return None
        return Path(os.path.normpath(os.path.join(base, os.path.expanduser(value))))

