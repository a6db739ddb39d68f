"""The direct input layer's golden semantics (docs/design.md §13): a held current from
multi-bit inputs, checked against a plain loop over the contract's two lines."""

import numpy as np
import pytest

from spikefab.model import Layer, Network, encode, encode_direct, simulate


def _loop_reference(layer, values):
    """Membranes ``[T, N]`` and spikes of a direct layer for one sample's values ``[T, N0]``,
    one neuron at a time, in Python integers."""
    steps, _ = values.shape
    lo, hi = -(1 << (layer.v_bits - 1)), (1 << (layer.v_bits - 1)) - 1
    membranes, spikes = np.zeros((steps, layer.neurons), int), np.zeros((steps, layer.neurons),
                                                                       bool)
    for i in range(layer.neurons):
        total, v, last = 0, 0, False
        for t in range(steps):
            total += sum(int(w) * int(x) for w, x in zip(layer.weights[i], values[t]))
            current = (total >> layer.x_shift) + int(layer.bias[i])
            if layer.timing == "immediate":
                v = min(hi, max(lo, int(layer.leak_fn(np.int64(v))) + current))
                fired = v > layer.theta
                if fired:
                    v = v - layer.theta if layer.reset == "subtract" else 0
            else:
                leaked = int(layer.leak_fn(np.int64(v)))
                if layer.reset == "subtract":
                    v = min(hi, max(lo, leaked + current - last * layer.theta))
                else:
                    v = min(hi, max(lo, (0 if last else leaked) + current))
                fired = v > layer.theta
            membranes[t, i], spikes[t, i], last = v, fired, fired
    return membranes, spikes


@pytest.mark.parametrize("x_bits, x_shift, leak, reset, timing", [
    (8, None, "none", "subtract", "immediate"),
    (8, 3, "shift", "zero", "immediate"),
    (4, 0, "mul", "subtract", "delayed"),
    (1, 1, "none", "zero", "delayed"),
    (12, 12, "shift", "subtract", "delayed"),
])
def test_the_golden_model_holds_the_shifted_current(x_bits, x_shift, leak, reset, timing):
    rng = np.random.default_rng(x_bits * 7 + (x_shift or 0))
    leak_args = {"none": {}, "shift": {"k": 2}, "mul": {"m": 3, "f": 2}}[leak]
    first = Layer(rng.integers(-16, 16, (7, 9)), theta=60, w_bits=6, v_bits=10,
                  bias=rng.integers(-5, 5, 7), leak=leak, reset=reset, timing=timing,
                  x_bits=x_bits, x_shift=x_shift, **leak_args)
    second = Layer(rng.integers(-3, 4, (4, 7)), theta=2, w_bits=3, v_bits=8)
    network = Network([first, second])
    assert network.encoder == "direct" and first.x_shift == (x_bits if x_shift is None
                                                               else x_shift)
    x = rng.integers(0, 1 << x_bits, (5, 9))
    values = encode_direct(x, 6, x_bits=x_bits)
    # One more sample whose inputs arrive spread over the steps (the held sum is cumulative).
    spread = np.zeros((1, 6, 9), dtype=np.int64)
    spread[0, 0, :4], spread[0, 3, 4:] = x[0, :4], x[0, 4:]
    values = np.concatenate([values.astype(np.int64), spread])
    result = simulate(network, values, record_membranes=True)
    for b in range(len(values)):
        membranes, spikes = _loop_reference(first, values[b])
        assert np.array_equal(result.traces[0][b], membranes)
        assert np.array_equal(result.spikes[0][b], spikes)
    assert np.array_equal(result.counts, result.spikes[1].sum(axis=1))


def test_direct_inputs_are_checked():
    layer = Layer(np.ones((2, 3), dtype=int), theta=5, x_bits=4)
    network = Network([layer])
    with pytest.raises(ValueError, match="unsigned, in \\[0, 15\\]"):
        simulate(network, np.array([[0, -1, 2]]))
    with pytest.raises(ValueError, match="sum to at most 15"):
        simulate(network, np.array([[9, 0, 0], [9, 0, 0]]))
    with pytest.raises(TypeError, match="must be integers"):
        simulate(network, np.array([[0.5, 0, 0]]))
    with pytest.raises(ValueError, match="have 4 values per step, the network expects 3"):
        simulate(network, np.zeros((2, 4), dtype=int))
    with pytest.raises(ValueError, match=r"intensities must lie in \[0, 15\]"):
        encode_direct([16, 0, 0], 2, x_bits=4)


def test_direct_layers_are_checked():
    weights = np.ones((2, 3), dtype=int)
    with pytest.raises(ValueError, match=r"x_bits .*\[1, 16\]"):
        Layer(weights, theta=5, x_bits=17)
    with pytest.raises(ValueError, match=r"x_shift \(with x_bits = 4\).*\[0, 4\]"):
        Layer(weights, theta=5, x_bits=4, x_shift=5)
    with pytest.raises(ValueError, match="only used by a direct input layer"):
        Layer(weights, theta=5, x_shift=2)
    spiking = Layer(np.ones((3, 2), dtype=int), theta=5)
    with pytest.raises(ValueError, match="only the first layer may be"):
        Network([spiking, Layer(weights, theta=5, x_bits=4)])
    with pytest.raises(ValueError, match="does not match the first layer"):
        Network([Layer(weights, theta=5, x_bits=4)], encoder="rate")
    with pytest.raises(ValueError, match="does not match the first layer"):
        Network([spiking], encoder="direct")


def test_a_direct_network_file_round_trips(tmp_path):
    rng = np.random.default_rng(3)
    network = Network([Layer(rng.integers(-8, 8, (4, 5)), theta=9, w_bits=5, x_bits=6,
                             x_shift=2, bias=rng.integers(-2, 2, 4)),
                       Layer(rng.integers(-2, 2, (3, 4)), theta=2, w_bits=3)], steps=7)
    network.save(tmp_path / "net.npz")
    loaded = Network.load(tmp_path / "net.npz")
    assert (loaded.encoder, loaded.steps) == ("direct", 7)
    assert (loaded[0].x_bits, loaded[0].x_shift, loaded[1].x_bits) == (6, 2, None)
    values = encode("direct", rng.integers(0, 64, (3, 5)), 7, x_bits=6)
    assert np.array_equal(simulate(loaded, values).counts, simulate(network, values).counts)


# --- the cycle model: a direct layer's non-zero values are events, whatever their value -------

def _direct_pair(seed):
    """A direct network and its spiking twin (the same layers, layer 0 without x_bits), and a
    batch of sparse 8-bit values."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(-8, 8, (12, 10)) * (rng.random((12, 10)) < 0.6)
    first = Layer(weights, theta=40, w_bits=5, v_bits=12, bias=rng.integers(-2, 3, 12),
                  x_bits=8, x_shift=5)
    second = Layer(rng.integers(-3, 4, (5, 12)), theta=3, w_bits=3, v_bits=8)
    twin = Network([first.replace(x_bits=None, x_shift=None), second])
    x = rng.integers(1, 256, (4, 10)) * (rng.random((4, 10)) < 0.5)
    x[2] = 0                                            # a sample without any input event
    return Network([first, second]), twin, encode_direct(x, 5)


def _other_values(values, seed):
    """``values`` with every non-zero value replaced by another non-zero one in [1, 255]."""
    rng = np.random.default_rng(seed)
    other = np.where(values != 0, (values.astype(np.int64) + rng.integers(1, 255, values.shape))
                     % 255 + 1, 0)
    assert np.array_equal(other != 0, values != 0) and (other != values)[values != 0].all()
    return other


def _stats(report):
    return [vars(s) for s in report.layers], report.total, report.latency.tolist()


@pytest.mark.parametrize("seed, fmt, mode", [(0, "csc", "sparse"), (1, "bitmap", "sparse"),
                                             (2, "dense", "dense")])
def test_the_cycle_model_counts_a_direct_value_as_one_event(seed, fmt, mode):
    from dataclasses import replace

    from spikefab.model import (HardwareConfig, compile_weights, cycle_model, lower_bound,
                                single_layer_cycles)
    network, twin, values = _direct_pair(seed)
    config = HardwareConfig.uniform(network, lanes=3, format=fmt, mode=mode)
    result = simulate(network, values)
    assert result.spikes[0].any() and result.spikes[1].any()
    # The same golden spikes with other non-zero values, and the twin reading 0/1 spikes where
    # the values are non-zero: the cycle model must not see the values.
    other = replace(result, inputs=_other_values(values, seed))
    spiking = replace(result, inputs=values != 0)
    report = cycle_model(network, result, config)
    assert _stats(cycle_model(network, other, config)) == _stats(report)
    # The twin does the same work, but a direct layer's sweeps start a cycle later (its PE
    # lanes take a cycle more: docs/design.md §13), so its busy cycles and latencies differ.
    work = ("events", "words", "synaptic_updates", "lower_bound", "dropped")
    assert [{k: s[k] for k in work} for s in _stats(cycle_model(twin, spiking, config))[0]] \
        == [{k: s[k] for k in work} for s in _stats(report)[0]]
    assert report.layers[0].events == np.count_nonzero(values)
    for mine, theirs in zip(lower_bound(network, result, config),
                            lower_bound(twin, spiking, config)):
        assert np.array_equal(mine, theirs)
    assert np.array_equal(lower_bound(network, other, config)[0],
                          lower_bound(network, result, config)[0])
    if mode == "sparse":   # the one-layer closed form, by its separate route
        one = Network([network[0]])
        alone = simulate(one, values)
        image = compile_weights(network[0], 3, fmt)
        cycles = single_layer_cycles(network[0], image, values, alone.spikes[0])
        assert cycles == single_layer_cycles(network[0], image, other.inputs, alone.spikes[0])
        assert cycles == single_layer_cycles(network[0], image, values != 0, alone.spikes[0])
        assert cycles == cycle_model(one, alone, HardwareConfig.uniform(one, lanes=3,
                                                                         format=fmt)).total


def test_direct_events_and_the_exit_cycle_model():
    from spikefab.model import HardwareConfig, cycle_model
    from spikefab.model.events import SPIKE, event_stream, sample_starts
    network, _, values = _direct_pair(4)
    stream = event_stream(values)
    assert [e for e in stream if e[0] == SPIKE] == [
        (SPIKE, int(j)) for sample in values for step in sample for j in np.flatnonzero(step)]
    assert sample_starts(values) == sample_starts(values != 0) == [0, 12, 24, 30]
    # With early exit the model runs the golden model again (on the values): every non-zero
    # value is one event, consumed or dropped.
    result = simulate(network, values, exit="exact")
    report = cycle_model(network, result, HardwareConfig.uniform(network, lanes=2))
    assert report.layers[0].events + report.layers[0].dropped == np.count_nonzero(values)


def test_quantize_layer_sizes_a_direct_layer_for_its_values():
    from spikefab.model import quantize_layer
    weights = np.array([[1.0, 0.5, -0.25], [-1.0, 0.0, 0.75]])
    for x_bits, x_shift in ((8, 8), (8, 0), (4, 2)):
        layer = quantize_layer(weights, w_bits=4, threshold=0.5, x_bits=x_bits,
                               x_shift=x_shift)
        assert (layer.x_bits, layer.x_shift) == (x_bits, x_shift)
        # the largest current by brute force over the corner inputs (0 or x_max)
        x_max = (1 << x_bits) - 1
        corners = np.array(np.meshgrid(*[[0, x_max]] * 3)).reshape(3, -1).T
        peak = int(np.abs((corners @ layer.weights.T) >> x_shift).max())
        assert (1 << (layer.v_bits - 1)) - 1 >= max(peak, 2 * layer.theta + 2)
    assert quantize_layer(weights, w_bits=4, threshold=0.5, x_bits=8, x_shift=0).v_bits > \
        quantize_layer(weights, w_bits=4, threshold=0.5).v_bits
