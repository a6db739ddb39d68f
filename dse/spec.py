"""The sweep specification of design-space exploration (``spikefab dse``).

A specification says which network is explored, on which data set and board, and which
points the explorer evaluates: every combination of a network variant (weight bits
``w_bits``, synapse ``density``), the timesteps ``steps`` (``T``), the input ``encoder`` and
the hardware (per-layer PE count ``lanes`` ``P``, where convolutional layers run ``conv``,
weight ``format``, event-queue ``queue_depth``). It is a YAML file (``.yaml`` / ``.yml``, needs PyYAML from the
``spikefab[dse]`` extra), a TOML file (``.toml``, read by the standard library) or a Python
dict. Every key is optional; the defaults are:

.. code-block:: yaml

    network: digits        # "digits" | "mnist" | path to a .npz (Network.save) or .nir file,
                           # fully connected or convolutional (spikefab train --conv ...)
    dataset: null          # "digits" | "mnist" | "fashion-mnist" | "mnist-saccades" (events)
                           # | path to a .npz holding arrays x [n, inputs] (pixel
                           # intensities) and y [n] (integer labels); null = the built-in
                           # network's own, or for a network file the built-in data set its
                           # inputs fit (digits: 64 = 1x8x8, MNIST: 784 = 1x28x28 (name
                           # fashion-mnist to test on it), mnist-saccades: 2312 = 2x34x34; a
                           # first conv layer must read those maps)
    board: icebreaker      # icebreaker | ulx3s | orangecrab (spikefab.boards.registry.BOARDS)
                           # or "none" (no synthesis: the synthesis section is not used)
    clock_mhz: null        # > 0, <= 1000; null = the board's clock
    samples: null          # test images for accuracy (int >= 1) or null = all
    cycle_samples: 100     # test images run through the cycle model (int >= 1)
    train:                 # only for the built-in networks (digits/mnist); an error with a file
      hidden: 128          # hidden neurons, int [1, 4096]
      epochs: 60           # fine-tuning epochs under the pruning mask, int [0, 1000]
      seed: 0              # int [0, 2**32 - 1]
    axes:
      lanes: [1, 2, 4, 8, 16]  # uniform P: every layer gets P, capped at its neuron count (a
                               # conv layer on the convolution core: at its output channels
                               # C_out, the core's lanes going across them); or one
                               # candidate list per layer (all combinations), e.g.
                               # lanes: [[1, 2, 4, 8, 16, 32], [1, 2, 5, 10]]; int [1, 4096],
                               # each at most its layer's bound (C_out for a conv layer when
                               # conv holds kernel, else its neuron count)
      conv: [kernel]           # conv layers: each in kernel (the convolution core) or
                               # unrolled (a fully connected matrix in the point's format);
                               # only for a network with conv layers
      format: [csc]            # each in spikefab.model.FORMATS: dense, csc, bitmap; the
                               # weight format of the fully connected layers (and of conv
                               # layers when unrolled; a core holds its kernel image)
      queue_depth: [16]        # each int in spikefab.model.cycles.QUEUE_DEPTH_RANGE [2, 65536]
      w_bits: [4]              # each int in spikefab.model.network.W_BITS_RANGE [2, 16];
                               # not for a network file (already quantized): leave it out
      density: [0.5]           # each number in (0, 1]; a network file's default is [1]
                               # (as it is; lower prunes its weights, a conv layer's
                               # kernel, by magnitude)
      steps: [32]              # each int in [1, 65535]
      encoder: [rate]          # each in rate, latency; with the event data set
                               # mnist-saccades its events are the input: [events], the only
                               # value (the default [rate] means it there)
    synthesis:
      max_points: 12       # points synthesized at most, int [0, 1000] (0 = estimate only)
      near: 1              # Pareto rank synthesized: 1 = the front, 2 = the front and the
                           # next rank, ... int [1, 10]
      calibration: 4       # points synthesized first, spread over the design space, to
                           # calibrate the resource estimator, int [0, 100]
      timeout_s: 1800      # per synthesis, in seconds, a number > 0
      lhr: 0               # more points synthesized for the explorer's LHR study (uniform
                           # lanes against per-layer lanes), int [0, 1000]

The same in TOML (which has no ``null``: leave a key out for its default)::

    network = "digits"
    board = "icebreaker"
    cycle_samples = 100

    [train]
    hidden = 128
    epochs = 60
    seed = 0

    [axes]
    lanes = [1, 2, 4, 8, 16]      # or per layer: [[1, 2, 4, 8, 16, 32], [1, 2, 5, 10]]
    format = ["csc"]
    queue_depth = [16]
    w_bits = [4]
    density = [0.5]
    steps = [32]
    encoder = ["rate"]
    conv = ["kernel"]

    [synthesis]
    max_points = 12
    near = 1
    calibration = 4
    timeout_s = 1800
    lhr = 0

Rules
-----
* An axis value may be a single scalar, meaning a one-element list (``w_bits: 4`` is
  ``w_bits: [4]``; in per-layer ``lanes`` a layer's scalar is that layer's one-element list).
  A list must not be empty and must not repeat a value.
* ``lanes`` is per layer when any of its items is a list; then it needs one list per layer of
  the network, each value in ``[1, N_l]`` for a layer of ``N_l`` neurons, or ``[1, C_out]``
  for a convolutional layer with ``C_out`` output channels when ``conv`` holds ``kernel``
  (checked by :meth:`Spec.points`, which knows the layers).
* ``conv`` is only for a network with convolutional layers (a
  :class:`~spikefab.model.conv.ConvLayer`, as ``spikefab train --conv`` makes them): on the
  convolution core (``kernel``, docs/design.md §12) a layer's ``P`` lanes go across its output
  channels (``G = ceil(C_out / P)`` channel groups, ``R·G`` kernel words per input spike);
  ``unrolled`` runs it as the fully connected baseline in the point's ``format``. A point of a
  conv network carries its ``conv`` (``Point.conv``; ``None`` otherwise) and its label names
  it (``d1 T16 rate kernel csc q16 P4-10``). When every layer is convolutional, the kernel
  points are made with the first ``format`` only (no layer uses it).
* An event data set (``mnist-saccades``: the MNIST test images' ON/OFF events,
  :func:`spikefab.model.datasets.load_events`, made at each point's ``T``) is its own input:
  its encoder is ``events``; ``events`` needs one.
* Integers are integers: ``true`` / ``false`` and ``4.0`` are not accepted for an integer
  key. Numbers accept integers (``density: 1``).
* An empty section or axis (``axes:`` or ``steps:`` with nothing after it, YAML ``null``)
  and an empty file mean the defaults.
* A network file (``.npz`` / ``.nir``) is already trained and quantized: ``train`` and
  ``axes.w_bits`` are errors with it (its points have ``w_bits`` ``None``), and its
  ``axes.density`` defaults to ``[1]``.
* Paths (``network``, ``dataset``) are checked when the spec is loaded (the file must exist;
  a ``dataset`` archive must hold a 2-D numeric ``x`` and a 1-D integer ``y`` of as many
  rows). A relative path is resolved against the folder of the spec file when the spec is
  read from a file, and against the current working directory for a dict. The loaded
  :class:`Spec` holds absolute paths.
* Every error is a :class:`SpecError` naming the source (the file path, or ``spec`` for a
  dict) and the key path, e.g. ``spec.yaml: axes.lanes[1][2] = 0 is out of range; allowed
  range is [1, 4096]``.

Points
------
:meth:`Spec.points` expands the axes into :class:`Point` objects, the Cartesian product in the
order ``w_bits``, ``density``, ``steps``, ``encoder``, ``format``, ``queue_depth``, ``lanes``
(the first varies slowest, ``lanes`` fastest; ``conv`` between ``encoder`` and ``format`` for a
network with convolutional layers), for a network with the given layers. Uniform lanes become
``min(P, N_l)`` per layer (``min(P, C_out)`` for a conv layer on the convolution core) and
points made equal by that cap are kept once (uniform ``[1, 16, 32]`` on layers of 16 and 10
neurons gives ``(1, 1)`` and ``(16, 10)``; on a conv layer of 4 output channels and 256
neurons and a layer of 10, ``(1, 1)``, ``(4, 10)`` on the core and ``(1, 1)``, ``(16, 10)``,
``(32, 10)`` unrolled).

The constants and :class:`SpecError` are defined in :mod:`spikefab.dse.spec_base`,
:class:`Point` and :class:`LayerShape` in :mod:`spikefab.dse.points`; every name of
``__all__`` is importable from here.

>>> spec = load_spec({"axes": {"lanes": [1, 16, 32], "w_bits": [4, 8]}})
>>> [point.label for point in spec.points((16, 10))]
['w4 d0.5 T32 rate csc q16 P1-1', 'w4 d0.5 T32 rate csc q16 P16-10', \
'w8 d0.5 T32 rate csc q16 P1-1', 'w8 d0.5 T32 rate csc q16 P16-10']
>>> load_spec(spec.to_dict()) == spec
True
>>> conv = load_spec({"axes": {"lanes": [1, 16, 32], "conv": ["kernel", "unrolled"]}})
>>> [p.label for p in conv.points([LayerShape(256, 4), 10])]
['w4 d0.5 T32 rate kernel csc q16 P1-1', 'w4 d0.5 T32 rate kernel csc q16 P4-10', \
'w4 d0.5 T32 rate unrolled csc q16 P1-1', 'w4 d0.5 T32 rate unrolled csc q16 P16-10', \
'w4 d0.5 T32 rate unrolled csc q16 P32-10']
"""

import copy
import itertools
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from spikefab.model.checks import need
from spikefab.model.cycles import QUEUE_DEPTH_RANGE
from spikefab.model.memory import FORMATS
from spikefab.model.network import W_BITS_RANGE

from .points import LayerShape, Point, _layer_shapes
from .spec_base import (CONV_MODES, DATASETS, DEFAULT_SPEC, ENCODERS, EVENT_DATASETS,
                        FILE_NETWORK_AXES, LANES_RANGE, NETWORK_SUFFIXES, NETWORKS,
                        SPEC_SUFFIXES, STEPS_RANGE, SpecError, _Check, _suggest)

__all__ = ["CONV_MODES", "DATASETS", "DEFAULT_SPEC", "EVENT_DATASETS", "FILE_NETWORK_AXES",
           "ENCODERS", "NETWORKS", "NETWORK_SUFFIXES", "SPEC_SUFFIXES", "LANES_RANGE",
           "STEPS_RANGE", "Axes", "LayerShape", "Point", "Spec", "SpecError", "Synthesis",
           "Train", "load_spec"]

# --------------------------------------------------------------------------------------------
# The spec
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Train:
    """Training of a built-in network (the ``train`` section; the defaults for a network
    file, whose ``seed`` still splits a built-in data set).

    Attributes
    ----------
    hidden : int
        Hidden neurons, ``[1, 4096]``.
    epochs : int
        Fine-tuning epochs under the pruning mask, ``[0, 1000]``.
    seed : int
        Random seed, ``[0, 2**32 - 1]``.
    """

    hidden: int
    epochs: int
    seed: int

    def to_dict(self):
        """The section as a JSON-ready dict."""
        return {"hidden": self.hidden, "epochs": self.epochs, "seed": self.seed}


@dataclass(frozen=True)
class Axes:
    """The swept values (the ``axes`` section), each a non-empty tuple without repeats.

    Attributes
    ----------
    lanes : tuple
        Uniform PE counts (a tuple of ints, each capped at a layer's size by
        :meth:`Spec.points`) or one tuple of candidates per layer (a tuple of tuples).
    format : tuple of str
        Weight formats, each in :data:`spikefab.model.FORMATS`.
    queue_depth : tuple of int
        Event-queue depths.
    w_bits : tuple of int
        Weight bits; ``(None,)`` for a network file (not swept).
    density : tuple of float
        Synapse densities in ``(0, 1]``.
    steps : tuple of int
        Timesteps ``T``.
    encoder : tuple of str
        Input encoders, each in :data:`ENCODERS`.
    conv : tuple of str
        Where the convolutional layers run, each in :data:`CONV_MODES` (not used by a network
        without convolutional layers).
    """

    lanes: tuple
    format: tuple
    queue_depth: tuple
    w_bits: tuple
    density: tuple
    steps: tuple
    encoder: tuple
    conv: tuple = ("kernel",)

    @property
    def per_layer(self):
        """bool: whether ``lanes`` holds one candidate tuple per layer."""
        return bool(self.lanes) and isinstance(self.lanes[0], tuple)

    def to_dict(self):
        """The section as a JSON-ready dict (tuples as lists; ``w_bits`` ``None`` for a
        network file)."""
        lanes = [list(layer) for layer in self.lanes] if self.per_layer else list(self.lanes)
        w_bits = None if self.w_bits == (None,) else list(self.w_bits)
        return {"lanes": lanes, "format": list(self.format),
                "queue_depth": list(self.queue_depth), "w_bits": w_bits,
                "density": list(self.density), "steps": list(self.steps),
                "encoder": list(self.encoder), "conv": list(self.conv)}


@dataclass(frozen=True)
class Synthesis:
    """What is synthesized (the ``synthesis`` section).

    Attributes
    ----------
    max_points : int
        Points synthesized at most, ``[0, 1000]`` (0: estimate only).
    near : int
        Pareto rank synthesized (1: the front; 2: the front and the next rank; ...),
        ``[1, 10]``.
    calibration : int
        Points synthesized first, spread over the design space, to calibrate the resource
        estimator, ``[0, 100]``.
    timeout_s : float
        Time limit of one synthesis, in seconds, ``> 0``.
    lhr : int
        More points synthesized for the explorer's LHR study, ``[0, 1000]``.
    """

    max_points: int
    near: int
    calibration: int
    timeout_s: float
    lhr: int = 0

    def to_dict(self):
        """The section as a JSON-ready dict."""
        return {"max_points": self.max_points, "near": self.near,
                "calibration": self.calibration, "timeout_s": self.timeout_s,
                "lhr": self.lhr}


@dataclass(frozen=True)
class Spec:
    """A checked sweep specification; made by :func:`load_spec` (the constructor itself does
    not check its arguments).

    Attributes
    ----------
    network : str
        ``"digits"``, ``"mnist"`` or the absolute path of a ``.npz`` / ``.nir`` network file.
    dataset : str or None
        ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"mnist-saccades"``
        (:data:`DATASETS`), the absolute path of a ``.npz`` data set, or ``None`` (the
        built-in network's own; for a network file, the built-in data set its inputs fit).
    board : str
        A board of :data:`spikefab.boards.registry.BOARDS`, or ``"none"``.
    clock_mhz : float or None
        The clock, or ``None`` for the board's (see :attr:`effective_clock_mhz`).
    samples : int or None
        Test images for accuracy, ``None`` for all.
    cycle_samples : int
        Test images run through the cycle model.
    train : Train
        Training of a built-in network (the defaults for a network file; ``to_dict`` gives
        ``None`` there).
    axes : Axes
        The swept values.
    synthesis : Synthesis
        What is synthesized.
    source : str
        Where the spec came from (the file path or ``"spec"``), for messages; not compared.
    """

    network: str
    dataset: object
    board: str
    clock_mhz: object
    samples: object
    cycle_samples: int
    train: Train
    axes: Axes
    synthesis: Synthesis
    source: str = field(default="spec", compare=False, repr=False)

    @property
    def network_kind(self):
        """str: ``"digits"``, ``"mnist"``, ``"npz"`` or ``"nir"`` (a network file's
        extension)."""
        if self.network in NETWORKS:
            return self.network
        return Path(self.network).suffix.lower().lstrip(".")

    @property
    def builtin(self):
        """bool: whether the network is a built-in one (``digits`` / ``mnist``)."""
        return self.network in NETWORKS

    @property
    def dataset_kind(self):
        """str or None: the data set used: one of :data:`DATASETS` or ``"npz"`` (a file); a
        built-in network's own when :attr:`dataset` is ``None``; ``None`` for a network file
        without a dataset (its input count decides)."""
        if self.dataset is None:
            return self.network if self.builtin else None
        return self.dataset if self.dataset in DATASETS else "npz"

    @property
    def effective_clock_mhz(self):
        """float or None: :attr:`clock_mhz`, else the board's clock; ``None`` for board
        ``"none"`` without a clock."""
        if self.clock_mhz is not None or self.board == "none":
            return self.clock_mhz
        from spikefab.boards.registry import BOARDS
        return float(BOARDS[self.board].clock_mhz)

    def to_dict(self):
        """The canonical spec: JSON-ready, every default filled, axes as lists (absolute
        paths); ``load_spec(spec.to_dict()) == spec``.

        Returns
        -------
        dict
            Keys in the order of :data:`DEFAULT_SPEC`.
        """
        return {"network": self.network, "dataset": self.dataset, "board": self.board,
                "clock_mhz": self.clock_mhz, "samples": self.samples,
                "cycle_samples": self.cycle_samples,
                "train": self.train.to_dict() if self.builtin else None,
                "axes": self.axes.to_dict(), "synthesis": self.synthesis.to_dict()}

    def replace(self, **changes):
        """A new spec with some keys changed, checked again.

        Parameters
        ----------
        **changes
            Top-level keys. A mapping given for ``train``, ``axes`` or ``synthesis`` updates
            that section's keys (``spec.replace(axes={"lanes": [4]})``). Changing ``network``
            from a built-in one to a file drops ``train`` and ``axes.w_bits`` unless they are
            given too.

        Returns
        -------
        Spec

        Raises
        ------
        SpecError
            As :func:`load_spec`, naming this spec's source.
        """
        data = self.to_dict()
        check = _Check(self.source)
        check.mapping("", changes, tuple(DEFAULT_SPEC))
        for key, value in changes.items():
            if isinstance(value, (Train, Axes, Synthesis)):
                value = value.to_dict()
            if isinstance(value, Mapping) and isinstance(data[key], dict):
                value = {**data[key], **value}
            data[key] = value
        if self.builtin and "network" in changes and changes["network"] not in NETWORKS:
            if "train" not in changes:
                data["train"] = None
            if "w_bits" not in (changes.get("axes") or {}):
                data["axes"]["w_bits"] = None
        return _spec(data, self.source, Path.cwd())

    def points(self, layers, *, events=False):
        """Every point of the sweep for a network of ``layers``.

        Parameters
        ----------
        layers : Network or sequence
            The network (:class:`~spikefab.model.Network`), or per layer its neuron count
            (a fully connected layer, e.g. ``(128, 10)``) or a :class:`LayerShape`
            ``(neurons, channels)`` (``channels``: a convolutional layer's output channels
            ``C_out``, ``None`` for a fully connected layer).
        events : bool
            Whether the data set is an event set (:data:`EVENT_DATASETS`): the encoder axis
            is then ``events`` (left out, it is the default ``[rate]``, which means the
            events there).

        Returns
        -------
        list of Point
            The Cartesian product of the axes in the order ``w_bits``, ``density``,
            ``steps``, ``encoder``, ``conv``, ``format``, ``queue_depth``, ``lanes``
            (``lanes`` fastest). ``conv`` is ``None`` for a network without convolutional
            layers (and its axis must be left at its default). Uniform lanes are capped at
            each layer's size: its neuron count, or for a convolutional layer on the
            convolution core (``conv`` ``kernel``) its output channels ``C_out``; points
            equal after the cap appear once, and so do points of different formats when
            every layer is on the convolution core (no layer uses the format).

        Raises
        ------
        SpecError
            Per-layer ``axes.lanes`` with another number of lists than layers, or a value
            above its layer's bound (:meth:`lanes_bound`); ``axes.conv`` other than
            ``[kernel]`` for a network without convolutional layers; an encoder that does not
            fit the data set (``events`` needs an event data set, which needs it).
        """
        shapes = _layer_shapes(layers)
        check = _Check(self.source)
        axes = self.axes
        has_conv = any(c is not None for _, c in shapes)
        if not has_conv and axes.conv != ("kernel",):
            check.fail(f"axes.conv = {list(axes.conv)} needs convolutional layers; the network "
                       f"has none (all fully connected); leave axes.conv out")
        encoders = axes.encoder
        if events:
            if encoders == ("rate",):
                encoders = ("events",)
            elif encoders != ("events",):
                check.fail(f"axes.encoder = {list(encoders)}: an event data set is its own "
                           f"input spike trains; leave axes.encoder out or give [events]")
        elif "events" in encoders:
            check.fail("axes.encoder = events needs an event data set (dataset: "
                       f"{', '.join(EVENT_DATASETS)}); images take rate or latency")
        if axes.per_layer:
            if len(axes.lanes) != len(shapes):
                check.fail(f"axes.lanes has {len(axes.lanes)} per-layer lists but the "
                           f"network has {len(shapes)} layers (sizes "
                           f"{', '.join(str(n) for n, _ in shapes)}); give one list per layer")
            for layer, candidates in enumerate(axes.lanes):
                bound, why = self.lanes_bound(shapes, layer)
                for index, lane in enumerate(candidates):
                    if lane > bound:
                        check.fail(f"axes.lanes[{layer}][{index}] = {lane} is out of range; "
                                   f"allowed range is [1, {bound}] (layer {layer} {why})")
        conv_values = axes.conv if has_conv else (None,)
        points, seen = [], set()
        for w_bits, density, steps, encoder, conv, fmt, depth in itertools.product(
                axes.w_bits, axes.density, axes.steps, encoders, conv_values,
                axes.format, axes.queue_depth):
            all_core = conv == "kernel" and all(c is not None for _, c in shapes)
            if all_core:
                fmt = axes.format[0]            # no layer uses the format
            for lanes in self._lanes(shapes, conv):
                point = Point(w_bits, density, steps, encoder, fmt, depth, lanes, conv)
                if point not in seen:
                    seen.add(point)
                    points.append(point)
        return points

    def lanes_bound(self, layers, index):
        """``(bound, why)``: the largest lanes of layer ``index`` of ``layers`` (as
        :meth:`points` takes them) a per-layer ``axes.lanes`` list may hold, and the words
        saying why: its neuron count, or for a convolutional layer its output channels
        ``C_out`` when ``axes.conv`` holds ``kernel`` (the convolution core's lanes go across
        output channels; with only ``unrolled`` its neuron count)."""
        shapes = _layer_shapes(layers)
        neurons, channels = shapes[index]
        if channels is not None and "kernel" in self.axes.conv:
            return channels, (f"is convolutional, on the convolution core with axes.conv "
                              f"kernel: lanes go across its {channels} output channels")
        kind = "convolutional, unrolled," if channels is not None else "fully connected"
        return neurons, f"is {kind} with {neurons} neurons"

    def _lanes(self, shapes, conv):
        """The lanes tuples of ``conv`` (``None``: a fully connected network), capped and
        without repeats, in the axis' order."""
        def cap(neurons, channels):
            return channels if conv == "kernel" and channels is not None else neurons

        if self.axes.per_layer:
            combinations = itertools.product(*self.axes.lanes)
        else:
            combinations = (tuple(min(lane, cap(n, c)) for n, c in shapes)
                            for lane in self.axes.lanes)
        out = []
        for combination in combinations:
            if combination not in out:
                out.append(combination)
        return out


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

def _network(check, value, base):
    if value in NETWORKS:
        return value
    wanted = (f"must be {', '.join(repr(n) for n in NETWORKS)} or a path to a "
              f"{' or '.join(NETWORK_SUFFIXES)} file")
    path = check.path("network", value, base)
    if path is None:
        check.fail(f"network = {value!r} {wanted}")
    if path.suffix.lower() not in NETWORK_SUFFIXES:
        hint = _suggest(value, NETWORKS) if not path.suffix else ""
        check.fail(f"network = {value!r} {wanted}{hint}")
    if not path.is_file():
        check.fail(f"network = {value!r}: no such file ({path})")
    return str(path)


def _dataset(check, value, base):
    if value is None or value in DATASETS:
        return value
    wanted = (f"must be {', '.join(repr(n) for n in DATASETS)}, null or a path to a .npz "
              f"holding arrays x [n, inputs] and y [n]")
    path = check.path("dataset", value, base)
    if path is None:
        check.fail(f"dataset = {value!r} {wanted}")
    if path.suffix.lower() != ".npz":
        hint = _suggest(value, DATASETS) if not path.suffix else ""
        check.fail(f"dataset = {value!r} {wanted}{hint}")
    if not path.is_file():
        check.fail(f"dataset = {value!r}: no such file ({path})")
    _check_dataset_file(check, value, path)
    return str(path)


def _array_header(archive, name):
    """``(shape, dtype)`` of ``name.npy`` in an open .npz zip, or ``None`` for a format
    version whose header this does not read."""
    with archive.open(f"{name}.npy") as file:
        version = np.lib.format.read_magic(file)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(file)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(file)
        else:
            return None
    return shape, dtype


def _check_dataset_file(check, value, path):
    """A data set archive holds a 2-D numeric ``x`` and a 1-D integer ``y`` of as many rows
    (read from the array headers only)."""
    where = f"dataset = {value!r}"
    try:
        with zipfile.ZipFile(path) as archive:
            names = {name[:-4] for name in archive.namelist() if name.endswith(".npy")}
            for name in ("x", "y"):
                if name not in names:
                    check.fail(f"{where}: the archive has no array {name!r} (it holds "
                               f"{', '.join(sorted(names)) or 'no arrays'}); it needs x "
                               f"[n, inputs] and y [n]")
            headers = {name: _array_header(archive, name) for name in ("x", "y")}
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        check.fail(f"{where}: not a readable NumPy .npz archive ({error})")
    if None in headers.values():
        return
    (x_shape, x_dtype), (y_shape, y_dtype) = headers["x"], headers["y"]
    if len(x_shape) != 2 or x_dtype.kind not in "biuf":
        check.fail(f"{where}: x must be a 2-D numeric array [n, inputs], not {x_dtype} of "
                   f"shape {x_shape}")
    if len(y_shape) != 1 or y_dtype.kind not in "iu":
        check.fail(f"{where}: y must be a 1-D integer array of labels [n], not {y_dtype} of "
                   f"shape {y_shape}")
    if x_shape[0] != y_shape[0] or not x_shape[0]:
        check.fail(f"{where}: x has {x_shape[0]} rows and y {y_shape[0]} labels; they need "
                   f"the same number, at least 1")


def _spec_dataset(dataset, network):
    """Words naming the images a spec's network is tested on (for messages)."""
    if dataset is None:
        return f"the {network} images"
    return f"dataset = {dataset!r}" if dataset in DATASETS else f"dataset = {Path(dataset).name}"


def _board(check, value):
    from spikefab.boards.registry import BOARDS
    return check.choice("board", value, (*BOARDS, "none"))


def _spec(data, source, base):
    """Check the mapping ``data`` read from ``source``; paths relative to ``base``."""
    check = _Check(source)
    data = check.mapping("", data, tuple(DEFAULT_SPEC))
    defaults = DEFAULT_SPEC

    def top(key):
        return data.get(key, defaults[key])

    network = _network(check, top("network"), base)
    dataset = _dataset(check, top("dataset"), base)
    board = _board(check, top("board"))
    clock = top("clock_mhz")
    clock = None if clock is None else check.number("clock_mhz", clock, 0, 1000)
    samples = top("samples")
    samples = None if samples is None else check.integer("samples", samples, 1)
    cycle_samples = check.integer("cycle_samples", top("cycle_samples"), 1)

    builtin = network in NETWORKS
    train = data.get("train")
    if not builtin and train is not None:
        check.fail(f"train is only for the built-in networks ({', '.join(NETWORKS)}), not "
                   f"network = {network!r} (already trained); remove it")
    section = {**defaults["train"], **check.mapping("train", train, tuple(defaults["train"]))}
    train = Train(hidden=check.integer("train.hidden", section["hidden"], 1, 4096),
                  epochs=check.integer("train.epochs", section["epochs"], 0, 1000),
                  seed=check.integer("train.seed", section["seed"], 0, 2**32 - 1))

    given = check.mapping("axes", data.get("axes"), tuple(defaults["axes"]))
    if not builtin and given.get("w_bits") is not None:
        check.fail(f"axes.w_bits cannot be swept for a network file (network = {network!r} is "
                   f"already quantized); leave it out")
    kind_defaults = {**defaults["axes"], **({} if builtin else FILE_NETWORK_AXES)}
    section = {key: kind_defaults[key] if given.get(key) is None else given[key]
               for key in kind_defaults}
    axes = Axes(
        lanes=check.lanes("axes.lanes", section["lanes"]),
        format=check.values("axes.format", section["format"],
                            lambda where, v: check.choice(where, v, FORMATS)),
        queue_depth=check.values("axes.queue_depth", section["queue_depth"],
                                 lambda where, v: check.integer(where, v, *QUEUE_DEPTH_RANGE)),
        w_bits=(None,) if not builtin else check.values(
            "axes.w_bits", section["w_bits"],
            lambda where, v: check.integer(where, v, *W_BITS_RANGE)),
        density=check.values("axes.density", section["density"],
                             lambda where, v: check.number(where, v, 0, 1)),
        steps=check.values("axes.steps", section["steps"],
                           lambda where, v: check.integer(where, v, *STEPS_RANGE)),
        encoder=check.values("axes.encoder", section["encoder"],
                             lambda where, v: check.choice(where, v, ENCODERS)),
        conv=check.values("axes.conv", section["conv"],
                          lambda where, v: check.choice(where, v, CONV_MODES)))
    if dataset in EVENT_DATASETS and given.get("encoder") is None:
        axes = replace(axes, encoder=("events",))
    if dataset in EVENT_DATASETS and axes.encoder != ("events",):
        check.fail(f"axes.encoder = {list(axes.encoder)}: dataset = {dataset!r} is an event "
                   f"data set, its own input spike trains; leave axes.encoder out or give "
                   f"[events]")
    if dataset not in EVENT_DATASETS and (dataset is not None or builtin) \
            and "events" in axes.encoder:
        check.fail(f"axes.encoder = events needs an event data set (dataset: "
                   f"{', '.join(EVENT_DATASETS)}); {_spec_dataset(dataset, network)} takes "
                   f"rate or latency")

    given = check.mapping("synthesis", data.get("synthesis"), tuple(defaults["synthesis"]))
    section = {**defaults["synthesis"], **given}
    synthesis = Synthesis(
        max_points=check.integer("synthesis.max_points", section["max_points"], 0, 1000),
        near=check.integer("synthesis.near", section["near"], 1, 10),
        calibration=check.integer("synthesis.calibration", section["calibration"], 0, 100),
        timeout_s=check.number("synthesis.timeout_s", section["timeout_s"], 0),
        lhr=check.integer("synthesis.lhr", section["lhr"], 0, 1000))

    return Spec(network=network, dataset=dataset, board=board, clock_mhz=clock,
                samples=samples, cycle_samples=cycle_samples, train=train, axes=axes,
                synthesis=synthesis, source=source)


def _read_yaml(text, source):
    yaml = need("yaml", "reading a YAML sweep specification", extra="dse")

    class Loader(yaml.SafeLoader):
        """The safe loader, refusing a key given twice in one mapping."""

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    repeated = key in seen
                    seen.add(key)
                except TypeError:          # an unhashable key: the base class reports it
                    continue
                if repeated:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is given twice", key_node.start_mark)
            return super().construct_mapping(node, deep=deep)

    try:
        return yaml.load(text, Loader=Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        detail = f"{context}: {problem}" if context else problem
        raise SpecError(f"{source}: malformed YAML{where}: {detail}") from None


def _read_toml(text, source):
    import tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{source}: malformed TOML: {error}") from None


def load_spec(source=None):
    """Read and check a sweep specification (see the module documentation for the format).

    Parameters
    ----------
    source : Mapping, str, os.PathLike, Spec or None
        A dict, the path of a ``.yaml`` / ``.yml`` / ``.toml`` file, or ``None`` for the
        defaults (a :class:`Spec` is returned as it is). Relative paths inside the spec are
        resolved against the spec file's folder, or the current working directory for a dict.

    Returns
    -------
    Spec

    Raises
    ------
    SpecError
        Naming the source (the file path or ``spec``) and the key path: an unknown key (with
        the closest known one), a value of the wrong type or out of range, an empty or
        repeating axis, a missing network or data set file, an unreadable or malformed file,
        a file extension other than .yaml, .yml, .toml, or a top level that is not a mapping.
    ModuleNotFoundError
        A YAML file without PyYAML installed (the ``spikefab[dse]`` extra).
    """
    if isinstance(source, Spec):
        return source
    if source is None:
        return _spec(copy.deepcopy(DEFAULT_SPEC), "spec", Path.cwd())
    if isinstance(source, Mapping):
        return _spec(source, "spec", Path.cwd())
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"source must be a mapping, a path to a .yaml, .yml or .toml file, or "
                        f"None, not {type(source).__name__}")
    name = os.fspath(source)
    path = Path(name)
    suffix = path.suffix.lower()
    if suffix not in SPEC_SUFFIXES:
        raise SpecError(f"{name}: unknown spec file extension {path.suffix or '(none)'!r}; "
                        f"allowed: {', '.join(SPEC_SUFFIXES)}")
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise SpecError(f"{name}: cannot read it ({error.strerror or error})") from None
    except UnicodeDecodeError as error:
        raise SpecError(f"{name}: not UTF-8 text ({error})") from None
    data = _read_toml(text, name) if suffix == ".toml" else _read_yaml(text, name)
    if data is None:                        # an empty YAML file: the defaults
        data = {}
    return _spec(data, name, path.absolute().parent)
