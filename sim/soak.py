"""Soak: thousands of random network × input co-simulations under Verilator, each compared
with the golden model and the cycle model (issue 12, item 4).

``spikefab soak --cases 10000 --seed S [--out build/soak]`` (:mod:`spikefab.cli.soak`)

A *case* is one input sample run through one random network's accelerator. Building the
Verilator model is what costs (measured on the 2-core machine: 15–25 s per network when
idle, 40–60 s when shared; Verilog grows with layers, neurons and lanes), while a sample
costs about 2,000 cycles at 20,000–50,000 cycles/s (cocotb drives every cycle from Python).
So cases are batched per build: network ``K`` of a run is drawn from ``(S, K)`` alone,
built once, and fed ``--per-build`` samples (default 250: 40 builds for 10,000 cases) back
to back in two simulator runs, a short ``T`` (1–3) and a long one (4–10), the second
reusing the build.

The draw (:func:`draw_build`) covers every axis the hardware has:

* neuron modes: leak ``none`` / ``shift`` (``k`` from 0 to ``v_bits - 1``) / ``mul``
  (``m`` from 0 to ``2**f``), reset ``subtract`` / ``zero``, timing ``immediate`` /
  ``delayed`` — layer 1 of network ``K`` takes the ``(K + S) mod 12``-th combination, later
  layers a random one;
* weight formats ``dense``, ``csc``, ``bitmap`` (mixed per layer) and the dense baseline
  (``mode = "dense"``), rotated over networks;
* lanes ``P`` = 1, a power of 2, not a power of 2, ``P = N`` (fully parallel), sweep lanes
  ``S`` a divisor of ``P``; queue depths 2 (the minimum), 3, 4–16, 17–64;
* ``w_bits`` 2–16, ``v_bits`` 3–32 (tight membranes saturate), weight densities 0–100 %,
  biases, thresholds from 1 up, 1–4 layers of 1–100 neurons, ``T`` 1–10, counters sized
  exactly for ``T`` or larger;
* inputs from silent to 100 % activity (every build has a silent and a 100 % sample), and
  one network in four a *stress* network: every queue at depth 2, low thresholds, mostly
  positive weights, mostly 100 % input — back-pressure everywhere;
* convolutional networks (docs/design.md §12), one network in five: network ``K`` when
  ``(S + K) mod 5 == 2`` (:func:`is_conv_build`; the other networks' draws are the fully
  connected ones above, unchanged). :func:`~spikefab.sim.random_networks.random_conv_network`
  draws a ``C × H × W`` input (1–3 channels, sides 5–9: small, so a Verilator build stays
  near a fully connected one's), one or two conv layers (kernels 1–4, strides 1–3, paddings
  up to ``kernel - 1``, a sum pool of 2 before the second in three quarters of the maps that
  allow it, a channel bias in half the layers) and a fully connected readout. The first conv
  layer's place rotates with the formats above (:data:`CONV_ROTATION`): on the convolution
  core (format ``kernel``) without a bias — its sweep skips inactive rows —, unrolled (a
  matrix format drawn), on the core with a channel bias — a full sweep —, and the core's
  dense baseline (``mode = "dense"``, format ``kernel``; the other layers ``kernel`` or
  ``dense``); a second conv layer is on the core in half the draws. Lanes on the core split
  its output channels (up to ``C_out``). The inputs are the map's ``C·H·W`` inputs,
  flattened, in the same activity bins, and the check is the same. A conv network builds
  in about the time of a fully connected one, but its dense baseline walks every input every
  step through up to a few hundred neurons: network 3 of seed 2024 (81-162-32-2, the core's
  dense baseline then an unrolled dense layer) simulates 10.9 million cycles, 44,000 a
  sample (6 min at about 30,000 cycles/s).

Every case is compared with :func:`spikefab.model.simulate` (every spike of every layer,
the counts, the class) and :func:`spikefab.model.cycle_model` (the cycle of each
sample's result, exactly); each run also with the cycle model's performance counters and
the result's counter snapshot. A failing network is saved in ``OUT/failures/build-K``
(network, configuration, input trains, problems) with the command that replays it alone
(``--only K``); :meth:`Network.save <spikefab.model.Network.save>` keeps a conv layer's
kernel, geometry and pool. The summary (cases, builds and how many were convolutional,
coverage per axis — the conv axes too: network and layer kind, conv layer on the core or
unrolled, the core's sweep, kernel, stride, padding, input pool, conv layers —, mismatches,
wall time) goes to ``OUT/summary.json`` and ``OUT/summary.txt``.
"""

import json
import os
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikefab.model import (LEAK_MODES, RESET_MECHANISMS, RESET_TIMINGS, HardwareConfig,
                            Network, cycle_model, simulate)
from spikefab.model.conv import ConvLayer
from spikefab.model.kernel_image import KERNEL_FORMAT
from spikefab.toolchain.progress import stage
from spikefab.sim.random_networks import (DEPTH_KINDS, LANE_KINDS, NEURON_MODES,
                                          random_config, random_conv_network, random_network,
                                          random_sample)
from spikefab.toolchain import ToolNotFound

__all__ = ["ACTIVITY_BINS", "AXES", "Build", "CONV_EVERY", "CONV_ROTATION", "NEURON_MODES",
           "WEIGHT_FORMATS", "check_run", "draw_build", "draw_coverage", "is_conv_build",
           "replay_command", "run_build", "soak"]

#: Weight formats of a layer; ``baseline`` is the dense format in the dense-baseline mode.
WEIGHT_FORMATS = ("dense", "csc", "bitmap", "baseline")
ACTIVITY_BINS = ("0 % (silent)", "(0, 5 %]", "(5, 25 %]", "(25, 50 %]", "(50, 100 %)",
                 "100 %")
DEFAULT_PER_BUILD = 250
STRESS_SHARE = 0.25
#: One network in ``CONV_EVERY`` is convolutional: network ``K`` of a run with seed ``S`` when
#: ``(S + K) mod CONV_EVERY == CONV_RESIDUE`` (a rotation, so any five consecutive networks
#: hold exactly one, and the fully connected draws of the other networks are unchanged).
CONV_EVERY, CONV_RESIDUE = 5, 2
#: A conv network's input pools: in this share of its conv layers after the first, when the
#: map allows (``random_conv_network``'s default is a third; the soak wants them more often).
CONV_POOL_SHARE = 0.75
#: A conv layer's channel bias (which makes the convolution core sweep every row): in half of
#: them, so the skipping and the full sweep are drawn alike (``random_conv_network``: 30 %).
CONV_BIAS_SHARE = 0.5
#: The first conv layer of a conv network, rotated with the fully connected first layer's
#: formats (dense, csc, bitmap, baseline): the convolution core without a bias (its sweep
#: skips inactive rows), unrolled, the core with a channel bias (a full sweep), the core's
#: dense baseline (``mode = "dense"``).
CONV_ROTATION = ("core, no bias", "unrolled", "core, channel bias", "core, dense baseline")
#: Sweep of a conv layer on the convolution core (docs/design.md §12).
CORE_SWEEPS = ("skipping (no bias)", "full (channel bias)", "full (dense baseline)")

#: Coverage axes: name → unit counted ("network", "layer" or "case") and the values that
#: must all be reached (None: open-ended, reported as found).
AXES = {
    "neuron mode (leak, reset, timing)": ("layer", ["/".join(m) for m in NEURON_MODES]),
    "leak": ("layer", list(LEAK_MODES)),
    "leak parameter": ("layer", ["none", "shift k = 0", "shift 0 < k < v_bits - 1",
                                 "shift k = v_bits - 1", "mul m = 0", "mul 0 < m < 2^f",
                                 "mul m = 2^f"]),
    "reset": ("layer", list(RESET_MECHANISMS)),
    "timing": ("layer", list(RESET_TIMINGS)),
    "weight format": ("layer", list(WEIGHT_FORMATS) + [KERNEL_FORMAT]),
    "mode": ("network", ["sparse", "dense"]),
    "network kind": ("network", ["fully connected", "convolutional"]),
    "layer kind": ("layer", ["fully connected", "conv"]),
    "conv layer on": ("layer", ["convolution core (kernel)", "unrolled matrix"]),
    "convolution core sweep": ("layer", list(CORE_SWEEPS)),
    "conv kernel": ("layer", ["1", "2", "3", "4"]),
    "conv stride": ("layer", ["1", "2", "3"]),
    "conv padding": ("layer", ["0", "> 0"]),
    "conv input pool": ("layer", ["none", "sum pool 2"]),
    "conv layers": ("network", ["1", "2"]),
    "lanes P": ("layer", ["1", "2^k > 1", "not 2^k"]),
    "P = N (fully parallel)": ("layer", ["yes", "no"]),
    "sweep lanes S < P": ("layer", ["yes", "no"]),
    "queue depth": ("layer", list(DEPTH_KINDS)),
    "w_bits": ("layer", ["2", "3-4", "5-8", "9-16"]),
    "v_bits": ("layer", ["3-8", "9-16", "17-32"]),
    "v_bits < w_bits": ("layer", ["yes", "no"]),
    "weight density": ("layer", ["0 %", "(0, 10 %]", "(10, 50 %]", "(50, 100 %)", "100 %"]),
    "bias": ("layer", ["yes", "no"]),
    "neurons": ("layer", ["1", "2-8", "9-40", "41-100"]),   # conv maps may hold more
    "layers": ("network", ["1", "2", "3", "4"]),
    "stress (queues 2, low theta, full input)": ("network", ["yes", "no"]),
    "counters sized for T exactly": ("network", ["yes", "no"]),
    "T": ("case", None),
    "input activity": ("case", list(ACTIVITY_BINS)),
    "layer output activity": ("case", list(ACTIVITY_BINS)),
    "back-pressure (stall cycles)": ("network", None),
    "a queue filled up": ("network", None),
}
#: Axes reported but not required to reach every value (a whole layer firing every step
#: is up to the network).
INFORMATIVE = {"layer output activity"}


# --- the draw -------------------------------------------------------------------------------

@dataclass
class Build:
    """One random network, its hardware configuration and its samples (one Verilator build).

    Members
    -------
    index : int
        ``K``, the network's number in the run; the draw depends on ``(seed, K)`` only.
    network : Network
    config : HardwareConfig
    runs : list of bool arrays ``[B, T, N0]``
        The samples, one simulator run per array (same build, different ``T``).
    max_steps : int
        Sizes the hardware's counters (at least every run's ``T``).
    stress : bool
    labels : list of dict
        Per layer, its coverage labels (axis → value).
    """

    seed: int
    index: int
    network: Network
    config: HardwareConfig
    runs: list
    max_steps: int
    stress: bool
    labels: list = field(default_factory=list)

    @property
    def cases(self):
        return sum(len(r) for r in self.runs)

    @property
    def conv(self):
        """Whether the network is convolutional (its first layer a ConvLayer)."""
        return isinstance(self.network[0], ConvLayer)


def _rotation(seed, index):
    return (int(seed) + int(index)) % (1 << 30)


def _activity_bin(fraction):
    if fraction <= 0:
        return ACTIVITY_BINS[0]
    if fraction >= 1:
        return ACTIVITY_BINS[5]
    for edge, name in zip((0.05, 0.25, 0.5), ACTIVITY_BINS[1:4]):
        if fraction <= edge:
            return name
    return ACTIVITY_BINS[4]


def is_conv_build(seed, index):
    """Whether network ``index`` of the run with ``seed`` is convolutional (one in
    :data:`CONV_EVERY`, by rotation)."""
    return _rotation(seed, index) % CONV_EVERY == CONV_RESIDUE


def draw_build(seed, index, cases=DEFAULT_PER_BUILD):
    """Network ``index`` of the run with ``seed``: a random network, configuration and
    ``cases`` samples, drawn from ``(seed, index)`` alone (so ``--only`` replays it)."""
    rng = np.random.default_rng([int(seed), int(index)])
    r = _rotation(seed, index)
    stress = bool(rng.random() < STRESS_SHARE)
    fmt0 = WEIGHT_FORMATS[(r // 3) % 4]
    dense = fmt0 == "baseline"
    if is_conv_build(seed, index):
        network, config = _draw_conv(rng, r, stress, dense)
    else:
        network, config = _draw_fully_connected(rng, r, stress, dense, fmt0)
    inputs = network.n_inputs

    # Samples: a short-T run and a long-T run, activity bins uniform (stress: mostly full).
    steps = [int(rng.choice([1, 2, 3])), int(rng.integers(4, 9 if stress else 11))]
    split = [cases] if cases < 4 else [cases // 4, cases - cases // 4]
    steps = steps[-len(split):]
    weights = [0.05, 0.05, 0.1, 0.1, 0.2, 0.5] if stress else [1 / 6] * 6
    targets = rng.choice(6, size=cases, p=weights)
    if cases >= 2:                                  # every build: a silent and a full sample
        a, b = rng.choice(cases, size=2, replace=False)
        targets[a], targets[b] = 0, 5
    runs, position = [], 0
    for count, t in zip(split, steps):
        runs.append(np.array([random_sample(rng, t, inputs, int(k))
                              for k in targets[position:position + count]]))
        position += count
    max_steps = max(steps) if rng.random() < 0.7 else max(steps) + int(rng.integers(1, 300))

    build = Build(seed=int(seed), index=int(index), network=network, config=config, runs=runs,
                  max_steps=max_steps, stress=stress)
    build.labels = [_layer_labels(layer, c, dense) for layer, c in zip(network, config.layers)]
    return build


def _draw_fully_connected(rng, r, stress, dense, fmt0):
    # Sizes are what the build time grows with (the Verilog grows with neurons x lanes):
    # mostly up to 24 neurons, a layer of 41-100 in one network in twenty.
    n_layers = int(rng.choice([1, 2, 3, 4], p=[0.25, 0.4, 0.25, 0.1]))
    sizes = [int(rng.integers(1, 49)) if rng.random() < 0.95 else 1]
    big = int(rng.integers(0, n_layers)) if rng.random() < 0.05 else -1
    for layer in range(n_layers):
        sizes.append(int(rng.integers(41, 101)) if layer == big else
                     int(rng.integers(1, 41)) if rng.random() < 0.2 else
                     int(rng.integers(1, 25)))
    modes = [NEURON_MODES[r % 12]] + [NEURON_MODES[int(rng.integers(12))]
                                      for _ in range(n_layers - 1)]
    network = random_network(rng, sizes, modes, stress=stress)
    rest = [None] * (n_layers - 1)
    config = random_config(rng, network, dense=dense, stress=stress,
                           lane_kinds=[LANE_KINDS[(r // 2) % 4], *rest],
                           depth_kinds=[DEPTH_KINDS[(r // 5) % 4], *rest],
                           formats=[fmt0, *rest])
    return network, config


def _draw_conv(rng, r, stress, dense):
    """A convolutional network (``random_conv_network``: a ``C × H × W`` input of 1–3
    channels and sides 5–9, 1–2 conv layers, a fully connected readout) and its hardware.
    The first conv layer's place rotates with the weight formats (:data:`CONV_ROTATION`): on
    the convolution core without a bias (the skipping sweep) for ``dense``, unrolled (a
    matrix format drawn) for ``csc``, on the core with a channel bias (the full sweep) for
    ``bitmap``, the core's dense baseline for ``baseline``; a second conv layer is on the core
    in half the draws (in the dense mode, else the unrolled dense baseline)."""
    count = int(rng.choice([1, 2], p=[1 / 3, 2 / 3]))
    modes = [NEURON_MODES[r % 12]] + [NEURON_MODES[int(rng.integers(12))]
                                      for _ in range(count)]
    network = random_conv_network(rng, conv_layers=count, modes=modes,
                                  pool_share=CONV_POOL_SHARE, bias_share=CONV_BIAS_SHARE)
    place = CONV_ROTATION[(r // 3) % 4]
    first = network[0]
    if place == "core, no bias":
        first = first.replace(channel_bias=None)
    elif place == "core, channel bias" and not first.bias.any():
        bias = rng.integers(-1, 2, first.geometry.out_channels)
        bias[rng.integers(len(bias))] = rng.choice([-1, 1])
        first = first.replace(channel_bias=bias)
    network = Network([first, *network[1:]])
    first_on_core = place != "unrolled"
    formats = []
    for index, layer in enumerate(network):
        core = isinstance(layer, ConvLayer) and (first_on_core if index == 0 else
                                                 bool(rng.random() < 0.5))
        formats.append(KERNEL_FORMAT if core else "dense" if dense else None)
    rest = [None] * (len(network) - 1)
    config = random_config(rng, network, formats=formats, stress=stress,
                           lane_kinds=[LANE_KINDS[(r // 2) % 4], *rest],
                           depth_kinds=[DEPTH_KINDS[(r // 5) % 4], *rest])
    if dense:
        config = HardwareConfig(config.layers, mode="dense")
        config.check(network)
    return network, config


def _bin(value, edges):
    for hi, name in edges:
        if value <= hi:
            return name
    return edges[-1][1]


def _layer_labels(layer, c, dense):
    if layer.leak == "shift":
        k = layer.k
        leak_param = ("shift k = 0" if k == 0 else "shift k = v_bits - 1" if k == layer.v_bits - 1
                      else "shift 0 < k < v_bits - 1")
    elif layer.leak == "mul":
        leak_param = ("mul m = 0" if layer.m == 0 else "mul m = 2^f" if layer.m == 1 << layer.f
                      else "mul 0 < m < 2^f")
    else:
        leak_param = "none"
    p = c.lanes
    core = c.format == KERNEL_FORMAT
    # On the convolution core the lanes split the output channels (P = C_out is fully
    # parallel); elsewhere the neurons.
    parallel = layer.geometry.out_channels if core else layer.neurons
    density = float((layer.weights != 0).mean())
    labels = {
        "neuron mode (leak, reset, timing)": f"{layer.leak}/{layer.reset}/{layer.timing}",
        "leak": layer.leak, "leak parameter": leak_param, "reset": layer.reset,
        "timing": layer.timing,
        "weight format": c.format if core else "baseline" if dense else c.format,
        "layer kind": "conv" if isinstance(layer, ConvLayer) else "fully connected",
        "lanes P": "1" if p == 1 else "2^k > 1" if p & (p - 1) == 0 else "not 2^k",
        "P = N (fully parallel)": "yes" if p == parallel else "no",
        "sweep lanes S < P": "yes" if c.sweep_lanes < p else "no",
        "queue depth": _bin(c.queue_depth, [(2, DEPTH_KINDS[0]), (3, DEPTH_KINDS[1]),
                                            (16, DEPTH_KINDS[2]), (1 << 16, DEPTH_KINDS[3])]),
        "w_bits": _bin(layer.w_bits, [(2, "2"), (4, "3-4"), (8, "5-8"), (16, "9-16")]),
        "v_bits": _bin(layer.v_bits, [(8, "3-8"), (16, "9-16"), (32, "17-32")]),
        "v_bits < w_bits": "yes" if layer.v_bits < layer.w_bits else "no",
        "weight density": ("0 %" if density == 0 else "100 %" if density == 1 else
                           _bin(density, [(0.1, "(0, 10 %]"), (0.5, "(10, 50 %]"),
                                          (1, "(50, 100 %)")])),
        "bias": "yes" if layer.bias.any() else "no",
        "neurons": _bin(layer.neurons, [(1, "1"), (8, "2-8"), (40, "9-40"), (100, "41-100"),
                                        (1 << 30, "over 100")]),
    }
    if isinstance(layer, ConvLayer):
        g = layer.geometry
        labels.update({
            "conv layer on": "convolution core (kernel)" if core else "unrolled matrix",
            "conv kernel": "x".join(map(str, sorted(set(g.kernel)))),
            "conv stride": "x".join(map(str, sorted(set(g.stride)))),
            "conv padding": "0" if max(g.padding) == 0 else "> 0",
            "conv input pool": "none" if layer.pool is None else
            f"sum pool {'x'.join(map(str, sorted(set(layer.pool.kernel))))}"})
        if core:
            labels["convolution core sweep"] = (CORE_SWEEPS[2] if dense else CORE_SWEEPS[1]
                                                if layer.bias.any() else CORE_SWEEPS[0])
    return labels


def _draw_labels(build):
    """Coverage ``{(axis, value): [units, cases]}`` known before simulation."""
    cover = defaultdict(lambda: [0, 0])
    cases = build.cases
    for labels in build.labels:
        for axis, value in labels.items():
            cover[(axis, value)][0] += 1
            cover[(axis, value)][1] += cases
    conv_layers = sum(isinstance(layer, ConvLayer) for layer in build.network)
    for axis, value in (("mode", build.config.mode), ("layers", str(len(build.network))),
                        ("network kind", "convolutional" if build.conv else "fully connected"),
                        *([("conv layers", str(conv_layers))] if build.conv else []),
                        ("stress (queues 2, low theta, full input)",
                         "yes" if build.stress else "no"),
                        ("counters sized for T exactly",
                         "yes" if build.max_steps == max(r.shape[1] for r in build.runs)
                         else "no")):
        cover[(axis, value)][0] += 1
        cover[(axis, value)][1] += cases
    for trains in build.runs:
        cover[("T", str(trains.shape[1]))][1] += len(trains)
        for sample in trains:
            cover[("input activity", _activity_bin(sample.mean()))][1] += 1
    return cover


def draw_coverage(seed, builds, per_build=DEFAULT_PER_BUILD):
    """The coverage of the first ``builds`` networks of a run with ``seed`` (draw only, no
    simulation): ``{axis: {value: [units, cases]}}``."""
    total = defaultdict(lambda: [0, 0])
    for index in range(builds):
        for key, (units, cases) in _draw_labels(draw_build(seed, index, per_build)).items():
            total[key][0] += units
            total[key][1] += cases
    return _nest(total)


def _nest(flat):
    nested = {}
    for (axis, value), counts in flat.items():
        nested.setdefault(axis, {})[value] = list(counts)
    return nested


# --- the check ------------------------------------------------------------------------------

def check_run(network, config, trains, run):
    """Compare a hardware ``run`` of ``trains`` with the golden and the cycle model.

    Returns ``(per_sample, run_problems, golden)``: ``per_sample[b]`` lists what differs for
    sample ``b`` (every spike of every layer, the counts, the class, the result's cycle);
    ``run_problems`` what differs for the run as a whole (error flag, performance counters,
    the last result's counter snapshot, queue fill beyond the depth).
    """
    golden = simulate(network, trains)
    model = cycle_model(network, golden, config)
    batch = len(trains)
    per_sample = [[] for _ in range(batch)]
    for index, (got, want) in enumerate(zip(run.spikes, golden.spikes)):
        if got.shape != want.shape:
            return per_sample, [f"layer {index + 1} spikes have shape {got.shape}, "
                                f"the golden model's {want.shape}"], golden
        for b in np.flatnonzero((got != want).any(axis=(1, 2))):
            diff = np.argwhere(got[b] != want[b])
            t, n = diff[0]
            per_sample[b].append(
                f"layer {index + 1}: {len(diff)} spike(s) differ, first neuron {n} at step {t} "
                f"(hardware {int(got[b, t, n])}, golden {int(want[b, t, n])})")
    finish = model.finish
    for b in range(batch):
        if run.counts[b].tolist() != golden.counts[b].tolist():
            per_sample[b].append(f"counts {run.counts[b].tolist()} differ from the golden "
                                 f"{golden.counts[b].tolist()}")
        if int(run.classes[b]) != int(golden.predicted[b]):
            per_sample[b].append(f"class {int(run.classes[b])} differs from the golden "
                                 f"{int(golden.predicted[b])}")
        if int(run.finish[b]) != int(finish[b]):
            per_sample[b].append(f"result cycle {int(run.finish[b])} differs from the cycle "
                                 f"model's {int(finish[b])}")
    problems = []
    if run.error:
        problems.append("the accelerator raised its error flag")
    for index, (got, want) in enumerate(zip(run.counters, model.layers)):
        expected = {"events": want.events, "words": want.words,
                    "synaptic_updates": want.synaptic_updates, "busy": want.busy,
                    "stall": want.stall}
        if dict(got) != expected:
            problems.append(f"layer {index + 1} counters {dict(got)} differ from the cycle "
                            f"model's {expected}")
    if run.result_counters and run.result_counters[-1] != [dict(c) for c in run.counters]:
        problems.append("the last result's counter snapshot differs from the final counters")
    for index, (high, c) in enumerate(zip(run.high_water, config.layers)):
        if high > c.queue_depth:
            problems.append(f"queue {index + 1} held {high} events, more than its depth "
                            f"{c.queue_depth}")
    return per_sample, problems, golden


# --- running --------------------------------------------------------------------------------

def replay_command(seed, index, cases, per_build, out=None):
    """The command line that replays network ``index`` of a run alone."""
    command = (f"spikefab soak --seed {seed} --cases {cases} "
               f"--per-build {per_build} --only {index}")
    return command + (f" --out {out}" if out is not None else "")


def _describe(build):
    parts = []
    for layer, c in zip(build.network, build.config.layers):
        neuron = layer.leak + (f" k={layer.k}" if layer.leak == "shift" else
                               f" m={layer.m}/2^{layer.f}" if layer.leak == "mul" else "")
        shape = f"{layer.neurons}n"
        if isinstance(layer, ConvLayer):
            g = layer.geometry
            shape = (f"conv {'x'.join(map(str, layer.in_map))}"
                     f"{' pool 2' if layer.pool is not None else ''} -> "
                     f"{'x'.join(map(str, layer.out_map))} k{g.kernel[0]} s{g.stride[0]} "
                     f"p{g.padding[0]}{' bias' if layer.bias.any() else ''}")
        parts.append(f"{shape} {neuron} {layer.reset} {layer.timing} "
                     f"w{layer.w_bits} v{layer.v_bits} theta={layer.theta} "
                     f"{c.format} P={c.lanes} S={c.sweep_lanes} Q={c.queue_depth}")
    return (f"{'-'.join(map(str, build.network.shape))} {build.config.mode}"
            f"{' conv' if build.conv else ''}{' stress' if build.stress else ''}: "
            + "; ".join(parts))


def _save_failure(build, folder, problems, replay):
    folder.mkdir(parents=True, exist_ok=True)
    build.network.save(folder / "network.npz")
    (folder / "config.json").write_text(json.dumps(
        {**build.config.to_json(), "max_steps": build.max_steps, "seed": build.seed,
         "index": build.index}, indent=1))
    for number, trains in enumerate(build.runs):
        np.save(folder / f"spikes-run{number}.npy", trains)
    (folder / "problems.txt").write_text(
        f"{_describe(build)}\nreplay: {replay}\n\n" + "\n".join(problems) + "\n")


def run_build(build, work, *, out=None, replay=None, runner=None):
    """Build network ``build`` once and run its samples; return a JSON-ready record with the
    failing cases, the problems, the coverage found by simulation and the times."""
    if runner is None:
        from spikefab.sim.cosim import run_accelerator as runner
    from spikefab.hw.accelerator import HARDWARE_TIMING

    network = build.network
    config = HardwareConfig(build.config.layers, mode=build.config.mode, timing=HARDWARE_TIMING)
    record = {"index": build.index, "conv": build.conv, "cases": build.cases, "failed": [],
              "problems": [],
              "build_seconds": 0.0, "sim_seconds": 0.0, "check_seconds": 0.0,
              "run_overhead_seconds": 0.0, "sim_cycles": 0, "description": _describe(build)}
    cover = _draw_labels(build)
    stalled = filled = False
    first = 0
    for number, trains in enumerate(build.runs):
        began = time.perf_counter()
        try:
            run = runner(network, config, trains, backend="verilator", build_dir=work,
                         max_steps=build.max_steps)
        except (ImportError, ToolNotFound):         # the environment, not the design: stop
            raise
        except Exception as error:                  # a hang, a lost marker, a failed build
            text = str(error).strip().splitlines()
            record["problems"].append(f"run {number} (T = {trains.shape[1]}): "
                                      f"{type(error).__name__}: {text[0] if text else ''}"
                                      + (f" … {text[-1]}" if len(text) > 1 else ""))
            record["failed"] += list(range(first, first + len(trains)))
            first += len(trains)
            continue
        elapsed = time.perf_counter() - began
        overhead = run.extra.get("build_seconds", elapsed - run.wall_seconds)
        record["build_seconds" if number == 0 else "run_overhead_seconds"] += overhead
        record["sim_seconds"] += run.wall_seconds
        record["sim_cycles"] += int(run.sim_cycles)
        began = time.perf_counter()
        per_sample, problems, golden = check_run(network, config, trains, run)
        record["check_seconds"] += time.perf_counter() - began
        for b, found in enumerate(per_sample):
            if found or problems:
                record["failed"].append(first + b)
            record["problems"] += [f"case {first + b} (run {number}, sample {b}): {p}"
                                   for p in found]
        record["problems"] += [f"run {number} (T = {trains.shape[1]}): {p}" for p in problems]
        for spikes in golden.spikes:
            for sample in spikes:
                cover[("layer output activity", _activity_bin(sample.mean()))][1] += 1
        stalled |= any(c["stall"] > 0 for c in run.counters)
        filled |= any(h >= c.queue_depth for h, c in zip(run.high_water, config.layers))
        first += len(trains)
    cover[("back-pressure (stall cycles)", "yes" if stalled else "no")][0] += 1
    cover[("back-pressure (stall cycles)", "yes" if stalled else "no")][1] += build.cases
    cover[("a queue filled up", "yes" if filled else "no")][0] += 1
    cover[("a queue filled up", "yes" if filled else "no")][1] += build.cases
    record["coverage"] = [[axis, value, units, cases]
                          for (axis, value), (units, cases) in cover.items()]
    if record["problems"] and out is not None:
        folder = Path(out) / "failures" / f"build-{build.index}"
        _save_failure(build, folder, record["problems"], replay)
        record["saved"] = str(folder)
    return record


def _worker(seed, index, cases, per_build, out, keep, total):
    build = draw_build(seed, index, cases)
    work = Path(out) / "work" / f"build-{index}"
    replay = replay_command(seed, index, total, per_build, out)
    try:
        record = run_build(build, work, out=out, replay=replay)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    record["replay"] = replay
    return record


def _plan(cases, per_build):
    builds = -(-cases // per_build)
    return [min(per_build, cases - k * per_build) for k in range(builds)]


def soak(seed, cases, *, per_build=DEFAULT_PER_BUILD, out="build/soak", only=None, jobs=1,
         progress=True, keep=False, echo=print):
    """Run the soak; return the summary dict (also written to ``out``)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    plan = _plan(cases, per_build)
    indices = range(len(plan)) if only is None else [only]
    if only is not None and not 0 <= only < len(plan):
        raise ValueError(f"only = {only} is out of range; allowed range is [0, {len(plan) - 1}] "
                         f"for {cases} cases at {per_build} per build")
    todo = sum(plan[k] for k in indices)
    echo(f"soak: seed {seed}, {todo} cases on {len(indices)} Verilator builds "
         f"({per_build} samples per build), {jobs} job(s); output in {out}")
    echo(f"replay one network K with: {replay_command(seed, 'K', cases, per_build)}")
    began = time.perf_counter()
    records = []
    name = "summary" if only is None else f"summary-only-{only}"
    with stage("soak (Verilator co-simulations)", total=todo, unit="case",
               show=progress) as bar:
        def done(record):
            records.append(record)
            bar.update(record["cases"])
            partial = _summary(seed, cases, per_build, only, jobs, records,
                               time.perf_counter() - began)
            partial["complete"] = False                 # rewritten after every build
            (out / f"{name}.json").write_text(json.dumps(partial, indent=1))
            if record["problems"]:
                message = (f"*** MISMATCH in network {record['index']}: "
                           f"{len(record['failed'])} of {record['cases']} cases "
                           f"({record['description']})\n    "
                           + "\n    ".join(record["problems"][:8])
                           + (f"\n    … {len(record['problems']) - 8} more"
                              if len(record["problems"]) > 8 else "")
                           + f"\n    saved in {record.get('saved')}"
                           + f"\n    replay: {record['replay']}")
                bar.write(message, file=sys.stdout)
                bar.fail()

        args = [(seed, k, plan[k], per_build, str(out), keep, cases) for k in indices]
        if jobs == 1:
            for item in args:
                done(_worker(*item))
        else:
            from concurrent.futures import ProcessPoolExecutor
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for record in pool.map(_worker, *zip(*args)):
                    done(record)
    wall = time.perf_counter() - began
    summary = _summary(seed, cases, per_build, only, jobs, records, wall)
    summary["complete"] = True
    (out / f"{name}.json").write_text(json.dumps(summary, indent=1))
    text = summary_text(summary)
    (out / f"{name}.txt").write_text(text)
    echo(text)
    return summary


def _summary(seed, cases, per_build, only, jobs, records, wall):
    cover = defaultdict(lambda: [0, 0])
    for record in records:
        for axis, value, units, count in record["coverage"]:
            cover[(axis, value)][0] += units
            cover[(axis, value)][1] += count
    coverage = _nest(cover)
    missing = {axis: [v for v in values if v not in coverage.get(axis, {})]
               for axis, (_, values) in AXES.items() if values and axis not in INFORMATIVE}
    failures = [{"index": r["index"], "cases": r["failed"], "problems": r["problems"],
                 "description": r["description"], "replay": r["replay"],
                 "saved": r.get("saved")} for r in records if r["problems"]]
    sums = {name: round(sum(r[name] for r in records), 1)
            for name in ("build_seconds", "run_overhead_seconds", "sim_seconds",
                         "check_seconds")}
    return {
        "seed": seed, "command": " ".join(["spikefab soak", f"--seed {seed}",
                                           f"--cases {cases}", f"--per-build {per_build}"]
                                          + ([f"--only {only}"] if only is not None else [])
                                          + ([f"--jobs {jobs}"] if jobs != 1 else [])),
        "cases": sum(r["cases"] for r in records), "builds": len(records),
        "conv_builds": sum(bool(r.get("conv")) for r in records),
        "conv_cases": sum(r["cases"] for r in records if r.get("conv")),
        "per_build": per_build, "jobs": jobs,
        "mismatched_cases": sum(len(r["failed"]) for r in records),
        "failed_builds": len(failures), "failures": failures,
        "wall_seconds": round(wall, 1), **sums,
        "sim_cycles": sum(r["sim_cycles"] for r in records),
        "seconds_per_build": round(wall / max(1, len(records)), 1),
        "coverage": coverage,
        "coverage_missing": {axis: values for axis, values in missing.items() if values},
        "units": {axis: unit for axis, (unit, _) in AXES.items()},
        "python": sys.version.split()[0], "cpus": os.cpu_count(),
    }


def summary_text(summary):
    """The summary as a plain-text report with the coverage table."""
    lines = [f"# spikefab soak — seed {summary['seed']}", "",
             f"command: {summary['command']}",
             f"cases: {summary['cases']} on {summary['builds']} Verilator builds "
             f"({summary['per_build']} per build); convolutional: {summary['conv_cases']} "
             f"cases on {summary['conv_builds']} builds",
             f"mismatched cases: {summary['mismatched_cases']} "
             f"(failed builds: {summary['failed_builds']})",
             f"wall time: {summary['wall_seconds']:.0f} s (Verilator builds "
             f"{summary['build_seconds']:.0f} s, further runs' start-up "
             f"{summary['run_overhead_seconds']:.0f} s, simulation {summary['sim_seconds']:.0f} s "
             f"for {summary['sim_cycles']:,} cycles, golden + cycle model "
             f"{summary['check_seconds']:.0f} s); {summary['seconds_per_build']:.1f} s per build",
             ""]
    for failure in summary["failures"]:
        lines += [f"FAILED network {failure['index']}: {failure['description']}",
                  f"  replay: {failure['replay']}", f"  saved: {failure['saved']}"]
        lines += [f"  {p}" for p in failure["problems"][:20]]
    lines += ["", "## Coverage (units: networks, layers or cases as named; cases: samples "
              "that went through it)", "", "| axis | value | units | cases |", "|---|---|---|---|"]
    for axis, (unit, values) in AXES.items():
        found = summary["coverage"].get(axis, {})
        order = list(values or []) + sorted((v for v in found if v not in (values or [])),
                                            key=lambda v: (len(v), v))
        for value in order:
            units, cases = found.get(value, [0, 0])
            shown = "—" if unit == "case" else f"{units} {unit}s"
            lines.append(f"| {axis} | {value} | {shown} | {cases} |")
    if summary["coverage_missing"]:
        lines += ["", "NOT reached: " + "; ".join(f"{axis}: {', '.join(values)}" for axis, values
                                                  in summary["coverage_missing"].items())]
    return "\n".join(lines) + "\n"
