"""Quantization (max-abs scale rule) and magnitude pruning."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.model import (Layer, Network, leak_for_beta, prune, prune_network,
                              quantize_layer, quantize_network, weight_scale)


def test_quantize_by_hand():
    # scale = 7 / 0.7 = 10: weights x10, round half to even: 3.5 -> 4, -2.5 -> -2
    W = np.array([[0.35, -0.7], [-0.25, 0.04]])
    layer = quantize_layer(W, w_bits=4, threshold=0.52, bias=[0.15, -0.1])
    assert weight_scale(W, 4) == pytest.approx(10.0)
    assert layer.weights.tolist() == [[4, -7], [-2, 0]]
    assert layer.theta == 5
    assert layer.bias.tolist() == [2, -1]
    # Default v_bits: holds max(2*theta + 2 = 12, positive 4 + 2 = 6, negative 7 + 1 = 8) = 12
    # -> 4 magnitude bits + sign = 5.
    assert layer.v_bits == 5


def test_quantize_keeps_theta_positive_and_passes_neuron_options():
    layer = quantize_layer(np.array([[1.0, -1.0]]), w_bits=8, threshold=0.001,
                           leak="shift", k=3, reset="zero", timing="delayed")
    assert layer.theta == 1
    assert (layer.leak, layer.k, layer.reset, layer.timing) == ("shift", 3, "zero", "delayed")


def test_quantize_network_chains_layers():
    rng = np.random.default_rng(0)
    net = quantize_network([rng.normal(size=(5, 4)), rng.normal(size=(3, 5))], w_bits=[6, 4],
                           thresholds=[1.0, 0.5])
    assert isinstance(net, Network) and net.shape == (4, 5, 3)
    assert [layer.w_bits for layer in net] == [6, 4]
    for layer in net:
        assert np.abs(layer.weights).max() == 2 ** (layer.w_bits - 1) - 1


@pytest.mark.parametrize("call, message", [
    (lambda: quantize_layer(np.zeros((2, 2)), w_bits=4), "at least one non-zero value"),
    (lambda: quantize_layer(np.ones((2, 2)), w_bits=1), r"w_bits = 1 is out of range; allowed range is \[2, 16\]"),
    (lambda: quantize_layer(np.ones((2, 2)), w_bits=4, threshold=0), "threshold must be a number > 0"),
    (lambda: quantize_layer(np.ones(2), w_bits=4), "weights must be a 2-D array"),
    (lambda: quantize_network([np.ones((2, 2))], w_bits=[4, 4]), "w_bits has 2 entries for 1 layers"),
    (lambda: prune(np.ones((2, 2)), 0), r"density = 0 is out of range; allowed range is \(0, 1\]"),
    (lambda: prune(np.ones((2, 2)), 1.5), r"density = 1.5 .*\(0, 1\]"),
    (lambda: prune(np.ones((2, 2)), 0.5, lanes=3), r"lanes = 3 is out of range; allowed range is \[1, 2\]"),
    (lambda: leak_for_beta(1.5), r"beta = 1.5 .*\[0, 1\]"),
])
def test_quantize_and_prune_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_prune_global_by_hand():
    W = np.array([[5, -1, 0], [2, -7, 3]])
    # keep round(0.5 * 6) = 3 largest magnitudes: 7, 5, 3
    assert prune(W, 0.5).tolist() == [[5, 0, 0], [0, -7, 3]]
    # ties broken by position: magnitudes 2, 2, 2, 2 -> first two kept
    assert prune(np.array([[2, -2], [2, 2]]), 0.5).tolist() == [[2, -2], [0, 0]]
    assert prune(W, 1.0).tolist() == W.tolist()


def test_prune_balanced_per_lane_by_hand():
    # lanes = 2: lane 0 = rows 0, 2; lane 1 = rows 1, 3. density 0.5 keeps 1 of 2 per lane and
    # column.
    W = np.array([[1, 4], [9, 0], [3, -2], [-8, 7]])
    assert prune(W, 0.5, lanes=2).tolist() == [[0, 4], [9, 0], [3, 0], [0, 7]]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.floats(0.05, 1.0), st.integers(1, 12),
       st.integers(0, 2 ** 31))
def test_prune_properties(n, fan_in, density, lanes, seed):
    rng = np.random.default_rng(seed)
    W = rng.integers(-8, 8, size=(n, fan_in))
    pruned = prune(W, density)
    kept = pruned != 0
    assert np.all(pruned[kept] == W[kept])                   # kept weights unchanged
    assert kept.sum() <= round(density * W.size)
    if kept.any() and (~kept & (W != 0)).any():               # magnitude order respected
        assert np.abs(W[kept]).min() >= np.abs(W[~kept & (W != 0)]).max()
    lanes = min(lanes, n)
    balanced = prune(W, density, lanes=lanes)
    assert np.all((balanced == 0) | (balanced == W))
    for p in range(lanes):
        rows = np.arange(p, n, lanes)
        limit = int(np.ceil(density * len(rows) - 1e-9))
        assert ((balanced[rows] != 0).sum(axis=0) <= limit).all()


def test_prune_network_and_leak_for_beta():
    layer = Layer(np.array([[3, -1], [2, 5]]), theta=2, w_bits=4, v_bits=8)
    net = prune_network(Network([layer]), 0.5)
    assert net[0].weights.tolist() == [[3, 0], [0, 5]]
    assert leak_for_beta(0.75) == {"leak": "shift", "k": 2}
    assert leak_for_beta(0.9, mode="mul", f=8) == {"leak": "mul", "m": 230, "f": 8}
    assert leak_for_beta(1.0) == {"leak": "none"}
