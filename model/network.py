"""Integer network description: fully connected LIF layers, validated on construction.

A :class:`Network` is the single source of truth the golden model, the memory-image
compiler, the cycle model and the hardware generator all read. Everything in it is an
integer (docs/design.md §2); every field is checked when the object is built, and an invalid
value raises :class:`ValueError` (or :class:`TypeError` for a wrong kind of value) whose
message names the field and the allowed range.
"""

import zipfile
from dataclasses import dataclass, field

import numpy as np

from .checks import check_choice as _check_choice
from .checks import check_int as _check_int

__all__ = [
    "LEAK_MODES", "RESET_MECHANISMS", "RESET_TIMINGS", "W_BITS_RANGE", "V_BITS_RANGE",
    "MUL_FRAC_RANGE", "INPUT_CODES", "STEPS_RANGE", "X_BITS_RANGE", "Layer", "Network",
    "signed_range",
]

LEAK_MODES = ("none", "shift", "mul")
RESET_MECHANISMS = ("subtract", "zero")
RESET_TIMINGS = ("immediate", "delayed")
W_BITS_RANGE = (2, 16)
V_BITS_RANGE = (3, 32)
MUL_FRAC_RANGE = (1, 16)
#: The input codes a network file may record (``encoder``): as :data:`spikefab.model.encoders.
#: ENCODERS` knows them — given spike trains, the rate code, the latency code, and ``direct``
#: (multi-bit intensities into a first layer that holds its current, docs/design.md §13).
INPUT_CODES = ("spikes", "rate", "latency", "direct")
#: The width of a ``direct`` layer's unsigned input values.
X_BITS_RANGE = (1, 16)
#: The range of the timesteps T a network file may record (``steps``; 16-bit step counters).
STEPS_RANGE = (1, (1 << 16) - 1)


def signed_range(bits):
    """Return ``(lo, hi)``, the inclusive range of a two's-complement ``bits``-bit integer."""
    _check_int("bits", bits, 1, 64)
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _integer_array(name, value, ndim):
    array = np.asarray(value)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {array.shape}")
    if array.dtype == np.bool_:
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64)
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or not np.array_equal(array, np.round(array)):
            raise ValueError(
                f"{name} must hold integers; quantize float weights first "
                f"(spikefab.model.quantize_network)")
        return array.astype(np.int64)
    raise TypeError(f"{name} must be an integer array, not dtype {array.dtype}")


def _check_fits(name, array, bits, unit):
    lo, hi = signed_range(bits)
    if array.size and (array.min() < lo or array.max() > hi):
        bad = array.min() if array.min() < lo else array.max()
        raise ValueError(
            f"{name} holds {int(bad)}, which does not fit {unit} = {bits} "
            f"(signed range [{lo}, {hi}])")


@dataclass(frozen=True, eq=False)
class Layer:
    """One fully connected layer of leaky integrate-and-fire neurons (docs/design.md §2).

    Parameters
    ----------
    weights : int array, shape ``(neurons, fan_in)``
        ``weights[i, j]`` connects input ``j`` to neuron ``i``; every value fits ``w_bits``.
    theta : int
        Firing threshold; a neuron spikes when ``v > theta``. ``1 <= theta <= 2**(v_bits-1) - 2``
        so that a spike is reachable within the membrane range.
    w_bits : int
        Signed weight width, in ``[2, 16]``.
    v_bits : int
        Signed membrane width, in ``[3, 32]``; the membrane saturates to this range.
    bias : int array, shape ``(neurons,)``, optional
        Added to the input current every step; fits ``v_bits``. Default: all zero.
    leak : {"none", "shift", "mul"}
        ``none``: ``leak(v) = v``; ``shift``: ``leak(v) = v - (v >> k)``;
        ``mul``: ``leak(v) = (v * m) >> f``.
    k : int
        Shift of the ``shift`` leak, in ``[0, v_bits - 1]`` (``beta = 1 - 2**-k``).
    m, f : int
        Multiplier and fraction bits of the ``mul`` leak: ``f`` in ``[1, 16]``,
        ``m`` in ``[0, 2**f]`` (``beta = m / 2**f``).
    reset : {"subtract", "zero"}
        Reset mechanism after a spike.
    timing : {"immediate", "delayed"}
        ``immediate`` resets in the step of the spike; ``delayed`` (snnTorch's default)
        applies the reset in the next step and keeps the membrane unreset.
    x_bits, x_shift : int, optional
        A *direct* input layer (docs/design.md §13; the first layer only): its inputs are
        unsigned ``x_bits``-bit values (``[1, 16]``) instead of spikes, and its current is
        held for the sample: ``I_t = ((Σ_(t' <= t) W x_t') >> x_shift) + b``, the sum exact
        over every input value of the sample so far, the shift (``[0, x_bits]``, default
        ``x_bits``) rounding toward −∞. ``None`` (the default): a spiking layer, whose
        current ``W s_t + b`` is made anew every step.
    """

    weights: np.ndarray
    theta: int
    w_bits: int = 8
    v_bits: int = 16
    bias: np.ndarray | None = None
    leak: str = "none"
    k: int | None = None
    m: int | None = None
    f: int | None = None
    reset: str = "subtract"
    timing: str = "immediate"
    x_bits: int | None = None
    x_shift: int | None = None

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, "w_bits", _check_int("w_bits", self.w_bits, *W_BITS_RANGE))
        set_(self, "v_bits", _check_int("v_bits", self.v_bits, *V_BITS_RANGE))
        self._check_weights()

        theta_max = (1 << (self.v_bits - 1)) - 2
        set_(self, "theta", _check_int(f"theta (with v_bits = {self.v_bits})",
                                       self.theta, 1, theta_max))

        if self.bias is None:
            bias = np.zeros(self.neurons, dtype=np.int64)
        else:
            bias = _integer_array("bias", self.bias, 1)
            if bias.shape != (self.neurons,):
                raise ValueError(f"bias must have shape ({self.neurons},) to match "
                                 f"{self.neurons} neurons, got {bias.shape}")
            _check_fits("bias", bias, self.v_bits, "v_bits")
        bias.setflags(write=False)
        set_(self, "bias", bias)

        _check_choice("leak", self.leak, LEAK_MODES)
        _check_choice("reset", self.reset, RESET_MECHANISMS)
        _check_choice("timing", self.timing, RESET_TIMINGS)
        if self.leak == "shift":
            if self.k is None:
                raise ValueError(f"leak 'shift' needs k in [0, {self.v_bits - 1}]")
            set_(self, "k", _check_int("k", self.k, 0, self.v_bits - 1))
        elif self.k is not None:
            raise ValueError(f"k is only used by leak 'shift', not by leak {self.leak!r}")
        if self.leak == "mul":
            if self.f is None or self.m is None:
                raise ValueError(f"leak 'mul' needs f in [{MUL_FRAC_RANGE[0]}, "
                                 f"{MUL_FRAC_RANGE[1]}] and m in [0, 2**f]")
            set_(self, "f", _check_int("f", self.f, *MUL_FRAC_RANGE))
            set_(self, "m", _check_int(f"m (with f = {self.f})", self.m, 0, 1 << self.f))
        elif self.m is not None or self.f is not None:
            raise ValueError(f"m and f are only used by leak 'mul', not by leak {self.leak!r}")
        if self.x_bits is not None:
            set_(self, "x_bits", _check_int("x_bits", self.x_bits, *X_BITS_RANGE))
            shift = self.x_bits if self.x_shift is None else self.x_shift
            set_(self, "x_shift", _check_int(f"x_shift (with x_bits = {self.x_bits})", shift,
                                             0, self.x_bits))
        elif self.x_shift is not None:
            raise ValueError("x_shift is only used by a direct input layer (x_bits given)")

    def _check_weights(self):
        """Validate ``weights`` (an integer matrix fitting ``w_bits``) and freeze it."""
        weights = _integer_array("weights", self.weights, 2)
        if weights.shape[0] < 1 or weights.shape[1] < 1:
            raise ValueError(f"weights must have at least one neuron and one input, "
                             f"got shape {weights.shape}")
        _check_fits("weights", weights, self.w_bits, "w_bits")
        weights.setflags(write=False)
        object.__setattr__(self, "weights", weights)

    @property
    def neurons(self):
        """Number of neurons ``N`` of this layer."""
        return self.weights.shape[0]

    @property
    def fan_in(self):
        """Number of inputs of this layer."""
        return self.weights.shape[1]

    @property
    def direct(self):
        """Whether this is a direct input layer (``x_bits`` given): multi-bit inputs, a
        held current."""
        return self.x_bits is not None

    @property
    def beta(self):
        """The decay factor the leak implements (a float, for documentation and conversion)."""
        if self.leak == "shift":
            return 1.0 - 2.0 ** -self.k
        if self.leak == "mul":
            return self.m / 2 ** self.f
        return 1.0

    def leak_fn(self, v):
        """Apply this layer's leak to an int64 array ``v`` (arithmetic shifts, exact)."""
        if self.leak == "shift":
            return v - (v >> self.k)
        if self.leak == "mul":
            return (v * self.m) >> self.f
        return v

    def current_bound(self):
        """Largest ``|W s + b|`` over all binary input vectors ``s`` (sizes accumulators); for
        a direct layer, the largest ``|W x|`` over inputs ``x`` in ``[0, 2**x_bits - 1]``
        (before the shift; the bias is not in it)."""
        if self.direct:
            x_max = (1 << self.x_bits) - 1
            pos = np.clip(self.weights, 0, None).sum(axis=1) * x_max
            neg = np.clip(self.weights, None, 0).sum(axis=1) * x_max
            return int(max(pos.max(), -neg.min()))
        pos = np.clip(self.weights, 0, None).sum(axis=1) + np.clip(self.bias, 0, None)
        neg = np.clip(self.weights, None, 0).sum(axis=1) + np.clip(self.bias, None, 0)
        return int(max(pos.max(), -neg.min()))

    def replace(self, **changes):
        """Return a copy with some fields changed (validated again)."""
        fields = {name: getattr(self, name) for name in
                  ("weights", "theta", "w_bits", "v_bits", "bias", "leak", "k", "m", "f",
                   "reset", "timing", "x_bits", "x_shift")}
        fields.update(changes)
        if "leak" in changes:  # leak parameters belong to the old mode unless given anew
            for name in ("k", "m", "f"):
                if name not in changes:
                    fields[name] = None
        return Layer(**fields)


@dataclass(frozen=True, eq=False)
class Network:
    """A feed-forward stack of :class:`Layer`; layer ``l``'s fan-in is layer ``l-1``'s size.

    Parameters
    ----------
    layers : sequence of Layer
        At least one layer. ``layers[0].fan_in`` is the input size ``N_0``.
    encoder : {"spikes", "rate", "latency", "direct"}, optional
        The input code the network was trained or converted for (:data:`INPUT_CODES`), or
        ``None`` (not known). Recorded in the network file; the command-line tools code test
        images with it unless told otherwise. The golden model does not read it. A network
        whose first layer is direct (``x_bits`` given) records ``"direct"`` (``None`` becomes
        it), and only such a network may.
    steps : int, optional
        The timesteps T it was trained or converted for, in ``[1, 65535]``, or ``None``.
    """

    layers: tuple = field(default_factory=tuple)
    encoder: str | None = None
    steps: int | None = None

    def __post_init__(self):
        layers = tuple(self.layers)
        if not layers:
            raise ValueError("layers must hold at least one Layer")
        for index, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{index}] must be a Layer, not {type(layer).__name__}")
            if index and layer.fan_in != layers[index - 1].neurons:
                raise ValueError(
                    f"layers[{index}].weights has fan-in {layer.fan_in}, but layers[{index - 1}] "
                    f"has {layers[index - 1].neurons} neurons; shapes must chain")
            # A convolutional layer after another reads its map (C, H, W), not only as many
            # values (spikefab.model.conv.ConvLayer).
            before = getattr(layers[index - 1], "out_map", None) if index else None
            after = getattr(layer, "in_map", None)
            if before is not None and after is not None and before != after:
                raise ValueError(f"layers[{index}] reads a {after} map (C, H, W), but "
                                 f"layers[{index - 1}] makes a {before} map; maps must chain")
        for index, layer in enumerate(layers[1:], 1):
            if getattr(layer, "x_bits", None) is not None:
                raise ValueError(f"layers[{index}] is a direct input layer (x_bits given); only "
                                 f"the first layer may be")
        object.__setattr__(self, "layers", layers)
        direct = getattr(layers[0], "x_bits", None) is not None
        if direct and getattr(layers[0], "kernel", None) is not None:
            raise ValueError("a direct input layer must be fully connected; a convolutional "
                             "first layer takes spikes")
        if direct and self.encoder is None:
            object.__setattr__(self, "encoder", "direct")
        if self.encoder is not None:
            _check_choice("encoder", self.encoder, INPUT_CODES)
            if (self.encoder == "direct") != direct:
                raise ValueError(
                    f"encoder = {self.encoder!r} does not match the first layer: "
                    + ("it is a direct input layer (x_bits given), so the encoder is 'direct'"
                       if direct else "'direct' needs a first layer with x_bits "
                       "(Layer(..., x_bits=8))"))
        if self.steps is not None:
            object.__setattr__(self, "steps", _check_int("steps", self.steps, *STEPS_RANGE))

    def with_input(self, encoder=None, steps=None):
        """This network (the same layers) recording the input code ``encoder`` and the
        timesteps ``steps`` it was trained or converted for (``None``: not known)."""
        return Network(self.layers, encoder=encoder, steps=steps)

    @property
    def n_inputs(self):
        """Input size ``N_0``."""
        return self.layers[0].fan_in

    @property
    def n_outputs(self):
        """Number of output neurons (classes)."""
        return self.layers[-1].neurons

    @property
    def shape(self):
        """Sizes ``(N_0, N_1, ..., N_L)``."""
        return (self.n_inputs,) + tuple(layer.neurons for layer in self.layers)

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __getitem__(self, index):
        return self.layers[index]

    _SCALARS = ("theta", "w_bits", "v_bits", "leak", "k", "m", "f", "reset", "timing",
                "x_bits", "x_shift")

    def save(self, path):
        """Write the network to ``path`` as a NumPy ``.npz`` archive (weights, biases, every
        neuron parameter, and the ``encoder`` and ``steps`` when known); :meth:`load` reads it
        back."""
        arrays = {"format": np.array("spikefab-network-1"), "layers": np.array(len(self))}
        if self.encoder is not None:
            arrays["encoder"] = np.array(self.encoder)
        if self.steps is not None:
            arrays["steps"] = np.array(self.steps)
        for index, layer in enumerate(self.layers):
            if getattr(layer, "kernel", None) is None:          # a ConvLayer keeps its kernel
                arrays[f"l{index}_weights"] = layer.weights
            arrays[f"l{index}_bias"] = layer.bias
            for name in self._SCALARS:
                value = getattr(layer, name, None)
                arrays[f"l{index}_{name}"] = np.array("" if value is None else value)
            if getattr(layer, "kernel", None) is not None:      # a ConvLayer: its structure
                arrays[f"l{index}_kernel"] = layer.kernel
                arrays[f"l{index}_conv"] = np.array(_geometry_numbers(layer.geometry))
                if layer.pool is not None:
                    arrays[f"l{index}_pool"] = np.array(_geometry_numbers(layer.pool))
        with open(path, "wb") as file:
            np.savez_compressed(file, **arrays)

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save`; every value is validated again."""
        try:
            archive = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as error:
            if isinstance(error, OSError) and not isinstance(error, zipfile.BadZipFile):
                raise ValueError(f"{path}: cannot read it ({error.strerror or error})") from None
            raise ValueError(f"{path}: not a spikefab network file (not a NumPy .npz "
                             f"archive)") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: not a spikefab network file (a single .npy array, "
                             f"not an .npz archive)")
        with archive:
            if "format" not in archive or str(archive["format"]) != "spikefab-network-1":
                raise ValueError(f"{path}: not a spikefab network file (no format tag "
                                 f"'spikefab-network-1')")
            layers = []
            try:
                for index in range(int(archive["layers"])):
                    params = {}
                    for name in cls._SCALARS:
                        key = f"l{index}_{name}"
                        if name in ("x_bits", "x_shift") and key not in archive:
                            continue        # written before direct layers existed
                        value = archive[key].item()
                        if value == "":
                            continue
                        params[name] = int(value) if name not in ("leak", "reset",
                                                                  "timing") else value
                    if f"l{index}_kernel" in archive:
                        layers.append(_conv_layer(archive, index, params))
                    else:
                        layers.append(Layer(archive[f"l{index}_weights"],
                                            bias=archive[f"l{index}_bias"], **params))
            except KeyError as error:
                raise ValueError(f"{path}: layer {index} is incomplete (missing "
                                 f"{error.args[0]})") from None
            code = {name: _input_field(path, archive, name) for name in ("encoder", "steps")}
        return cls(layers, **code)


def _input_field(path, archive, name):
    """The optional ``encoder`` or ``steps`` of a network archive (``None`` when absent),
    checked: a bad value raises ``ValueError`` naming the file, the field and what is
    allowed."""
    if name not in archive:
        return None
    value = archive[name]
    if name == "encoder":
        allowed = ", ".join(INPUT_CODES)
        if value.ndim == 0 and value.dtype.kind == "U" and str(value) in INPUT_CODES:
            return str(value)
        raise ValueError(f"{path}: field 'encoder' holds {value.tolist()!r}; allowed values "
                         f"are {allowed}")
    lo, hi = STEPS_RANGE
    if value.ndim == 0 and value.dtype.kind in "iu" and lo <= int(value) <= hi:
        return int(value)
    raise ValueError(f"{path}: field 'steps' holds {value.tolist()!r}; allowed values are "
                     f"the integers in [{lo}, {hi}]")


def _geometry_numbers(geometry):
    """A :class:`~spikefab.model.conv.Conv2dGeometry` as 10 integers (for ``.npz``)."""
    return [geometry.in_channels, geometry.height, geometry.width, geometry.out_channels,
            *geometry.kernel, *geometry.stride, *geometry.padding]


def _conv_layer(archive, index, params):
    """The :class:`~spikefab.model.conv.ConvLayer` ``index`` of a network archive; its
    weights, if the archive holds them (files written before they were left out), must equal
    the kernel's unrolled matrix."""
    from .conv import Conv2dGeometry, ConvLayer

    def geometry(key):
        n = [int(v) for v in archive[key]]
        if len(n) != 10:
            raise ValueError(f"{key} holds {len(n)} numbers, not 10")
        return Conv2dGeometry(*n[:4], tuple(n[4:6]), tuple(n[6:8]), tuple(n[8:10]))
    pool = geometry(f"l{index}_pool") if f"l{index}_pool" in archive else None
    weights = archive[f"l{index}_weights"] if f"l{index}_weights" in archive else None
    return ConvLayer(weights=weights, kernel=archive[f"l{index}_kernel"],
                     geometry=geometry(f"l{index}_conv"), pool=pool,
                     bias=archive[f"l{index}_bias"], **params)

