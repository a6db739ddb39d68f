"""The one random-network generator of the checks: soak, gate-level simulation, host-link
fuzzing and the co-simulation tests all draw their networks, hardware configurations and input
trains here, so a new layer kind or parameter reaches every check at once.

Everything is drawn from a NumPy ``Generator`` the caller owns, so a check that seeds it with
``(seed, index)`` can replay any case. The pieces:

* :func:`random_weights` — signed ``w_bits`` weights at a density (optionally mostly
  excitatory, so activity survives depth);
* :func:`random_layer` — a layer: widths, threshold (log-uniform up to a fraction of the
  largest current, or small under ``stress``), bias in 30 % of layers, leak parameters with
  their edge values (``k = 0``, ``k = v_bits - 1``, ``m = 0``, ``m = 2^f``) in 15 % each;
* :func:`random_network` — layers of given sizes and neuron modes;
* :func:`random_conv_network` — convolutional layers (docs/design.md §12: kernel, stride,
  padding, an input sum pool, channel bias) on a small map, then a fully connected readout;
* :func:`random_lanes`, :func:`random_depth`, :func:`random_config` — the hardware;
* :func:`random_trains`, :func:`random_sample` — inputs at an activity or in an activity bin;
* :func:`random_case` — all of it at once: ``(network, config, trains)``.

Ranges are arguments with the defaults the soak uses: every width the generator accepts
(``w_bits`` 2–16, ``v_bits`` 3–32). A check that must stay small (gate-level simulation
through yosys) narrows them.
"""

import itertools
import math

import numpy as np

from spikefab.model import (FORMATS, LEAK_MODES, RESET_MECHANISMS, RESET_TIMINGS,
                            HardwareConfig, Layer, LayerConfig, Network, signed_range)
from spikefab.model.conv import ConvLayer
from spikefab.model.kernel_image import KERNEL_FORMAT

__all__ = ["DENSITIES", "DEPTH_KINDS", "LANE_KINDS", "MAX_PARALLEL", "NEURON_MODES",
           "random_case", "random_config", "random_conv_network", "random_depth",
           "random_direct_case", "random_direct_inputs",
           "random_lanes", "random_layer", "random_network", "random_sample", "random_trains",
           "random_weights"]

#: Every (leak, reset, timing) combination.
NEURON_MODES = tuple(itertools.product(LEAK_MODES, RESET_MECHANISMS, RESET_TIMINGS))
#: Kinds of PE lane counts: one lane, a power of two, not a power of two, fully parallel.
LANE_KINDS = ("1", "2^k > 1", "not 2^k", "N")
#: Kinds of queue depths: the minimum, 3, small, large.
DEPTH_KINDS = ("2 (minimum)", "3", "4-16", "17-64")
#: Weight densities and how often each is drawn (an empty layer now and then).
DENSITIES = ((0.0, 0.05, 0.2, 0.5, 1.0), (0.03, 0.2, 0.27, 0.25, 0.25))
#: The largest layer drawn fully parallel (its accumulators are flip-flops).
MAX_PARALLEL = 32


def _range(rng, value):
    """``value`` itself, or an integer drawn from the inclusive ``(lo, hi)``."""
    if isinstance(value, tuple):
        return int(rng.integers(value[0], value[1] + 1))
    return int(value)


def _loguniform_int(rng, hi):
    return int(min(hi, max(1, math.floor(math.exp(rng.uniform(0, math.log(hi + 1)))))))


def random_weights(rng, shape, w_bits, density, *, excitatory=False):
    """Signed ``w_bits`` weights of ``shape``, each kept with probability ``density``;
    ``excitatory`` makes 80 % of them non-negative (activity survives a deep network)."""
    lo, hi = signed_range(w_bits)
    weights = rng.integers(lo, hi + 1, size=shape)
    if excitatory:
        flip = rng.random(weights.shape) < 0.8
        weights = np.where(flip, np.abs(np.maximum(weights, lo + 1)), weights)
    weights[rng.random(weights.shape) >= density] = 0
    return weights


def random_layer(rng, fan_in, neurons, mode=("none", "subtract", "immediate"), *,
                 stress=False, w_bits=(2, 16), v_bits=None, densities=DENSITIES):
    """A random :class:`~spikefab.model.Layer` of ``neurons`` with ``fan_in`` inputs and the
    neuron ``mode`` ``(leak, reset, timing)``.

    ``w_bits`` and ``v_bits`` are numbers or inclusive ``(lo, hi)`` ranges (``v_bits=None``:
    3–8, 9–16 or 17–32, a third each; a range is raised to at least ``w_bits + 1``);
    ``densities`` is ``(values, probabilities)`` or a sequence of values drawn uniformly.
    ``stress``: mostly excitatory weights and low thresholds, so spikes reach the last layer.
    """
    leak, reset, timing = mode
    w_bits = _range(rng, w_bits)
    if v_bits is None:
        v_bits = int(rng.choice([rng.integers(3, 9), rng.integers(9, 17), rng.integers(17, 33)]))
    elif isinstance(v_bits, tuple):
        v_bits = _range(rng, (max(v_bits[0], w_bits + 1), max(v_bits[1], w_bits + 1)))
    _, hi = signed_range(w_bits)
    if len(densities) == 2 and isinstance(densities[0], tuple):
        density = float(rng.choice(densities[0], p=densities[1]))
    else:
        density = float(rng.choice(densities))
    weights = random_weights(rng, (neurons, fan_in), w_bits, density, excitatory=stress)
    theta_max = (1 << (v_bits - 1)) - 2
    if stress:
        theta = int(rng.integers(1, min(theta_max, max(1, hi // 2)) + 1))
    else:
        scale = hi * max(1, round(fan_in * max(density, 0.05) * 0.3))
        theta = _loguniform_int(rng, min(theta_max, scale))
    bias = None
    if rng.random() < 0.3:
        b = min((1 << (v_bits - 1)) - 1, max(1, hi))
        bias = rng.integers(-b, b + 1, size=neurons)
    params = {}
    if leak == "shift":
        params["k"] = int(rng.choice([0, v_bits - 1, int(rng.integers(1, min(6, v_bits - 1) + 1))],
                                     p=[0.15, 0.15, 0.7]))
    elif leak == "mul":
        f = int(rng.integers(1, 17))
        params.update(f=f, m=int(rng.choice([0, 1 << f, int(rng.integers(0, (1 << f) + 1))],
                                            p=[0.15, 0.15, 0.7])))
    return Layer(weights, theta=theta, w_bits=w_bits, v_bits=v_bits, bias=bias, leak=leak,
                 reset=reset, timing=timing, **params)


def random_network(rng, sizes, modes=None, **layer_options):
    """A :class:`~spikefab.model.Network` with ``sizes`` (inputs first), one neuron mode per
    layer (``modes``; default: drawn from :data:`NEURON_MODES`); ``layer_options`` go to
    :func:`random_layer`."""
    count = len(sizes) - 1
    if modes is None:
        modes = [NEURON_MODES[int(rng.integers(len(NEURON_MODES)))] for _ in range(count)]
    return Network([random_layer(rng, fan_in, n, mode, **layer_options)
                    for fan_in, n, mode in zip(sizes, sizes[1:], modes)])


def random_conv_network(rng, *, channels=(1, 3), side=(5, 9), conv_layers=(1, 2),
                        outputs=(2, 6), w_bits=(3, 6), modes=None, pool_share=1 / 3,
                        bias_share=0.3):
    """A random convolutional :class:`~spikefab.model.Network`: a ``C × side × side`` input,
    ``conv_layers`` :class:`~spikefab.model.conv.ConvLayer` (1–4 channels, kernel 1–4,
    stride 1–3, padding up to ``kernel - 1``, a non-overlapping input pool of 2 in
    ``pool_share`` (a third) of the layers after the first when the map allows, a channel bias
    in ``bias_share`` (30 %)), then a fully
    connected readout of ``outputs`` neurons. Ranges are inclusive ``(lo, hi)``; weights are
    mostly excitatory and thresholds low, so spikes usually reach the readout (11 of the first
    12 seeds). ``modes``: one
    ``(leak, reset, timing)`` per layer (default drawn from :data:`NEURON_MODES`)."""
    from spikefab.model.conv import Conv2dGeometry, sum_pool_geometry
    count = _range(rng, conv_layers)
    if modes is None:
        modes = [NEURON_MODES[int(rng.integers(len(NEURON_MODES)))] for _ in range(count + 1)]
    c, h = _range(rng, channels), _range(rng, side)
    w = h
    layers = []
    for index in range(count):
        pool = None
        if index and h >= 4 and w >= 4 and rng.random() < pool_share:
            pool = sum_pool_geometry(c, h, w, 2)
            h, w = pool.out_height, pool.out_width
        kernel = int(rng.integers(1, min(4, h, w) + 1))
        stride = int(rng.integers(1, 4))
        padding = int(rng.integers(0, kernel))
        c_out = int(rng.integers(1, 5))
        geometry = Conv2dGeometry(c, h, w, c_out, kernel, stride, padding)
        bits = _range(rng, w_bits)
        _, hi = signed_range(bits)
        v_bits = int(rng.integers(bits + 4, bits + 12))
        weights = rng.integers(-(hi // 3), hi + 1, (c_out, c, kernel, kernel))
        theta = int(rng.integers(1, max(2, hi * kernel // 2)))
        bias = rng.integers(-1, 2, c_out) if rng.random() < bias_share else None
        leak, reset, timing = modes[index]
        params = {"shift": {"k": int(rng.integers(1, 4))},
                  "mul": {"f": 4, "m": int(rng.integers(8, 17))}}.get(leak, {})
        layers.append(ConvLayer(kernel=weights, geometry=geometry, theta=theta, pool=pool,
                                channel_bias=bias, w_bits=bits, v_bits=v_bits, leak=leak,
                                reset=reset, timing=timing, **params))
        if index == 0:
            first_map = (c, geometry.height, geometry.width)
        c, h, w = geometry.out_shape
    readout = random_layer(rng, c * h * w, _range(rng, outputs), modes[count], stress=True,
                           w_bits=w_bits, v_bits=(8, 16))
    network = Network(layers + [readout])
    assert network.n_inputs == int(np.prod(first_map))
    return network


def random_lanes(rng, kind, neurons):
    """PE lanes of a layer of ``neurons`` of the lane ``kind`` (:data:`LANE_KINDS`; a kind
    the size cannot give falls back to 1..8 lanes)."""
    powers = [1 << k for k in range(1, 9) if 1 << k <= neurons]
    others = [p for p in range(3, min(neurons, 256) + 1) if p & (p - 1)]
    if kind == "1" or neurons == 1:
        return 1
    if kind == "N" and neurons <= MAX_PARALLEL:
        return neurons
    if kind in ("2^k > 1", "N") and powers:
        return int(rng.choice(powers[:3]))
    if kind == "not 2^k" and others:
        return int(rng.choice(others[:6]))
    return int(rng.integers(1, min(neurons, 8) + 1))


def random_depth(rng, kind):
    """A queue depth of the depth ``kind`` (:data:`DEPTH_KINDS`)."""
    return {"2 (minimum)": 2, "3": 3, "4-16": int(rng.integers(4, 17)),
            "17-64": int(rng.integers(17, 65))}[kind]


def random_config(rng, network, *, formats=None, dense=False, lane_kinds=None,
                  depth_kinds=None, keep_lanes=0.6, stress=False):
    """A :class:`~spikefab.model.HardwareConfig` for ``network``: per layer PE lanes of a lane
    kind, sweep lanes (the PE lanes in ``keep_lanes`` of the layers, else a divisor of them),
    a queue depth of a depth kind (the minimum, 2, everywhere under ``stress``: back-pressure)
    and a weight format of :data:`~spikefab.model.FORMATS` (for a convolutional layer also
    ``kernel``, the convolution core, in half the draws, with lanes up to its output
    channels). ``lane_kinds``, ``depth_kinds`` and ``formats`` are one entry per layer,
    ``None`` entries (or ``None`` for all) drawn. ``dense`` builds the sparsity-oblivious
    baseline (every layer ``dense``)."""
    count = len(network)

    def fill(given, choices):
        given = [None] * count if given is None else list(given)
        return [str(rng.choice(choices)) if g is None else g for g in given]

    if formats is None and not dense:
        formats = [KERNEL_FORMAT if isinstance(layer, ConvLayer) and rng.random() < 0.5 else None
                   for layer in network]
    on_core = [f == KERNEL_FORMAT for f in (formats or [None] * count)]
    lane_kinds = fill(lane_kinds, LANE_KINDS)
    lanes = [random_lanes(rng, kind, layer.geometry.out_channels if core else layer.neurons)
             for kind, layer, core in zip(lane_kinds, network, on_core)]
    sweep = [p if rng.random() < keep_lanes else
             int(rng.choice([d for d in range(1, p + 1) if p % d == 0])) for p in lanes]
    depth_kinds = fill(depth_kinds, DEPTH_KINDS)
    depths = [2] * count if stress else [random_depth(rng, kind) for kind in depth_kinds]
    formats = ["dense"] * count if dense else fill(formats, FORMATS)
    config = HardwareConfig(tuple(LayerConfig(p, f, q, s) for p, f, q, s in
                                  zip(lanes, formats, depths, sweep)),
                            mode="dense" if dense else "sparse")
    config.check(network)
    return config


def random_trains(rng, batch, steps, inputs, activity):
    """Input spike trains ``[batch, steps, inputs]``, each spike with probability
    ``activity``."""
    return rng.random((batch, steps, inputs)) < activity


def random_sample(rng, steps, inputs, target):
    """One ``[steps, inputs]`` train for activity bin ``target``: 0 silent, 5 every input
    every step, else each spike with a probability drawn uniformly in the bin (1: (0, 5 %],
    2: (5, 25 %], 3: (25, 50 %], 4: (50, 100 %)); such a train is never silent or full by
    accident (where the size allows)."""
    size = steps * inputs
    if target == 0:
        return np.zeros((steps, inputs), dtype=bool)
    if target == 5:
        return np.ones((steps, inputs), dtype=bool)
    lo, hi = ((0.0, 0.05), (0.05, 0.25), (0.25, 0.5), (0.5, 1.0))[target - 1]
    p = rng.uniform(lo, hi)
    train = rng.random(size) < p
    if not train.any():
        train[rng.integers(size)] = True
    if train.all() and size > 1:
        train[rng.integers(size)] = False
    return train.reshape(steps, inputs)


def random_case(rng, *, max_neurons=30, max_layers=3, batch=None, steps=None, modes=None,
                formats=None, dense=None, w_bits=(2, 8), v_bits=(5, 16)):
    """``(network, config, trains)``: 1..``max_layers`` layers of 2..``max_neurons`` neurons
    (every neuron mode, weight format and lane kind; the dense baseline in one case in five),
    ``batch`` samples (default 1–3) of ``steps`` steps (default 1–6) at 1–50 % activity.
    ``modes``/``formats`` (one per layer) and ``dense`` fix what would be drawn."""
    layers = int(rng.integers(1, max_layers + 1)) if modes is None else len(modes)
    sizes = [int(rng.integers(2, max_neurons + 1)) for _ in range(layers + 1)]
    network = random_network(rng, sizes, modes, w_bits=w_bits, v_bits=v_bits)
    dense = bool(rng.random() < 0.2) if dense is None else dense
    config = random_config(rng, network, formats=formats, dense=dense)
    batch = batch or int(rng.integers(1, 4))
    steps = steps or int(rng.integers(1, 7))
    activity = float(rng.choice([0.01, 0.1, 0.3, 0.5]))
    return network, config, random_trains(rng, batch, steps, sizes[0], activity)


def random_direct_inputs(rng, batch, steps, inputs, x_bits, *, zeros=None, spread=False):
    """Input values ``[batch, steps, inputs]`` of a direct network (docs/design.md §13):
    intensities in ``[0, 2**x_bits - 1]`` with a fraction ``zeros`` of them 0 (default: drawn
    in [0, 0.9]) at step 0, as ``encode_direct`` gives them; with ``spread`` each input's
    intensity is split over random steps instead (its values still sum to it)."""
    x_max = (1 << x_bits) - 1
    zeros = float(rng.uniform(0, 0.9)) if zeros is None else zeros
    x = rng.integers(1, x_max + 1, size=(batch, inputs))
    x[rng.random((batch, inputs)) < zeros] = 0
    values = np.zeros((batch, steps, inputs), dtype=np.int64)
    if not spread:
        values[:, 0] = x
        return values
    for b, j in zip(*np.nonzero(x)):
        parts = int(rng.integers(1, min(steps, int(x[b, j])) + 1))
        at = rng.choice(steps, size=parts, replace=False)
        cuts = np.sort(rng.choice(np.arange(1, x[b, j]), size=parts - 1, replace=False))
        values[b, at, j] = np.diff(np.concatenate([[0], cuts, [x[b, j]]]))
    return values


def random_direct_case(rng, *, max_neurons=30, max_layers=3, batch=None, steps=None,
                       x_bits=None, spread=None):
    """``(network, config, values)``: :func:`random_case`'s network and sparse-mode
    configuration with a direct first layer (``x_bits`` 1–12 unless given, ``x_shift`` in
    ``[0, x_bits]``, the threshold set from the held currents of this draw's inputs so that a
    good share of the neurons fire) and its input values (:func:`random_direct_inputs`,
    spread over the steps in a third of the draws unless ``spread`` says)."""
    network, config, _ = random_case(rng, max_neurons=max_neurons, max_layers=max_layers,
                                     batch=batch, steps=steps, dense=False)
    first = network[0]
    x_bits = int(rng.integers(1, 13)) if x_bits is None else x_bits
    x_shift = int(rng.integers(0, x_bits + 1))
    batch, steps = batch or int(rng.integers(1, 4)), steps or int(rng.integers(1, 7))
    spread = bool(rng.random() < 1 / 3) if spread is None else spread
    values = random_direct_inputs(rng, batch, steps, first.fan_in, x_bits, spread=spread)
    current = ((values.sum(axis=1) @ first.weights.T) >> x_shift) + first.bias
    positive = current[current > 0]
    theta_max = (1 << (first.v_bits - 1)) - 2
    theta = int(np.clip(np.quantile(positive, float(rng.uniform(0.2, 0.8))) if positive.size
                        else 1, 1, theta_max))
    direct = first.replace(theta=theta, x_bits=x_bits, x_shift=x_shift)
    return Network((direct,) + network.layers[1:]), config, values
