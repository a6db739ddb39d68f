"""Surrogate-gradient training whose result is exactly what the hardware runs.

:func:`train_snn` trains a LIF network (fully connected, after an optional convolutional front
end) with backpropagation through time and a surrogate gradient, in the **integer domain of docs/design.md §2**: the forward pass of training is
the golden model, with straight-through estimators (STE) where it rounds. After training,
:attr:`TrainedSNN.network` is the integer :class:`~spikefab.model.Network` the forward pass
used, and ``simulate(trained.network, encode_rate(x, T))`` reproduces, spike for spike, what
the training forward pass computes in evaluation (``TrainedSNN.forward_spikes``).

Input
    ``encoding = "rate"`` (default): intensities ``x`` in ``[0, 2**x_bits - 1]`` encoded by
    exactly :func:`spikefab.model.encode_rate` (the deterministic xorshift rate code the
    hardware reproduces): ``trains = x[:, None, :] > rate_thresholds(N0, T)``.
    ``encoding = "latency"``: intensities encoded by exactly
    :func:`spikefab.model.encode_latency` (time to first spike: input ``i`` fires once, at
    step ``((2**x_bits - 1 - x_i) * T) >> x_bits``, if ``x_i > 0``).
    ``encoding = "spikes"``: the data *are* the input spike trains, binary ``[n, T, N0]``
    (e.g. the ON/OFF events of :func:`spikefab.model.saccades.saccade_events`), fed to the
    first layer as they are, as ``simulate`` takes them. ``encoding = "direct"``: no spikes;
    the first layer is a direct input layer (``Layer(x_bits=x_bits, x_shift=x_bits)``,
    docs/design.md §13) whose current is ``floor(W_int · x / 2**x_bits)``, held for the ``T``
    steps — snnTorch's static input (the image ``x / 2**x_bits`` into the first ``Linear``
    every step) in the integer domain, the floor straight-through; the golden model reads
    :func:`spikefab.model.encode_direct`'s values. Either way training and deployment
    see the same trains. With ``shift > 0`` every training sample is first translated by a
    random ``(dy, dx)`` in ``[-shift, shift]^2`` pixels, zero filled, all channels (and all
    steps of a spike train) together — data augmentation on the ``input_shape`` maps
    (default: one square channel); evaluation never shifts.
Weights (QAT)
    Float weights ``W`` are trained; the forward pass uses ``W_int = clip(round(W * s),
    -2**(w_bits-1), 2**(w_bits-1) - 1)`` with the per-layer max-abs scale ``s = (2**(w_bits-1)
    - 1) / max|W|`` of :func:`spikefab.model.weight_scale` (``s`` is not differentiated;
    ``round`` passes the gradient straight through). No biases.
Convolutional layers
    ``conv = ((channels, kernel, stride, padding, pool), ...)`` puts conv layers first (on the
    images as ``input_shape = (C, H, W)``, default ``(1, side, side)``), then the ``hidden``
    layers. Kernels ``[C_out, C_in, k, k]`` are quantized as weights are (per layer scale,
    ``theta`` at that scale); a layer's ``pool > 1`` sums its input in non-overlapping
    ``pool x pool`` windows (the sum of a reshape, exact) and its current is
    ``torch.nn.functional.conv2d`` of the integer kernel (NNPACK disabled: not exact). No
    biases. The network holds :class:`~spikefab.model.conv.ConvLayer` s
    (docs/design.md §12). Pruning keeps the largest kernel weights of the whole layer
    (``lanes`` applies to fully connected layers only).
Threshold units
    ``threshold`` is in the **units of the float weights**, as in snnTorch (whose default is
    1): each layer fires when ``v > theta_int`` with ``theta_int = clip(round(threshold * s),
    1, 2**(v_bits-1) - 2)`` at the same per-layer scale ``s`` as its weights (the rule of
    :func:`spikefab.model.quantize_layer`). So the float network being trained is an
    snnTorch-style network with threshold ``threshold``, and each layer finds its own ratio of
    threshold to largest weight (``theta_int / (2**(w_bits-1) - 1) = threshold / max|W|``) by
    the size its weights grow to; ``theta_int`` follows ``s`` at every step and is not
    differentiated.
Leak
    ``beta`` maps to the hardware leak by :func:`spikefab.model.leak_for_beta`: ``shift``
    ``beta -> 1 - 2**-k`` (nearest ``k``), ``leak(v) = v - floor(v / 2**k)``; ``mul``
    ``beta -> m / 2**8``, ``leak(v) = floor(v * m / 2**8)``; ``beta == 1`` means no leak. The
    floors are exact in the forward pass and straight-through in the backward pass.
Reset and timing
    ``reset`` (``subtract`` / ``zero``) and ``timing`` (``delayed``, snnTorch's default, /
    ``immediate``) exactly as docs/design.md §2, with the membrane saturated to the signed
    ``v_bits`` range (``clamp``: no gradient where it saturates). The reset term is detached
    from the graph (as snnTorch does).
Spikes
    ``s = v > theta_int`` (strict). The backward pass uses snnTorch's own surrogate,
    ``snntorch.surrogate.fast_sigmoid(slope=slope)`` or ``snntorch.surrogate.atan(alpha=slope)``,
    applied to ``(v - theta_int) / theta_int``: the membrane in units of the threshold, as in
    snnTorch with its default ``threshold = 1`` (dividing by ``theta_int > 0`` keeps the sign,
    so the forward spike is still exactly ``v > theta_int``).
Loss
    Cross-entropy of the **output spike counts** over the ``T`` steps (the counts are the
    logits; the hardware's class is their arg-max) plus ``activity`` times the mean spike rate
    (spikes per neuron per step, averaged over the layers): ``loss = CE(counts, y) +
    activity * mean_l rate_l``.
Pruning
    After ``epochs`` epochs, when ``density < 1``, each layer's float weights are pruned by
    :func:`spikefab.model.prune` (``lanes`` balances per PE lane, capped at the layer's
    neuron count, as ``HardwareConfig.uniform`` caps lanes) and ``finetune_epochs`` more epochs
    train with that mask fixed. A kept weight is quantized to at least magnitude 1 (``sign(W) *
    clip(round(|W s|), 1, 2**(w_bits-1) - 1)``), so the final network keeps exactly the weights
    ``prune`` keeps: its density is prune's, and pruning it again changes nothing.
Optimizer
    Adam, learning rate ``lr`` on a cosine schedule over each phase, mini-batches of
    ``batch_size`` in an order drawn from ``numpy.random.default_rng(seed)``; initial weights
    from ``torch.manual_seed(seed)`` (PyTorch ``Linear``'s uniform init). Two runs with the same
    arguments on the same machine give the same network.

Defaults
    Tuned on MNIST 784-128-10 at T = 25 with 4-bit weights (the 4,000 / 1,000 split of the
    bundled images, :func:`spikefab.model.mnist_split`): ``TrainConfig()`` — 30 epochs,
    ``shift = 1`` augmentation, ``beta = 1 - 2**-4``, ``threshold = 1``, fast sigmoid slope 25,
    Adam 2e-3, batches of 64 — reaches 95.1 % golden-model test accuracy (Spiker+ reports
    93.85 % at T = 100) in 37 s of training on two CPU cores. Training runs on at most two
    torch threads (restored afterwards).

torch and snnTorch belong to the ``train`` extra (``pip install 'spikefab[train]'``) and are
imported only inside the functions that use them.
"""

import math
import os
import time
from dataclasses import dataclass, field

import numpy as np

from spikefab.toolchain.progress import stage

from .checks import check_choice, check_int, need
from .conv import MAX_CHANNELS, MAX_KERNEL, MAX_SIDE, Conv2dGeometry, ConvLayer, sum_pool_geometry
from .encoders import X_BITS_RANGE, _intensities, _latency_steps, rate_thresholds
from .network import RESET_MECHANISMS, RESET_TIMINGS, V_BITS_RANGE, W_BITS_RANGE, Layer, Network
from .quantize import leak_for_beta, prune
from .simulate import simulate

__all__ = ["ENCODINGS", "LEAK_CHOICES", "MUL_FRAC", "SHIFT_RANGE", "SURROGATES", "TrainConfig",
           "TrainedSNN", "conv_plan", "golden_predictions", "theta_for", "train_snn"]

LEAK_CHOICES = ("shift", "mul")
ENCODINGS = ("rate", "latency", "spikes", "direct")
SURROGATES = ("fast_sigmoid", "arctan")
MUL_FRAC = 8                 # f of the mul leak: beta = m / 2**8
SHIFT_RANGE = (0, 8)
EVAL_CHUNK = 500


def _check_float(name, value, lo, hi, *, low_open=False, high_open=False):
    interval = f"{'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                      np.floating)):
        raise TypeError(f"{name} must be a number in {interval}, not {value!r}")
    value = float(value)
    ok = (math.isfinite(value) or hi == math.inf and value == math.inf) \
        and (lo < value if low_open else lo <= value) \
        and (value < hi if high_open else value <= hi)
    if not ok:
        raise ValueError(f"{name} = {value} is out of range; allowed range is {interval}")
    return value


def theta_for(threshold, scale, v_bits):
    """``theta_int = clip(round(threshold * scale), 1, 2**(v_bits-1) - 2)``: the integer
    threshold of a float ``threshold`` at a layer's weight ``scale``."""
    return int(min(max(1, np.round(threshold * scale)), (1 << (v_bits - 1)) - 2))


@dataclass(frozen=True)
class TrainConfig:
    """What :func:`train_snn` trains and how (module notes give the exact rules).

    Network: ``hidden`` layer sizes (the output layer has one neuron per class), ``steps`` T,
    ``beta`` (mapped to the hardware leak of ``leak_mode``), ``threshold`` (in units of the
    largest weight), ``reset``, ``timing``, ``w_bits``, ``v_bits`` (membrane width, saturating),
    ``x_bits`` (input intensities). Training: ``surrogate`` with ``slope``, ``epochs``,
    ``batch_size``, ``lr``, ``seed``, ``activity`` (weight of the spike-rate regularizer),
    ``shift`` (augmentation by random translations of up to ``shift`` pixels). Sparsity:
    ``density`` kept by magnitude pruning (``lanes``-balanced when set), then
    ``finetune_epochs``. Convolutional front end: ``conv``, one ``(channels, kernel, stride,
    padding, pool)`` per conv layer (``pool`` 1 = none, else a non-overlapping sum pool of
    the layer's input). Input: ``input_shape`` ``(C, H, W)`` of the images (default ``(1,
    side, side)``: the maps the conv layers read and ``shift`` translates; a fully connected
    network reads them flat) and ``encoding`` ``"rate"`` (intensities, rate coded),
    ``"latency"`` (intensities, time-to-first-spike coded), ``"spikes"`` (the data are the
    input spike trains) or ``"direct"`` (the intensities into a direct first layer, fully
    connected: not with ``conv``). Every field is checked; a bad one
    raises ``ValueError`` (or ``TypeError``) naming it and its allowed range.
    """

    hidden: tuple = (128,)
    steps: int = 25
    beta: float = 1 - 2 ** -4
    leak_mode: str = "shift"
    threshold: float = 1.0
    reset: str = "subtract"
    timing: str = "delayed"
    surrogate: str = "fast_sigmoid"
    slope: float = 25.0
    w_bits: int = 4
    density: float = 1.0
    lanes: int | None = None
    activity: float = 0.0
    epochs: int = 30
    finetune_epochs: int = 3
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    x_bits: int = 8
    v_bits: int = 16
    shift: int = 1
    conv: tuple = ()
    input_shape: tuple | None = None
    encoding: str = "rate"

    def __post_init__(self):
        set_ = object.__setattr__
        hidden = self.hidden
        if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (tuple, list)):
            raise TypeError(f"hidden must be a tuple of layer sizes in [1, 65536], not "
                            f"{hidden!r}")
        set_(self, "hidden", tuple(check_int(f"hidden[{i}]", h, 1, 1 << 16)
                                   for i, h in enumerate(hidden)))
        set_(self, "steps", check_int("steps", self.steps, 1, (1 << 16) - 1))
        set_(self, "beta", _check_float("beta", self.beta, 0.0, 1.0))
        check_choice("leak_mode", self.leak_mode, LEAK_CHOICES)
        check_choice("reset", self.reset, RESET_MECHANISMS)
        check_choice("timing", self.timing, RESET_TIMINGS)
        check_choice("surrogate", self.surrogate, SURROGATES)
        set_(self, "slope", _check_float("slope", self.slope, 0.0, 1e6, low_open=True))
        set_(self, "w_bits", check_int("w_bits", self.w_bits, *W_BITS_RANGE))
        set_(self, "v_bits", check_int("v_bits", self.v_bits, *V_BITS_RANGE))
        set_(self, "threshold", _check_float("threshold", self.threshold, 0.0, 1e6,
                                             low_open=True))
        set_(self, "density", _check_float("density", self.density, 0.0, 1.0, low_open=True))
        if self.lanes is not None:
            set_(self, "lanes", check_int("lanes", self.lanes, 1, 1 << 16))
        set_(self, "activity", _check_float("activity", self.activity, 0.0, 1e6))
        set_(self, "epochs", check_int("epochs", self.epochs, 1, 100_000))
        set_(self, "finetune_epochs", check_int("finetune_epochs", self.finetune_epochs, 0,
                                                100_000))
        set_(self, "batch_size", check_int("batch_size", self.batch_size, 1, 1 << 16))
        set_(self, "lr", _check_float("lr", self.lr, 0.0, 10.0, low_open=True))
        set_(self, "seed", check_int("seed", self.seed, 0, (1 << 32) - 1))
        set_(self, "x_bits", check_int("x_bits", self.x_bits, *X_BITS_RANGE))
        set_(self, "shift", check_int("shift", self.shift, *SHIFT_RANGE))
        set_(self, "conv", _check_conv(self.conv))
        check_choice("encoding", self.encoding, ENCODINGS)
        if self.encoding == "direct" and self.conv:
            raise ValueError("encoding = 'direct' needs a fully connected first layer; conv is "
                             "not allowed with it (a convolutional first layer takes spikes)")
        if self.input_shape is not None:
            shape = self.input_shape
            if not isinstance(shape, (tuple, list)) or len(shape) != 3:
                raise TypeError(f"input_shape must be (channels, height, width) with channels "
                                f"in [1, {MAX_CHANNELS}] and sides in [1, {MAX_SIDE}], not "
                                f"{shape!r}")
            set_(self, "input_shape", tuple(
                check_int(f"input_shape[{i}]", v, 1, MAX_CHANNELS if i == 0 else MAX_SIDE)
                for i, v in enumerate(shape)))
            if self.conv:
                conv_plan(self, self.input_shape)     # the maps must chain

    @property
    def leak(self):
        """The hardware leak of ``beta``: ``{"leak": "shift", "k": k}``,
        ``{"leak": "mul", "m": m, "f": 8}`` or ``{"leak": "none"}``."""
        return leak_for_beta(self.beta, mode=self.leak_mode, f=MUL_FRAC)

    @property
    def hardware_beta(self):
        """The decay the hardware leak implements exactly (``1 - 2**-k``, ``m / 2**8`` or 1)."""
        leak = self.leak
        if leak["leak"] == "shift":
            return 1.0 - 2.0 ** -leak["k"]
        if leak["leak"] == "mul":
            return leak["m"] / 2 ** leak["f"]
        return 1.0

    def as_dict(self):
        """The fields, JSON-ready."""
        return {name: ([list(v) if isinstance(v, tuple) else v for v in value]
                       if isinstance(value, tuple) else value)
                for name, value in self.__dict__.items()}


#: The fields of one ``TrainConfig.conv`` entry and their allowed ranges.
CONV_FIELDS = (("channels", 1, MAX_CHANNELS), ("kernel", 1, MAX_KERNEL),
               ("stride", 1, MAX_KERNEL), ("padding", 0, MAX_KERNEL - 1),
               ("pool", 1, MAX_KERNEL))


def _check_conv(conv):
    """``conv`` as a tuple of ``(channels, kernel, stride, padding, pool)`` int tuples."""
    spelling = "(channels, kernel, stride, padding, pool)"
    if not isinstance(conv, (tuple, list)):
        raise TypeError(f"conv must be a tuple of {spelling} tuples, not {conv!r}")
    layers = []
    for index, entry in enumerate(conv):
        if not isinstance(entry, (tuple, list)) or len(entry) != len(CONV_FIELDS):
            raise TypeError(f"conv[{index}] must be {spelling}, five integers, not {entry!r}")
        values = tuple(check_int(f"conv[{index}].{name}", value, lo, hi)
                       for (name, lo, hi), value in zip(CONV_FIELDS, entry))
        if values[3] > values[1] - 1:
            raise ValueError(f"conv[{index}].padding = {values[3]} is out of range; allowed "
                             f"range is [0, {values[1] - 1}] (kernel {values[1]})")
        layers.append(values)
    return tuple(layers)


def conv_plan(config, input_shape):
    """The maps of ``config.conv`` on ``input_shape`` ``(C, H, W)``: one ``(pool, geometry)``
    pair per conv layer (``pool`` a non-overlapping :func:`~spikefab.model.conv.\
sum_pool_geometry` of the layer's input, or None; ``geometry`` its
    :class:`~spikefab.model.conv.Conv2dGeometry`). A map that does not chain raises
    ``ValueError`` naming the conv layer."""
    plan, shape = [], tuple(input_shape)
    for index, (channels, kernel, stride, padding, pool) in enumerate(config.conv):
        try:
            pooled = None
            if pool > 1:
                if min(shape[1:]) < pool:
                    raise ValueError(f"the pool ({pool}) is larger than the input map "
                                     f"{shape[0]}x{shape[1]}x{shape[2]}")
                pooled = sum_pool_geometry(*shape, pool)
                shape = pooled.out_shape
            geometry = Conv2dGeometry(*shape, channels, kernel, stride, padding)
        except ValueError as error:
            raise ValueError(f"conv[{index}]: {error}") from None
        plan.append((pooled, geometry))
        shape = geometry.out_shape
    return plan


# --- the integer forward pass -----------------------------------------------------------------

def _libraries():
    torch = need("torch", "training", extra="train")
    need("snntorch", "training", extra="train")
    surrogate = need("snntorch.surrogate", "training", extra="train")
    return torch, surrogate


def _spike_function(config, surrogate):
    if config.surrogate == "fast_sigmoid":
        return surrogate.fast_sigmoid(slope=config.slope)
    return surrogate.atan(alpha=config.slope)


def _fan_ins(sizes, plan=()):
    """The largest number of inputs (spikes, or pooled spike counts counted once per spike)
    one neuron of each layer sums: ``C_in * kh * kw * (pool window)`` for a conv layer, the
    previous layer's size for a fully connected one."""
    conv = [g.in_channels * g.kernel[0] * g.kernel[1]
            * (1 if pool is None else pool.kernel[0] * pool.kernel[1]) for pool, g in plan]
    return (*conv, *sizes[len(conv):-1])


def _dtype(torch, config, sizes, plan=()):
    """float32 when every intermediate value is an integer below 2**24 (exact), else float64.
    ``sizes`` are the layer sizes, input first; ``plan`` the conv layers' maps
    (:func:`conv_plan`), whose fan-in is their kernel's (times the pool window), not the
    previous map's size. A direct first layer sums inputs up to ``2**x_bits - 1``."""
    qmax = (1 << (config.w_bits - 1))
    frac = MUL_FRAC if config.leak["leak"] == "mul" else 0
    fan_ins = list(_fan_ins(sizes, plan))
    if config.encoding == "direct":
        fan_ins[0] *= (1 << config.x_bits) - 1
    worst = max(fan_ins) * qmax + (1 << (config.v_bits - 1)) * ((1 << frac) + 1)
    return torch.float32 if worst < (1 << 24) else torch.float64


def _quantize(torch, weight, mask, config):
    """``(W_int, theta_int)`` of one layer: the integer weights the forward pass uses (exact
    integer values, straight-through gradient) and the threshold at the same scale."""
    qmax = (1 << (config.w_bits - 1)) - 1
    peak = float(weight.detach().abs().max())
    scale = qmax / peak if peak > 0 else 1.0
    theta = theta_for(config.threshold, scale, config.v_bits)
    x = weight * scale
    if mask is None:
        q = torch.clamp(torch.round(x.detach()), -qmax - 1, qmax)
        return x - x.detach() + q, theta
    magnitude = torch.clamp(torch.round(x.detach().abs()), 1, qmax)
    q = torch.sign(x.detach()) * magnitude * mask
    return (x - x.detach()) * mask + q, theta


def _floor(torch, x):
    return x - x.detach() + torch.floor(x.detach())


def _sum_pool(torch, maps, pool):
    """The non-overlapping sum pool ``pool`` of ``maps`` ``[B, C, H, W]``: the sum of a
    reshape (exact; rows and columns beyond the last full window dropped)."""
    (kh, kw), (oh, ow) = pool.kernel, (pool.out_height, pool.out_width)
    batch, channels = maps.shape[:2]
    return maps[:, :, :oh * kh, :ow * kw].reshape(batch, channels, oh, kh, ow, kw).sum((3, 5))


def _current(torch, weight, spikes, spec):
    """The input current of one layer for ``spikes`` ``[..., fan_in]``: ``spikes @ W.T`` for a
    fully connected layer (``spec`` None); for a conv layer (``spec = (pool, geometry)``,
    ``weight`` the kernel ``[C_out, C_in, kh, kw]``) the optional sum pool then
    ``torch.nn.functional.conv2d``, flattened in C, H, W order."""
    if spec is None:
        return spikes @ weight.t()
    pool, geometry = spec
    lead = spikes.shape[:-1]
    maps = spikes.reshape(-1, *(pool or geometry).in_shape)
    if pool is not None:
        maps = _sum_pool(torch, maps, pool)
    out = torch.nn.functional.conv2d(maps, weight, stride=geometry.stride,
                                     padding=geometry.padding)
    return out.reshape(*lead, -1)


def _forward(torch, layers, trains, config, spike_fn, dtype, plan=()):
    """Run the integer LIF network ``layers`` (``(W_int, theta_int)`` pairs; a conv layer's
    ``W_int`` is its kernel) on ``trains`` ``[B, T, N0]``; return ``(counts, spikes)`` with
    ``spikes`` a list of ``[B, T, N_l]`` tensors. ``plan`` (:func:`conv_plan`) gives the maps
    of the first ``len(plan)`` layers, which are convolutional. With ``config.encoding =
    "direct"`` the ``trains`` are input values and the first layer's current is
    ``floor(Σ_(t' <= t) W x_t' / 2**x_bits)`` (docs/design.md §13)."""
    leak = config.leak
    weights = [w.to(dtype) for w, _ in layers]
    thetas = [float(theta) for _, theta in layers]
    specs = list(plan) + [None] * (len(layers) - len(plan))
    lo, hi = -(1 << (config.v_bits - 1)), (1 << (config.v_bits - 1)) - 1
    batch, steps, _ = trains.shape

    def leak_fn(v):
        if leak["leak"] == "shift":
            return v - _floor(torch, v / (1 << leak["k"]))
        if leak["leak"] == "mul":
            return _floor(torch, v * leak["m"] / (1 << leak["f"]))
        return v

    # NNPACK (which torch may pick for float32 conv2d) uses Winograd / FFT transforms: not
    # exact for integers. oneDNN's direct convolution and im2col + GEMM are.
    with torch.backends.nnpack.flags(enabled=False):
        first = _current(torch, weights[0], trains, specs[0])   # [B, T, N1]: all steps at once
        if config.encoding == "direct":      # the held current: exact sums, then the shift
            first = _floor(torch, torch.cumsum(first, dim=1) / (1 << config.x_bits))
        sizes = [first.shape[-1]] + [
            w.shape[0] if spec is None else spec[1].n_outputs
            for w, spec in zip(weights[1:], specs[1:])]
        v = [torch.zeros(batch, n, dtype=dtype) for n in sizes]
        r = [torch.zeros(batch, n, dtype=dtype) for n in sizes]
        out = [[] for _ in weights]
        for t in range(steps):
            s = None
            for index, w in enumerate(weights):
                theta = thetas[index]
                current = first[:, t] if index == 0 else _current(torch, w, s, specs[index])
                if config.timing == "immediate":
                    u = torch.clamp(leak_fn(v[index]) + current, lo, hi)
                    s = spike_fn((u - theta) / theta).to(dtype)
                    fired = s.detach()
                    v[index] = u - fired * theta if config.reset == "subtract" else \
                        u * (1 - fired)
                else:
                    if config.reset == "subtract":
                        u = torch.clamp(leak_fn(v[index]) + current - r[index] * theta, lo, hi)
                    else:
                        u = torch.clamp(leak_fn(v[index]) * (1 - r[index]) + current, lo, hi)
                    s = spike_fn((u - theta) / theta).to(dtype)
                    v[index] = u
                r[index] = s.detach()
                out[index].append(s)
    spikes = [torch.stack(layer, dim=1) for layer in out]
    return spikes[-1].sum(dim=1), spikes


def _shifted(samples, maps, shift, rng):
    """Each sample (``[n, N0]`` images or ``[n, T, N0]`` spike trains, ``N0`` the ``maps``
    ``(C, H, W)`` in C, H, W order) translated by a random ``(dy, dx)`` in ``[-shift,
    shift]``, zero filled: all channels and steps of a sample by the same offset."""
    count, (_, height, width) = len(samples), maps
    planes = samples.reshape(count, -1, height, width)
    padded = np.zeros((count, planes.shape[1], height + 2 * shift, width + 2 * shift),
                      dtype=samples.dtype)
    padded[:, :, shift:shift + height, shift:shift + width] = planes
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, count))
    out = np.empty_like(planes)
    for i in range(count):
        out[i] = padded[i, :, dy[i]:dy[i] + height, dx[i]:dx[i] + width]
    return out.reshape(samples.shape)


# --- the result -------------------------------------------------------------------------------

@dataclass(eq=False)
class TrainedSNN:
    """What :func:`train_snn` returns.

    Members
    -------
    config : TrainConfig
    network : Network
        The integer network the forward pass computes (the hardware's input).
    history : list of dict
        One per epoch: ``epoch``, ``phase`` (``"train"`` or ``"finetune"``), ``loss``,
        ``train_accuracy`` (on the epoch's training batches, as trained), ``spike_rate`` (spikes
        per neuron per step, one per layer), ``seconds``, and ``test_accuracy`` (golden model)
        when :func:`train_snn` was given ``test`` data.
    weights : list of float arrays
        The final float weights (before quantization); ``masks`` the pruning masks (or None).
    seconds : float
        Wall time of the training.
    """

    config: TrainConfig
    network: Network
    history: list = field(default_factory=list)
    weights: list = field(default_factory=list, repr=False)
    masks: list = field(default_factory=list, repr=False)
    seconds: float = 0.0

    def forward_spikes(self, trains):
        """The training forward pass in evaluation mode on binary ``trains`` ``[B, T, N0]``
        (``encoding = "direct"``: the input values, as :func:`~spikefab.model.encode_direct`
        makes them): every layer's spikes as bool arrays ``[B, T, N_l]`` (equal to the golden model's)."""
        torch, surrogate = _libraries()
        trains = np.asarray(trains)
        if trains.ndim == 2:
            trains = trains[None]
        plan = _network_plan(self.network)
        dtype = _dtype(torch, self.config, self.network.shape, plan)
        weights = [torch.tensor(w) for w in self.weights]
        masks = [None if m is None else torch.tensor(m, dtype=w.dtype)
                 for m, w in zip(self.masks, weights)]
        with torch.no_grad():
            integers = [_quantize(torch, w, m, self.config) for w, m in zip(weights, masks)]
            _, spikes = _forward(torch, integers, torch.tensor(trains, dtype=dtype),
                                 self.config, _spike_function(self.config, surrogate), dtype,
                                 plan)
        return [s.numpy().astype(bool) for s in spikes]

    def predict(self, images):
        """Golden-model classes of intensity ``images`` ``[n, N0]`` (rate, latency or direct
        code, ``T`` steps, as ``config.encoding``), or of spike trains ``[n, T, N0]`` when ``config.encoding`` is ``"spikes"``."""
        return golden_predictions(self.network, images, self.config.steps,
                                  x_bits=self.config.x_bits, encoding=self.config.encoding)[0]

    def accuracy(self, images, labels):
        """Golden-model accuracy (:func:`spikefab.model.simulate` on the ``encode_rate`` or
        ``encode_latency`` trains or ``encode_direct`` values, or on the given trains for ``encoding = "spikes"``) on ``images`` with
        ``labels`` ``[n]``."""
        labels = np.asarray(labels)
        return float((self.predict(images) == labels).mean())

    def snntorch_module(self):
        """The network as an snnTorch model: ``torch.nn.Sequential`` of ``Linear`` (bias-free,
        weights = the integer weights as float32) and ``snntorch.Leaky`` (``beta`` = the
        hardware's exact decay, ``threshold = theta_int``, per-neuron tensors of the layer's
        shape; ``reset_mechanism`` = ``reset``; ``reset_delay`` for ``delayed`` timing;
        ``init_hidden=True``; the last one ``output=True``). A conv layer is ``[AvgPool2d(k,
        divisor_override=1)] → Conv2d`` (the sum pool and the integer kernel; a channel bias
        if it has one) and its Leaky works on the ``(C, H, W)`` map; an ``nn.Flatten`` goes
        where a map meets a fully connected layer, so the module takes ``[B, C, H, W]``
        input. snnTorch leaks by ``beta * v`` in floating point, so it equals the golden
        model exactly only where the leak does (``beta`` = 1 or 0, or no membrane that the
        leak must round). :func:`spikefab.model.nir_io.snntorch_to_nir` reads it back. A
        direct first layer's ``Linear`` holds ``W_int / 2**x_shift``: feed it the intensities
        every step (snnTorch's static input); its current lacks the golden model's floor."""
        torch, _ = _libraries()
        snntorch = need("snntorch", "snntorch_module", extra="train")
        beta = self.config.hardware_beta
        modules = []
        for index, layer in enumerate(self.network):
            kernel = getattr(layer, "kernel", None)
            if kernel is not None:
                geometry, pool = layer.geometry, layer.pool
                if pool is not None:
                    modules.append(torch.nn.AvgPool2d(pool.kernel, pool.stride, pool.padding,
                                                      divisor_override=1))
                synapse = torch.nn.Conv2d(geometry.in_channels, geometry.out_channels,
                                          geometry.kernel, geometry.stride, geometry.padding,
                                          bias=bool(np.any(layer.channel_bias)))
                shape, weight = geometry.out_shape, kernel
            else:
                if index and getattr(self.network.layers[index - 1], "kernel", None) \
                        is not None:
                    modules.append(torch.nn.Flatten())
                synapse = torch.nn.Linear(layer.fan_in, layer.neurons, bias=False)
                shape, weight = (layer.neurons,), layer.weights
                if getattr(layer, "direct", False):
                    weight = layer.weights / (1 << layer.x_shift)
            with torch.no_grad():
                synapse.weight.copy_(torch.tensor(weight, dtype=torch.float32))
                if synapse.bias is not None:
                    synapse.bias.copy_(torch.tensor(layer.channel_bias, dtype=torch.float32))
            modules.append(synapse)
            modules.append(snntorch.Leaky(
                beta=torch.full(shape, beta, dtype=torch.float32),
                threshold=torch.full(shape, float(layer.theta), dtype=torch.float32),
                reset_mechanism=layer.reset, reset_delay=layer.timing == "delayed",
                init_hidden=True, output=index == len(self.network) - 1))
        return torch.nn.Sequential(*modules)


def golden_predictions(network, images, steps, *, x_bits=8, chunk=EVAL_CHUNK, encoding="rate"):
    """Golden-model classes of intensity ``images`` ``[n, N0]`` (rate coded over ``steps``,
    latency coded with ``encoding = "latency"``, the values of
    :func:`~spikefab.model.encode_direct` with ``"direct"``) and the mean spike rate (spikes per
    neuron per step; a direct input's non-zero values) of the input and of every layer,
    ``chunk`` images at a time. With ``encoding = "spikes"`` the ``images`` are the input
    spike trains ``[n, steps, N0]`` themselves."""
    from .encoders import encode_direct, encode_latency, encode_rate
    check_choice("encoding", encoding, ENCODINGS)
    encoder = {"latency": encode_latency, "direct": encode_direct}.get(encoding, encode_rate)
    images = np.asarray(images)
    if encoding == "spikes":
        _check_trains(images, steps, network.n_inputs)
    predicted, totals = [], np.zeros(len(network) + 1)
    for start in range(0, len(images), chunk):
        trains = images[start:start + chunk] if encoding == "spikes" else \
            encoder(images[start:start + chunk], steps, x_bits=x_bits)
        result = simulate(network, trains)
        predicted.append(result.predicted)
        totals += [np.count_nonzero(trains)] + [s.sum() for s in result.spikes]
    sizes = np.array(network.shape, dtype=np.float64) * steps * max(len(images), 1)
    return (np.concatenate(predicted) if predicted else np.zeros(0, np.int64)), totals / sizes


# --- training ---------------------------------------------------------------------------------

def _check_trains(trains, steps, inputs=None):
    """``trains`` as a bool array ``[n, steps, inputs]`` of 0/1 values (n >= 1)."""
    array = np.asarray(trains)
    if array.ndim != 3 or len(array) < 1 or array.shape[1] != steps \
            or (inputs is not None and array.shape[2] != inputs):
        raise ValueError(f"spike trains must have shape [n, steps = {steps}, "
                         f"{'inputs' if inputs is None else inputs}] with n >= 1, got "
                         f"{array.shape}")
    if array.dtype != np.bool_:
        if not (np.issubdtype(array.dtype, np.integer)
                or np.issubdtype(array.dtype, np.floating)) \
                or not np.isin(array, (0, 1)).all():
            raise ValueError("spike trains must hold 0 and 1 only (binary spikes)")
        array = array.astype(bool)
    return array


def _check_data(images, labels, config):
    if config.encoding == "spikes":
        try:
            values = _check_trains(images, config.steps)
        except ValueError as error:
            raise ValueError(f"images: {error} (encoding = 'spikes')") from None
    else:
        try:
            values, batched = _intensities(images, config.x_bits)
        except (TypeError, ValueError) as error:
            raise type(error)(f"images: {error}") from None
        if not batched or len(values) < 1:
            raise ValueError(f"images must have shape [n, inputs] with n >= 1, got "
                             f"{np.asarray(images).shape}")
    labels = np.asarray(labels)
    if labels.shape != (len(values),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {len(values)} integers (one per image), got shape "
                         f"{labels.shape} and dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"labels must be class indices >= 0, got {labels.min()}")
    return values, labels.astype(np.int64)


def _network(config, layers, plan=()):
    """The :class:`Network` of ``(W_int, theta_int)`` pairs (tensors and ints): a
    :class:`~spikefab.model.conv.ConvLayer` for each conv layer of ``plan``
    (:func:`conv_plan`; its ``W_int`` is the kernel), a :class:`Layer` for the rest; the
    network records the input code and T of ``config`` (``encoder``, ``steps``)."""
    built = []
    for index, (w, theta) in enumerate(layers):
        integers = np.round(w.detach().numpy()).astype(np.int64)
        neuron = dict(theta=theta, w_bits=config.w_bits, v_bits=config.v_bits,
                      reset=config.reset, timing=config.timing, **config.leak)
        if index < len(plan):
            pool, geometry = plan[index]
            built.append(ConvLayer(kernel=integers, geometry=geometry, pool=pool, **neuron))
        elif index == 0 and config.encoding == "direct":
            built.append(Layer(integers, x_bits=config.x_bits, x_shift=config.x_bits, **neuron))
        else:
            built.append(Layer(integers, **neuron))
    return Network(built, encoder=config.encoding, steps=config.steps)


def _network_plan(network):
    """The ``(pool, geometry)`` of the network's leading ConvLayers (:func:`conv_plan`)."""
    plan = []
    for layer in network:
        if not isinstance(layer, ConvLayer):
            break
        plan.append((layer.pool, layer.geometry))
    return plan


def train_snn(images, labels, config=TrainConfig(), *, progress=True, test=None, classes=None):
    """Train an SNN on intensity ``images`` ``[n, inputs]`` (integers in ``[0, 2**x_bits -
    1]``), or on input spike trains ``[n, T, inputs]`` (binary) when ``config.encoding`` is
    ``"spikes"``, and ``labels`` ``[n]``; returns a :class:`TrainedSNN` (see the module notes for the
    exact forward pass, loss, pruning and seeds).

    ``test=(images, labels)`` adds the golden model's test accuracy to every epoch's history
    entry; ``classes`` (default ``max(labels) + 1``) sets the output layer's size;
    ``progress=False`` hides the progress of the epochs
    (:func:`spikefab.toolchain.progress.stage`, on standard error).
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, not {type(config).__name__}")
    torch, surrogate = _libraries()
    values, labels = _check_data(images, labels, config)
    classes = int(labels.max()) + 1 if classes is None else check_int(
        "classes", classes, int(labels.max()) + 1, 1 << 16)
    n, inputs = len(values), values.shape[-1]
    side = math.isqrt(inputs)
    plan, maps = (), config.input_shape      # maps: what conv reads and shift translates
    if maps is None:
        if side * side != inputs and config.conv:
            raise ValueError(f"conv needs input_shape (channels, height, width): {inputs} "
                             f"inputs are not a square image")
        if side * side != inputs and config.shift:
            raise ValueError(f"shift = {config.shift} needs square images (or input_shape); "
                             f"{inputs} inputs are not a square (use shift = 0)")
        maps = (1, side, side)
    elif math.prod(maps) != inputs:
        raise ValueError(f"input_shape {maps} has {math.prod(maps)} inputs; the images "
                         f"have {inputs}")
    if config.conv:
        plan = conv_plan(config, maps)
    sizes = (inputs, *(g.n_outputs for _, g in plan), *config.hidden, classes)
    began = time.perf_counter()

    threads = torch.get_num_threads()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    try:
        torch.manual_seed(config.seed)
        rng = np.random.default_rng(config.seed)
        dtype = _dtype(torch, config, sizes, plan)
        weights = []
        for _, geometry in plan:
            shape = (geometry.out_channels, geometry.in_channels, *geometry.kernel)
            w = torch.empty(shape, dtype=torch.float32)
            bound = 1 / math.sqrt(math.prod(shape[1:]))   # torch.nn.Conv2d's default
            torch.nn.init.uniform_(w, -bound, bound)
            weights.append(torch.nn.Parameter(w))
        for fan_in, neurons in zip(sizes[len(plan):-1], sizes[len(plan) + 1:]):
            w = torch.empty(neurons, fan_in, dtype=torch.float32)
            bound = 1 / math.sqrt(fan_in)     # torch.nn.Linear's default (kaiming, a = sqrt 5)
            torch.nn.init.uniform_(w, -bound, bound)
            weights.append(torch.nn.Parameter(w))
        masks = [None] * len(weights)
        spike_fn = _spike_function(config, surrogate)
        rate_coded = config.encoding == "rate"
        u = torch.tensor(rate_thresholds(inputs, config.steps, x_bits=config.x_bits),
                         dtype=torch.int64) if rate_coded else None
        step_index = torch.arange(config.steps)[None, :, None]

        def input_trains(x):            # the encoder of config.encoding, exactly
            if rate_coded:
                return (x[:, None, :] > u[None]).to(dtype)
            if config.encoding == "latency":          # x holds the fire steps
                return (step_index == x[:, None, :]).to(dtype)
            if config.encoding == "direct":           # encode_direct: x at step 0
                return torch.where(step_index == 0, x[:, None, :].to(dtype), 0).to(dtype)
            return x.to(dtype)
        all_labels = torch.tensor(labels)
        history = []

        def integers():
            return [_quantize(torch, w, m, config) for w, m in zip(weights, masks)]

        phases = [("train", config.epochs)]
        if config.density < 1 and config.finetune_epochs:
            phases.append(("finetune", config.finetune_epochs))
        total = sum(count for _, count in phases)
        with stage("training (surrogate gradients)", total=total, unit="epoch",
                   show=progress) as bar:
            epoch = 0
            for phase, count in phases:
                if phase == "finetune":
                    masks = []
                    for index, (w, neurons) in enumerate(zip(weights, sizes[1:])):
                        lanes = None if config.lanes is None else min(config.lanes, neurons)
                        matrix = w.detach().numpy()
                        if index < len(plan):      # a kernel: global, by magnitude
                            matrix, lanes = matrix.reshape(len(matrix), -1), None
                        kept = (prune(matrix, config.density, lanes=lanes) != 0).reshape(
                            w.shape)
                        masks.append(torch.tensor(kept, dtype=torch.float32))
                    with torch.no_grad():
                        for w, m in zip(weights, masks):
                            w.mul_(m)
                optimizer = torch.optim.Adam(weights, lr=config.lr)
                batches = -(-n // config.batch_size)
                schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, count * batches)
                for _ in range(count):
                    start = time.perf_counter()
                    order = rng.permutation(n)
                    x = values[order]
                    if config.shift:
                        x = _shifted(x, maps, config.shift, rng)
                    if config.encoding == "latency":  # encode_latency's steps
                        x = _latency_steps(x, config.steps, config.x_bits)
                    x = torch.from_numpy(x)
                    loss_sum, correct, rates = 0.0, 0, np.zeros(len(weights))
                    for b in range(batches):
                        rows = slice(b * config.batch_size, (b + 1) * config.batch_size)
                        trains = input_trains(x[rows])
                        target = all_labels[order[rows]]
                        counts, spikes = _forward(torch, integers(), trains, config, spike_fn,
                                                  dtype, plan)
                        rate = torch.stack([s.mean() for s in spikes])
                        loss = torch.nn.functional.cross_entropy(counts, target)
                        if config.activity:
                            loss = loss + config.activity * rate.mean()
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                        schedule.step()
                        size = len(target)
                        loss_sum += float(loss.detach()) * size
                        correct += int((counts.argmax(dim=1) == target).sum())
                        rates += rate.detach().numpy() * size
                    epoch += 1
                    entry = {"epoch": epoch, "phase": phase, "loss": loss_sum / n,
                             "train_accuracy": correct / n,
                             "spike_rate": [float(r) for r in rates / n],
                             "seconds": round(time.perf_counter() - start, 2)}
                    if test is not None:
                        network = _network(config, integers(), plan)
                        entry["test_accuracy"] = float(
                            (golden_predictions(network, test[0], config.steps,
                                                x_bits=config.x_bits,
                                                encoding=config.encoding)[0]
                             == np.asarray(test[1])).mean())
                    history.append(entry)
                    bar.update()
                    bar.describe(f"loss {entry['loss']:.3f}, train accuracy "
                                 f"{entry['train_accuracy']:.1%}"
                                 + (f", test accuracy {entry['test_accuracy']:.1%}"
                                    if "test_accuracy" in entry else ""))
        with torch.no_grad():
            network = _network(config, integers(), plan)
        return TrainedSNN(config=config, network=network, history=history,
                          weights=[w.detach().numpy().copy() for w in weights],
                          masks=[None if m is None else m.numpy().copy() for m in masks],
                          seconds=time.perf_counter() - began)
    finally:
        torch.set_num_threads(threads)

