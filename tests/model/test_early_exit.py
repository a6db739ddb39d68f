"""Early exit in the golden model (docs/design.md §2, *Early exit*): the rule on hand-computed
counts (the tie case included), a hand-computed run, random networks against a plain-Python
statement of the rule, and the reference networks' test images (the exact exit never changes
the class: in tests/model/test_mnist.py and tests/model/test_digits.py, which train them)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.model import Layer, Network, simulate
from spikefab.model.early_exit import ExitRule, exit_fires, exit_rule

from .test_simulate import networks_and_inputs

EXACT = ExitRule("exact")


@pytest.mark.parametrize("counts, step, steps, rule, fires", [
    # T = 5, after step 1: R = 3 steps left, so a class can still gain 3.
    ([3, 1, 0], 1, 5, EXACT, False),      # lead 2 < 3
    ([4, 1, 0], 1, 5, EXACT, True),       # lead 3 == R over class 1, and L = 0 wins the tie
    ([3, 0, 0], 1, 5, EXACT, True),       # lead 3 == R: a tie at the end goes to L = 0
    ([0, 3, 0], 1, 5, EXACT, False),      # lead 3 == R over class 0, which would win the tie
    ([0, 4, 0], 1, 5, EXACT, True),       # lead 4 > R
    ([2, 2, 0], 3, 5, EXACT, False),      # R = 1, a tie now
    ([2, 1, 0], 3, 5, EXACT, True),       # R = 1, lead 1 == R and L = 0 wins the tie
    ([1, 2, 0], 3, 5, EXACT, False),      # R = 1, lead 1 == R but class 0 would win the tie
    ([5, 0, 0], 4, 5, EXACT, False),      # the last step: never (the sample ends anyway)
    ([3, 1, 0], 1, 5, ExitRule("margin", 2), True),
    ([3, 2, 0], 1, 5, ExitRule("margin", 2), False),
    ([2, 2, 0], 1, 5, ExitRule("margin", 1), False),      # a tie is no margin
    ([0, 0, 1], 0, 5, ExitRule("margin", 1), True),
    ([0], 0, 5, EXACT, True),                            # one class: decided at once
])
def test_the_rule_on_hand_computed_counts(counts, step, steps, rule, fires):
    assert exit_fires(rule, np.array([counts]), step, steps).tolist() == [fires]


def _echo():
    """Output spikes = input spikes: weights 2, theta 1, reset to zero."""
    return Network([Layer(2 * np.eye(2, dtype=int), theta=1, w_bits=3, v_bits=6,
                          reset="zero")])


def test_a_hand_computed_run_with_the_tie_rule():
    net = _echo()
    # T = 4. Sample 0: input 0 spikes in steps 0, 1: counts [2, 0] after step 1, R = 2,
    # lead 2 == R and class 0 wins ties: exit after step 1 (2 steps run).
    # Sample 1, mirrored: [0, 2] after step 1 does not exit (class 0 would win a 2-2 tie);
    # after step 2, [0, 2] with R = 1: exit (3 steps run).
    # Sample 2: [1, 1] all along: never exits, 4 steps.
    trains = np.array([[[1, 0], [1, 0], [0, 0], [0, 1]],
                       [[0, 1], [0, 1], [0, 0], [1, 0]],
                       [[1, 1], [0, 0], [0, 0], [0, 0]]])
    result = simulate(net, trains, exit="exact")
    assert result.ran.tolist() == [2, 3, 4]
    assert result.counts.tolist() == [[2, 0], [0, 2], [1, 1]]
    assert result.predicted.tolist() == [0, 1, 0]
    assert result.predicted.tolist() == simulate(net, trains).predicted.tolist()
    # Spikes after the exit do not happen.
    assert result.spikes[0][0, 2:].sum() == 0 and result.spikes[0][1, 3].sum() == 0
    margin = simulate(net, trains, exit=("margin", 1))
    assert margin.ran.tolist() == [1, 1, 4] and margin.predicted.tolist() == [0, 1, 0]


def _plain_rule(rule, counts, t, steps):
    """The rule as design §2 states it, on Python ints."""
    if t >= steps - 1:
        return False
    leader = max(range(len(counts)), key=lambda k: (counts[k], -k))
    for k, c in enumerate(counts):
        if k == leader:
            continue
        lead = counts[leader] - c
        if rule == "exact":
            left = steps - 1 - t
            if not (lead > left or (lead == left and leader < k)):
                return False
        elif lead < rule[1]:
            return False
    return True


@settings(max_examples=150, deadline=None)
@given(networks_and_inputs(), st.sampled_from(["exact", ("margin", 1), ("margin", 2)]))
def test_random_networks_exit_where_the_rule_says(case, rule):
    _, network, trains = case
    trains = np.array(trains)
    full = simulate(network, trains)
    result = simulate(network, trains, exit=rule)
    steps = trains.shape[1]
    for b in range(len(trains)):
        counts = [0] * network.n_outputs
        ran = steps
        for t in range(steps):
            counts = [c + int(s) for c, s in zip(counts, full.spikes[-1][b, t])]
            if _plain_rule(rule, counts, t, steps):
                ran = t + 1
                break
        assert result.ran[b] == ran
        assert result.counts[b].tolist() == counts
        for got, want in zip(result.spikes, full.spikes):      # the same steps, then none
            assert np.array_equal(got[b, :ran], want[b, :ran])
            assert not got[b, ran:].any()
        if rule == "exact":
            assert result.predicted[b] == full.predicted[b]


def test_exit_values_are_validated():
    net = _echo()
    trains = np.zeros((3, 2), dtype=int)
    for bad in ("soon", ("margin", 0), ("margin", 1.5), ("margin", True), ("exact", 1)):
        with pytest.raises(ValueError, match="exit|margin"):
            simulate(net, trains, exit=bad)
    assert exit_rule(("margin", 3)) == ExitRule("margin", 3)
    assert simulate(net, trains).ran.tolist() == 3 and simulate(net, trains).exit is None


def test_the_cycle_model_with_an_exit_that_never_fires_is_the_plain_one():
    # The exit path of the cycle model (tagged events, the exit query) against the plain
    # path on the same work: a margin no sample reaches. Small queues: back-pressure.
    from spikefab.model import HardwareConfig, cycle_model, reference_network

    network = reference_network((24, 16, 6), density=0.5, w_bits=4)
    trains = np.random.default_rng(4).random((4, 10, 24)) < 0.4
    for config in (HardwareConfig.uniform(network, lanes=4, format="csc", queue_depth=2),
                   HardwareConfig.uniform(network, lanes=[8, 2], sweep_lanes=[2, 1],
                                          format="bitmap", queue_depth=3)):
        plain = cycle_model(network, simulate(network, trains), config)
        never = cycle_model(network, simulate(network, trains, exit=("margin", 99)), config)
        assert never.finish.tolist() == plain.finish.tolist()
        assert never.layers == plain.layers
        exact = cycle_model(network, simulate(network, trains, exit="exact"), config)
        assert (exact.finish <= plain.finish).all()
    dense = HardwareConfig.uniform(network, lanes=2, mode="dense")
    with pytest.raises(ValueError, match="sparse"):
        cycle_model(network, simulate(network, trains, exit="exact"), dense)
