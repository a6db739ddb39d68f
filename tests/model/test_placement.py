"""Neuron placement (spikefab.model.placement, docs/design.md §3): the permutation, its word
counts by hand, compile → decode round trips in every format, the cycle model's two routes
with a placement, and bad placements."""

import numpy as np
import pytest

from spikefab.model import (FORMATS, HardwareConfig, Layer, LayerConfig, Network,
                            compile_weights, cycle_model, decode_weights, simulate,
                            single_layer_cycles)
from spikefab.model.cycles import emitted_stream
from spikefab.model.placement import balanced_placement, check_placement, column_words

# 4 neurons, fan-in 3, P = 2 lanes. The identity puts neurons 0 and 2 (the non-zeros of
# columns 0 and 1) both in lane 0, neurons 1 and 3 (column 2) both in lane 1: 2 words per
# column, 6 in all. Placement [0, 2, 1, 3] (neuron 1 at position 2 = lane 0 row 1, neuron 2
# at position 1 = lane 1 row 0) gives every column one non-zero per lane: 3 words.
W = np.array([[1, 2, 0],
              [0, 0, 3],
              [4, 5, 0],
              [0, 0, 6]])
LAYER = Layer(W, theta=3, w_bits=4, v_bits=8)


def test_word_counts_by_hand():
    assert compile_weights(LAYER, 2, "csc").column_words.tolist() == [2, 2, 2]
    placed = compile_weights(LAYER, 2, "csc", placement=[0, 2, 1, 3])
    assert placed.column_words.tolist() == [1, 1, 1]
    # slot = valid << 5 | local << 4 | weight (6 bits), word = lane 0 | lane 1 << 6:
    #   column 0: lane 0 neuron 0 (local 0, 1) = 0x21, lane 1 neuron 2 (local 0, 4) = 0x24
    #   column 1: lane 0 neuron 0 (2) = 0x22, lane 1 neuron 2 (5) = 0x25
    #   column 2: lane 0 neuron 1 (local 1, 3) = 0x33, lane 1 neuron 3 (local 1, 6) = 0x36
    assert placed.memories["weights"].words == (0x21 | 0x24 << 6, 0x22 | 0x25 << 6,
                                                0x33 | 0x36 << 6)
    assert placed.order.tolist() == [0, 2, 1, 3]
    balanced = compile_weights(LAYER, 2, "bitmap", placement="balanced")
    assert balanced.column_words.tolist() == [1, 1, 1]
    assert column_words(W, 2, balanced.placement).tolist() == [1, 1, 1]


def test_identity_placement_is_todays_image():
    for placement in (None, "identity", list(range(4))):
        image = compile_weights(LAYER, 2, "csc", placement=placement)
        assert image.placement is None
        assert image.memories["weights"].words == compile_weights(LAYER, 2, "csc").memories[
            "weights"].words


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_with_random_placements(fmt):
    rng = np.random.default_rng(7)
    for _ in range(12):
        neurons, fan_in = int(rng.integers(1, 14)), int(rng.integers(1, 9))
        weights = np.where(rng.random((neurons, fan_in)) < 0.4,
                           rng.integers(-8, 8, (neurons, fan_in)), 0)
        layer = Layer(weights, theta=2, w_bits=4, v_bits=8)
        lanes = int(rng.integers(1, neurons + 1))              # padding when lanes ∤ N
        for placement in (rng.permutation(neurons), "balanced"):
            image = compile_weights(layer, lanes, fmt, placement=placement)
            assert np.array_equal(decode_weights(image), weights)
            if image.placement is not None:
                assert sorted(image.placement.tolist()) == list(range(neurons))


def test_balanced_placement_is_a_permutation_that_lowers_the_words():
    rng = np.random.default_rng(1)
    # Global pruning: non-zeros gather in the large-scale neurons and inputs.
    raw = rng.normal(size=(128, 64)) * rng.uniform(0.2, 1, (128, 1)) * rng.uniform(0.2, 1, 64)
    weights = np.where(np.abs(raw) > np.quantile(np.abs(raw), 0.9), 1, 0)
    placement = balanced_placement(weights, 8)
    assert sorted(placement.tolist()) == list(range(128))
    identity, placed = column_words(weights, 8).sum(), column_words(weights, 8, placement).sum()
    floor = (-(-(weights != 0).sum(axis=0) // 8)).sum()       # ceil(nnz_j / P) per column
    assert floor <= placed < identity
    # Each lane keeps its row count (positions >= N stay padding): 100 neurons on 8 lanes.
    placement = balanced_placement(weights[:100], 8)
    assert sorted(placement.tolist()) == list(range(100))


def _network(rng):
    weights = np.where(rng.random((11, 9)) < 0.5, rng.integers(-7, 8, (11, 9)), 0)
    weights[:, :3] *= rng.random((11, 3)) < 0.9                # uneven columns
    return Network([Layer(weights, theta=3, w_bits=4, v_bits=10, leak="shift", k=2),
                    Layer(rng.integers(-7, 8, (4, 11)), theta=4, w_bits=4, v_bits=10)])


@pytest.mark.parametrize("lanes, sweep", [(4, 4), (4, 2), (3, 1)])
def test_cycle_model_with_a_placement_equals_the_stepped_route(lanes, sweep):
    rng = np.random.default_rng(lanes * 10 + sweep)
    network = _network(rng)
    layer = network[0]
    single = Network([layer])
    trains = rng.random((3, 5, 9)) < 0.5
    result = simulate(single, trains)
    placement = rng.permutation(11)
    config = HardwareConfig((LayerConfig(lanes, "csc", 4, sweep, placement),))
    image = compile_weights(layer, lanes, "csc", placement=placement)
    report = cycle_model(single, result, config)
    assert report.total == single_layer_cycles(layer, image, trains, result.spikes[0],
                                               sweep_lanes=sweep)
    assert report.layers[0].words == int((trains.sum(axis=(0, 1)) * image.column_words).sum())


def test_emitted_stream_follows_the_hardware_positions():
    image = compile_weights(LAYER, 2, "csc", placement=[0, 2, 1, 3])
    trains = np.array([[[1, 1, 1, 0]]], dtype=bool)           # neurons 0, 1, 2 spike
    # positions: neuron 0 → 0, neuron 2 → 1, neuron 1 → 2: the spikes leave as 0, 2, 1.
    assert [a for k, a in emitted_stream(trains, image) if k == 0] == [0, 2, 1]


@pytest.mark.parametrize("make, error, message", [
    (lambda: LayerConfig(2, placement="greedy"), ValueError,
     r"placement = 'greedy' is not allowed; choose one of identity, balanced"),
    (lambda: LayerConfig(2, placement=[0, 0, 1]), ValueError,
     r"placement is not a permutation of range\(3\): position 0 is given twice"),
    (lambda: LayerConfig(2, placement=[0, 3, 1]), ValueError,
     r"placement holds 3, out of range; allowed range is \[0, 2\]"),
    (lambda: LayerConfig(2, placement=[[0, 1]]), TypeError, r"one-dimensional sequence of ints"),
    (lambda: LayerConfig(2, placement=3), TypeError, r"placement must be 'identity', 'balanced'"),
    (lambda: LayerConfig(2, placement=[0.0, 1.0]), TypeError, r"sequence of ints"),
    (lambda: LayerConfig(2, format="kernel", placement="balanced"), ValueError,
     r"placement = 'balanced' is not allowed with format 'kernel'.*fully connected layers only"),
    (lambda: HardwareConfig((LayerConfig(2, placement=[1, 0, 2]),)).check(Network([LAYER])),
     ValueError, r"layers\[0\].placement has 3 entries; the layer has 4 neurons"),
    (lambda: compile_weights(LAYER, 2, "csc", placement=[0, 1, 2, 2]), ValueError,
     r"not a permutation of range\(4\)"),
    (lambda: check_placement([], 0), ValueError, r"placement is empty"),
])
def test_bad_placements_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_uniform_sets_the_placement_and_keeps_identity_out_of_json():
    network = Network([LAYER])
    plain = HardwareConfig.uniform(network, lanes=2)
    assert plain.layers[0].placement == "identity"
    assert "placement" not in plain.to_json()["layers"][0]
    placed = HardwareConfig.uniform(network, lanes=2, placement="balanced")
    assert placed.to_json()["layers"][0]["placement"] == "balanced"
    assert placed.describe().endswith("balanced placement")
    explicit = HardwareConfig.uniform(network, lanes=2, placement=[[0, 2, 1, 3]])
    assert explicit.layers[0].placement == (0, 2, 1, 3)
