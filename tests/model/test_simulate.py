"""The golden simulation against hand-computed tables, an independent per-neuron loop and
the snnTorch ``Leaky`` update rule written out."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.model import Layer, Network, simulate

# ---------------------------------------------------------------------------------------------
# Hand-computed tables. One neuron, theta = 4, v_bits = 4 (membrane range [-8, 7]).
# The input current of each step is chosen by firing one input whose weight is that current
# (0 = no input). The sequence reaches the top of the range (t1), the bottom (t5, t6) and
# v == theta exactly, which must not fire (strict v > theta).
# Leak tables used for the hand computation:
#   shift k=1, v - (v >> 1):  7->4 6->3 5->3 4->2 3->2 2->1 1->1 0->0 -1->0 -2->-1 -3->-1
#                             -4->-2 -5->-2 -6->-3 -7->-3 -8->-4
#   mul m=3 f=2, (3v) >> 2:   7->5 6->4 5->3 4->3 3->2 2->1 1->0 0->0 -1->-1 -2->-2 -3->-3
#                             -4->-3 -5->-4 -6->-5 -7->-6 -8->-6
CURRENTS = [7, 7, 4, 0, -6, -6, -6, 7, 4, 1]
INPUT_WEIGHTS = [7, 4, -6, 1]

LEAKS = {"none": {}, "shift": dict(k=1), "mul": dict(m=3, f=2)}

# (leak, reset, timing): (spikes per step, membrane after each step)
TABLES = {
    ("none", "subtract", "immediate"): ("1110000000", [3, 3, 3, 3, -3, -8, -8, -1, 3, 4]),
    ("none", "zero", "immediate"):     ("1100000000", [0, 0, 4, 4, -2, -8, -8, -1, 3, 4]),
    ("none", "subtract", "delayed"):   ("1110000000", [7, 7, 7, 3, -3, -8, -8, -1, 3, 4]),
    ("none", "zero", "delayed"):       ("1100000000", [7, 7, 4, 4, -2, -8, -8, -1, 3, 4]),
    ("shift", "subtract", "immediate"): ("1110000010", [3, 3, 2, 1, -5, -8, -8, 3, 2, 2]),
    ("shift", "zero", "immediate"):     ("1100000010", [0, 0, 4, 2, -5, -8, -8, 3, 0, 1]),
    ("shift", "subtract", "delayed"):   ("1100000010", [7, 7, 4, 2, -5, -8, -8, 3, 6, 0]),
    ("shift", "zero", "delayed"):       ("1100000010", [7, 7, 4, 2, -5, -8, -8, 3, 6, 1]),
    ("mul", "subtract", "immediate"): ("1110000000", [3, 3, 2, 1, -6, -8, -8, 1, 4, 4]),
    ("mul", "zero", "immediate"):     ("1100000000", [0, 0, 4, 3, -4, -8, -8, 1, 4, 4]),
    ("mul", "subtract", "delayed"):   ("1110000000", [7, 7, 5, -1, -7, -8, -8, 1, 4, 4]),
    ("mul", "zero", "delayed"):       ("1100000000", [7, 7, 4, 3, -4, -8, -8, 1, 4, 4]),
}


def _one_hot_inputs(currents):
    trains = np.zeros((len(currents), len(INPUT_WEIGHTS)), dtype=bool)
    for t, current in enumerate(currents):
        if current:
            trains[t, INPUT_WEIGHTS.index(current)] = True
    return trains


@pytest.mark.parametrize("leak, reset, timing", sorted(TABLES))
def test_hand_table(leak, reset, timing):
    spikes, membranes = TABLES[leak, reset, timing]
    layer = Layer(np.array([INPUT_WEIGHTS]), theta=4, w_bits=4, v_bits=4, leak=leak,
                  reset=reset, timing=timing, **LEAKS[leak])
    result = simulate(Network([layer]), _one_hot_inputs(CURRENTS), record_membranes=True)
    assert "".join(str(int(s)) for s in result.spikes[0][:, 0]) == spikes
    assert result.traces[0][:, 0].tolist() == membranes
    assert result.membranes[0].tolist() == [membranes[-1]]
    assert result.counts.tolist() == [spikes.count("1")]


def test_bias_is_added_every_step():
    # I = 2*s + 3; v: 3 -> 8 (fires, 8-4 = 4) -> 4+3 = 7 (fires, 3)
    layer = Layer(np.array([[2]]), theta=4, w_bits=4, v_bits=6, bias=[3])
    result = simulate(Network([layer]), np.array([[0], [1], [0]]), record_membranes=True)
    assert result.traces[0][:, 0].tolist() == [3, 4, 3]
    assert result.spikes[0][:, 0].tolist() == [False, True, True]


def test_two_layers_and_ties_by_hand():
    # Layer 1: two neurons copy inputs 0 and 1 with weight 5 (theta 4, zero reset).
    # Layer 2: neuron 0 listens to hidden 0, neuron 1 to hidden 1; both weight 5.
    hidden = Layer(np.array([[5, 0], [0, 5]]), theta=4, w_bits=4, v_bits=6, reset="zero")
    out = Layer(np.array([[5, 0], [0, 5]]), theta=4, w_bits=4, v_bits=6, reset="zero")
    trains = np.array([[[1, 0], [0, 1], [1, 1]],      # sample 0: counts [2, 2] -> class 0 (tie)
                       [[0, 1], [0, 1], [0, 0]]])     # sample 1: counts [0, 2] -> class 1
    result = simulate(Network([hidden, out]), trains)
    assert result.spikes[0].astype(int).tolist() == trains.tolist()
    assert result.spikes[1].astype(int).tolist() == trains.tolist()
    assert result.counts.tolist() == [[2, 2], [0, 2]]
    assert result.predicted.tolist() == [0, 1]
    # Batched and unbatched runs agree.
    single = simulate(Network([hidden, out]), trains[1])
    assert single.counts.tolist() == [0, 2] and int(single.predicted) == 1


def test_samples_are_independent():
    layer = Layer(np.array([[3, -2]]), theta=5, w_bits=4, v_bits=8, leak="shift", k=2)
    net = Network([layer])
    rng = np.random.default_rng(5)
    trains = rng.random((6, 12, 2)) < 0.6
    batch = simulate(net, trains)
    for b in range(6):
        alone = simulate(net, trains[b])
        assert np.array_equal(alone.spikes[0], batch.spikes[0][b])
        assert np.array_equal(alone.membranes[0], batch.membranes[0][b])


@pytest.mark.parametrize("spikes, error, message", [
    (np.zeros((3,)), ValueError, r"spikes must have shape \[T, 2\] or \[B, T, 2\]"),
    (np.zeros((3, 5)), ValueError, "spikes have 5 inputs per step, the network expects 2"),
    (np.zeros((0, 2)), ValueError, "at least one timestep"),
    (np.zeros((0, 4, 2)), ValueError, r"spikes hold a batch of 0 samples; give at least one"),
    (np.array([[0.5, 1.0]]), ValueError, "spikes must be binary"),
    (np.array([[np.nan, 1.0]]), ValueError, "spikes must be binary"),
    (np.array([[-1, 0]]), ValueError, "spikes must be binary"),
    (np.array([[0, 2]]), ValueError, "spikes must be binary"),
    (np.array([["a", "b"]]), TypeError, "spikes must be a binary array"),
])
def test_bad_spikes(spikes, error, message):
    net = Network([Layer(np.array([[1, 1]]), theta=1, w_bits=2, v_bits=4)])
    with pytest.raises(error, match=message):
        simulate(net, spikes)


def test_network_type_checked():
    with pytest.raises(TypeError, match="network must be a spikefab.model.Network"):
        simulate([np.eye(2)], np.zeros((1, 2)))


# ---------------------------------------------------------------------------------------------
# An independent reference: plain Python integers, one neuron at a time, straight from the
# text of docs/design.md §2.

def reference_loop(layers, trains):
    """layers: list of dicts with plain-Python parameters; trains: list of [T][N0] 0/1."""
    out_all = []
    for sample in trains:
        v = [[0] * len(spec["W"]) for spec in layers]
        r = [[0] * len(spec["W"]) for spec in layers]
        outs = [[] for _ in layers]
        for step in sample:
            s_in = list(step)
            for l, spec in enumerate(layers):
                lo, hi = -(2 ** (spec["v_bits"] - 1)), 2 ** (spec["v_bits"] - 1) - 1
                theta = spec["theta"]
                s_out = []
                for i, row in enumerate(spec["W"]):
                    current = sum(w for w, s in zip(row, s_in) if s) + spec["b"][i]
                    old = v[l][i]
                    if spec["leak"] == "shift":
                        leaked = old - (old >> spec["k"])
                    elif spec["leak"] == "mul":
                        leaked = (old * spec["m"]) >> spec["f"]
                    else:
                        leaked = old
                    if spec["timing"] == "immediate":
                        new = min(hi, max(lo, leaked + current))
                        fired = new > theta
                        if fired:
                            new = new - theta if spec["reset"] == "subtract" else 0
                    else:
                        if spec["reset"] == "subtract":
                            new = min(hi, max(lo, leaked + current - r[l][i] * theta))
                        else:
                            new = min(hi, max(lo, (0 if r[l][i] else leaked) + current))
                        fired = new > theta
                    v[l][i] = new
                    r[l][i] = int(fired)
                    s_out.append(int(fired))
                outs[l].append(s_out)
                s_in = s_out
        out_all.append((outs, v))
    return out_all


@st.composite
def networks_and_inputs(draw):
    n_layers = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 7)) for _ in range(n_layers + 1)]
    specs, layers = [], []
    for l in range(n_layers):
        w_bits = draw(st.integers(2, 8))
        v_bits = draw(st.integers(max(3, w_bits), 14))
        lo, hi = -(2 ** (w_bits - 1)), 2 ** (w_bits - 1) - 1
        W = draw(st.lists(st.lists(st.integers(lo, hi), min_size=sizes[l], max_size=sizes[l]),
                          min_size=sizes[l + 1], max_size=sizes[l + 1]))
        blo, bhi = -(2 ** (v_bits - 1)), 2 ** (v_bits - 1) - 1
        b = draw(st.lists(st.integers(max(blo, -20), min(bhi, 20)),
                          min_size=sizes[l + 1], max_size=sizes[l + 1]))
        theta = draw(st.integers(1, 2 ** (v_bits - 1) - 2))
        leak = draw(st.sampled_from(["none", "shift", "mul"]))
        params = {}
        if leak == "shift":
            params = dict(k=draw(st.integers(0, v_bits - 1)))
        elif leak == "mul":
            f = draw(st.integers(1, 8))
            params = dict(f=f, m=draw(st.integers(0, 2 ** f)))
        reset = draw(st.sampled_from(["subtract", "zero"]))
        timing = draw(st.sampled_from(["immediate", "delayed"]))
        specs.append(dict(W=W, b=b, theta=theta, v_bits=v_bits, leak=leak, reset=reset,
                          timing=timing, **params))
        layers.append(Layer(np.array(W), theta=theta, w_bits=w_bits, v_bits=v_bits, bias=b,
                            leak=leak, reset=reset, timing=timing, **params))
    batch = draw(st.integers(1, 3))
    steps = draw(st.integers(1, 8))
    trains = draw(st.lists(st.lists(st.lists(st.integers(0, 1), min_size=sizes[0],
                                             max_size=sizes[0]),
                                    min_size=steps, max_size=steps),
                           min_size=batch, max_size=batch))
    return specs, Network(layers), trains


@settings(max_examples=300, deadline=None)
@given(networks_and_inputs())
def test_vectorized_simulation_equals_per_neuron_loop(case):
    specs, network, trains = case
    result = simulate(network, np.array(trains))
    expected = reference_loop(specs, trains)
    for b, (outs, v) in enumerate(expected):
        for l in range(len(specs)):
            assert result.spikes[l][b].astype(int).tolist() == outs[l]
            assert result.membranes[l][b].tolist() == v[l]
        counts = [sum(step[i] for step in outs[-1]) for i in range(len(outs[-1][0]))]
        assert result.counts[b].tolist() == counts
        assert int(result.predicted[b]) == counts.index(max(counts))


# ---------------------------------------------------------------------------------------------
# snnTorch 1.0.0 ``Leaky`` written out (snntorch/_neurons/leaky.py), for beta in {0, 1}, in
# floats as snnTorch computes:
#   reset = H(mem_prev - threshold)              (H(x) = 1 if x > 0, the spike of last step)
#   subtract: mem = beta * mem_prev + input - reset * threshold
#   zero:     mem_prev = (1 - reset) * mem_prev;  mem = beta * mem_prev + input
#   spk = H(mem - threshold)
#   reset_delay=True returns mem as is; reset_delay=False then applies
#   do_reset = spk - reset and  subtract: mem -= do_reset * threshold,  zero: mem -= do_reset * mem

def snntorch_leaky(inputs, beta, threshold, mechanism, reset_delay):
    mem = np.zeros(inputs.shape[1])
    spikes, mems = [], []
    for current in inputs.astype(np.float64):
        reset = (mem - threshold > 0).astype(np.float64)
        if mechanism == "subtract":
            mem = beta * mem + current - reset * threshold
        else:
            mem = (1 - reset) * mem
            mem = beta * mem + current
        spk = (mem - threshold > 0).astype(np.float64)
        if not reset_delay:
            do_reset = spk - reset
            mem = mem - do_reset * threshold if mechanism == "subtract" else mem - do_reset * mem
        spikes.append(spk)
        mems.append(mem.copy())
    return np.array(spikes), np.array(mems)


@st.composite
def leaky_cases(draw):
    n_in, n = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    W = np.array(draw(st.lists(st.lists(st.integers(-8, 7), min_size=n_in, max_size=n_in),
                               min_size=n, max_size=n)))
    steps = draw(st.integers(1, 12))
    trains = np.array(draw(st.lists(st.lists(st.integers(0, 1), min_size=n_in, max_size=n_in),
                                    min_size=steps, max_size=steps)))
    theta = draw(st.integers(1, 20))
    beta = draw(st.sampled_from([0, 1]))
    mechanism = draw(st.sampled_from(["subtract", "zero"]))
    return W, trains, theta, beta, mechanism


def _leak_for(beta):
    # beta = 1: no leak; beta = 0: shift with k = 0, leak(v) = v - v = 0.
    return dict(leak="none") if beta == 1 else dict(leak="shift", k=0)


@settings(max_examples=300, deadline=None)
@given(leaky_cases())
def test_delayed_equals_snntorch_default_reset_delay(case):
    W, trains, theta, beta, mechanism = case
    # v_bits = 24 keeps every membrane far from saturation (|v| <= 12 * 8 * 7 + 20).
    layer = Layer(W, theta=theta, w_bits=4, v_bits=24, reset=mechanism, timing="delayed",
                  **_leak_for(beta))
    result = simulate(Network([layer]), trains, record_membranes=True)
    spikes, mems = snntorch_leaky(trains @ W.T, beta, theta, mechanism, reset_delay=True)
    assert np.array_equal(result.spikes[0], spikes.astype(bool))
    assert np.array_equal(result.traces[0], mems.astype(np.int64))


@settings(max_examples=200, deadline=None)
@given(leaky_cases())
def test_immediate_zero_equals_snntorch_without_reset_delay(case):
    W, trains, theta, beta, _ = case
    layer = Layer(W, theta=theta, w_bits=4, v_bits=24, reset="zero", timing="immediate",
                  **_leak_for(beta))
    result = simulate(Network([layer]), trains, record_membranes=True)
    spikes, mems = snntorch_leaky(trains @ W.T, beta, theta, "zero", reset_delay=False)
    assert np.array_equal(result.spikes[0], spikes.astype(bool))
    assert np.array_equal(result.traces[0], mems.astype(np.int64))


def test_immediate_subtract_differs_from_snntorch_only_after_a_double_threshold():
    # docs/design.md §2: snnTorch (reset_delay=False) subtracts theta once more when the membrane
    # still exceeds theta after its reset. theta = 2, one input of weight 7, beta = 1:
    #   spikefab: t0 v = 7 -> fires -> 5;  t1 v = 5 + 0 = 5 -> fires -> 3;  t2 3 -> fires -> 1
    #   snnTorch:   t0 mem 7 -> spk -> 5;    t1 reset = H(5-2) = 1: mem = 5 - 2 = 3 -> spk
    #               (do_reset = 1 - 1 = 0) stays 3;  t2 reset = H(3-2) = 1: mem = 1, no spike,
    #               do_reset = 0 - 1 = -1 gives theta back: mem = 3
    layer = Layer(np.array([[7]]), theta=2, w_bits=4, v_bits=8)
    result = simulate(Network([layer]), np.array([[1], [0], [0]]), record_membranes=True)
    assert result.traces[0][:, 0].tolist() == [5, 3, 1]
    assert result.spikes[0][:, 0].tolist() == [True, True, True]
    spikes, mems = snntorch_leaky(np.array([[7], [0], [0]]), 1, 2, "subtract", reset_delay=False)
    assert mems[:, 0].tolist() == [5, 3, 3] and spikes[:, 0].tolist() == [1, 1, 0]
