"""spikefab.sim.random_networks, the checks' one generator: every draw is a valid network
and configuration within the asked ranges, the same seed gives the same draw, and the draws
reach every neuron mode, format, lane kind and activity bin they promise."""

import numpy as np
import pytest

from spikefab.model import FORMATS, signed_range
from spikefab.sim.random_networks import (DEPTH_KINDS, LANE_KINDS, NEURON_MODES, random_case,
                                          random_config, random_layer, random_network,
                                          random_sample, random_trains, random_weights)


def test_weights_respect_width_and_density():
    rng = np.random.default_rng(1)
    weights = random_weights(rng, (200, 100), 5, 0.3)
    lo, hi = signed_range(5)
    assert weights.min() >= lo and weights.max() <= hi
    assert abs((weights != 0).mean() - 0.3) < 0.02
    assert not random_weights(rng, (10, 10), 4, 0.0).any()
    excitatory = random_weights(rng, (200, 100), 4, 1.0, excitatory=True)
    assert (excitatory >= 0).mean() > 0.8


@pytest.mark.parametrize("seed", range(20))
def test_layers_lie_in_their_ranges(seed):
    rng = np.random.default_rng(seed)
    mode = NEURON_MODES[seed % len(NEURON_MODES)]
    layer = random_layer(rng, 9, 7, mode, w_bits=(3, 6), v_bits=(8, 12))
    assert (layer.leak, layer.reset, layer.timing) == mode
    assert 3 <= layer.w_bits <= 6 and 8 <= layer.v_bits <= 12
    assert layer.weights.shape == (7, 9)
    assert 1 <= layer.theta <= (1 << (layer.v_bits - 1)) - 2
    if layer.leak == "shift":
        assert 0 <= layer.k <= layer.v_bits - 1
    if layer.leak == "mul":
        assert 0 <= layer.m <= 1 << layer.f


def test_the_same_seed_draws_the_same_case():
    a = random_case(np.random.default_rng([4, 2]))
    b = random_case(np.random.default_rng([4, 2]))
    assert a[1] == b[1] and np.array_equal(a[2], b[2])
    for x, y in zip(a[0], b[0]):
        assert np.array_equal(x.weights, y.weights) and x.theta == y.theta


def test_cases_cover_modes_formats_lanes_and_the_baseline():
    modes, formats, dense, lanes = set(), set(), 0, set()
    for seed in range(300):
        network, config, trains = random_case(np.random.default_rng(seed), max_neurons=12)
        config.check(network)
        assert trains.shape[2] == network.n_inputs and trains.dtype == bool
        modes.update((l.leak, l.reset, l.timing) for l in network)
        formats.update(c.format for c in config.layers)
        dense += config.mode == "dense"
        for layer, c in zip(network, config.layers):
            assert layer.neurons % c.lanes == 0 or c.lanes <= layer.neurons
            assert c.lanes % c.sweep_lanes == 0
            lanes.add("1" if c.lanes == 1 else "N" if c.lanes == layer.neurons else "other")
    assert modes == set(NEURON_MODES)
    assert formats == set(FORMATS)
    assert 30 < dense < 100                     # about one case in five
    assert lanes == {"1", "N", "other"}


def test_config_takes_given_kinds_and_stress_uses_the_minimum_depth():
    rng = np.random.default_rng(0)
    network = random_network(rng, [6, 16, 5])
    config = random_config(rng, network, lane_kinds=["1", "N"], depth_kinds=["3", "17-64"],
                           formats=["bitmap", None])
    assert [c.lanes for c in config.layers] == [1, 5]
    assert config.layers[0].queue_depth == 3 and 17 <= config.layers[1].queue_depth <= 64
    assert config.layers[0].format == "bitmap"
    stressed = random_config(rng, network, stress=True)
    assert all(c.queue_depth == 2 for c in stressed.layers)
    assert set(LANE_KINDS) >= {"1", "N"} and "2 (minimum)" in DEPTH_KINDS


@pytest.mark.parametrize("target, lo, hi", [(0, 0, 0), (1, 0, 0.05), (2, 0.05, 0.25),
                                            (3, 0.25, 0.5), (4, 0.5, 1), (5, 1, 1)])
def test_samples_fall_in_their_activity_bin(target, lo, hi):
    rng = np.random.default_rng(target)
    for _ in range(20):
        train = random_sample(rng, 10, 40, target)
        assert train.shape == (10, 40)
        # the spike probability is drawn inside the bin; 400 draws land within 0.08 of it
        assert lo - 0.08 <= train.mean() <= hi + 0.08
        if 0 < target < 5:
            assert 0 < train.mean() < 1


def test_trains_have_the_asked_activity():
    trains = random_trains(np.random.default_rng(0), 4, 50, 100, 0.3)
    assert trains.shape == (4, 50, 100) and abs(trains.mean() - 0.3) < 0.02


def test_random_conv_networks_chain_their_maps_and_spike():
    """random_conv_network draws valid conv networks (maps chain, every kind of layer the
    generator promises appears over a few seeds) whose layers nearly always all spike on dense
    input (a readout of one input and a high threshold may stay silent)."""
    from spikefab.model import simulate
    from spikefab.model.conv import ConvLayer
    from spikefab.sim.random_networks import random_conv_network
    pools = strides = paddings = lively = 0
    for seed in range(12):
        rng = np.random.default_rng(seed)
        network = random_conv_network(rng)
        convs = [layer for layer in network if isinstance(layer, ConvLayer)]
        assert 1 <= len(convs) <= 2 and not isinstance(network[-1], ConvLayer)
        pools += sum(layer.pool is not None for layer in convs)
        strides += sum(layer.geometry.stride != (1, 1) for layer in convs)
        paddings += sum(layer.geometry.padding != (0, 0) for layer in convs)
        result = simulate(network, rng.random((2, 10, network.n_inputs)) < 0.4)
        lively += all(s.sum() > 0 for s in result.spikes)
    assert pools and strides and paddings and lively >= 9
