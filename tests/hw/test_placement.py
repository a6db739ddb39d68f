"""Neuron placement in hardware (docs/design.md §3, "Neuron placement"): globally pruned
random networks with non-identity placements run in the Amaranth simulator, every spike, count,
class, result cycle and counter equal to the golden model and the cycle model with the same
placement; S < P and padding neurons included. The identity placement builds exactly the
hardware without one."""

import dataclasses

import numpy as np
import pytest

from spikefab.hw.accelerator import Accelerator
from spikefab.hw.lif_core import LIFCore
from spikefab.hw.verilog import convert
from spikefab.model import HardwareConfig, Layer, LayerConfig, Network, compile_weights
from spikefab.sim.cosim import run_accelerator

from .accelerator_cases import check_against_golden


def _globally_pruned(rng, sizes, density):
    """Layers whose non-zeros gather in some neurons and inputs (global magnitude pruning of
    weights with a per-neuron and per-input scale), so lanes are unbalanced."""
    layers = []
    for fan_in, neurons in zip(sizes, sizes[1:]):
        scale = rng.uniform(0.2, 1.0, (neurons, 1)) * rng.uniform(0.2, 1.0, (1, fan_in))
        raw = rng.normal(size=(neurons, fan_in)) * scale
        cut = np.quantile(np.abs(raw), 1 - density)
        weights = np.where(np.abs(raw) >= cut, np.clip(np.round(raw * 12), -7, 7), 0)
        leak = dict(leak="shift", k=2) if rng.random() < 0.5 else {}
        layers.append(Layer(weights.astype(np.int64), theta=int(rng.integers(2, 6)), w_bits=4,
                            v_bits=10, bias=rng.integers(-1, 2, neurons), **leak))
    return Network(layers)


CASES = [  # sizes, lanes, sweep lanes, formats, placements ("random": a random permutation)
    ((12, 13, 7), [4, 3], [2, 3], ["csc", "bitmap"], ["balanced", "random"]),   # padding, S < P
    ((9, 10, 5), [4, 2], [1, 2], ["bitmap", "csc"], ["random", "balanced"]),    # padding, S = 1
    ((8, 12, 6), [3, 4], [3, 2], ["dense", "csc"], ["random", "random"]),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_placed_network_matches_golden_and_cycle_model(case):
    sizes, lanes, sweep, formats, kinds = CASES[case]
    rng = np.random.default_rng(40 + case)
    network = _globally_pruned(rng, sizes, density=0.4)
    placements = [rng.permutation(layer.neurons) if kind == "random" else kind
                  for kind, layer in zip(kinds, network)]
    config = HardwareConfig(tuple(LayerConfig(p, f, 4, s, pl) for p, f, s, pl in
                                  zip(lanes, formats, sweep, placements)))
    trains = rng.random((2, 4, sizes[0])) < 0.5
    run = run_accelerator(network, config, trains)
    golden, _ = check_against_golden(network, config, trains, run)
    assert golden.spikes[0].any() and golden.spikes[1].any()
    images = [compile_weights(layer, c.lanes, c.format, placement=c.placement)
              for layer, c in zip(network, config.layers)]
    assert all(image.placement is not None for image in images)


def test_identity_placement_builds_todays_hardware():
    rng = np.random.default_rng(3)
    network = _globally_pruned(rng, (6, 7, 3), density=0.5)
    plain = HardwareConfig.uniform(network, lanes=3, format="csc")
    explicit = dataclasses.replace(plain, layers=tuple(
        dataclasses.replace(c, placement=tuple(range(layer.neurons)))
        for c, layer in zip(plain.layers, network)))
    assert explicit.layers[0].placement != "identity"
    assert convert(Accelerator(network, explicit), "top") == convert(Accelerator(network, plain), "top")
    placed = HardwareConfig.uniform(network, lanes=3, format="csc",
                                    placement=[np.array([1, 0, 2, 3, 4, 5, 6]), "identity"])
    assert convert(Accelerator(network, placed), "top") != convert(Accelerator(network, plain), "top")


def test_lif_core_refuses_a_bad_placement():
    layer = Layer(np.ones((5, 2), dtype=int), theta=1, w_bits=2, v_bits=4)
    with pytest.raises(ValueError, match=r"placement is not a permutation of range\(5\)"):
        LIFCore(layer, lanes=2, acc_bits=4, placement=[0, 1, 2, 3, 3])
    with pytest.raises(ValueError, match=r"placement has 4 entries; the layer has 5 neurons"):
        LIFCore(layer, lanes=2, acc_bits=4, placement=[0, 1, 2, 3])


def test_ties_go_to_the_lowest_user_index_whatever_the_emission_order():
    # Three identical output neurons (equal counts every sample); placement [2, 1, 0] puts
    # user neuron 0 at the last position, so its spikes leave last: the class is still 0.
    rng = np.random.default_rng(5)
    hidden = Layer(rng.integers(0, 4, (6, 4)), theta=2, w_bits=4, v_bits=8)
    out = Layer(np.tile(rng.integers(1, 4, (1, 6)), (3, 1)), theta=3, w_bits=4, v_bits=8)
    network = Network([hidden, out])
    config = HardwareConfig.uniform(network, lanes=[2, 3], format="csc",
                                    placement=["balanced", [2, 1, 0]])
    trains = rng.random((3, 5, 4)) < 0.6
    run = run_accelerator(network, config, trains)
    golden, _ = check_against_golden(network, config, trains, run)
    assert golden.counts.any() and (golden.counts == golden.counts[:, :1]).all()
    assert run.classes.tolist() == [0, 0, 0]
