"""Threshold-balancing conversion of a ReLU MLP (``spikefab.model.convert``): a hand-worked
two-layer case, and every malformed input answered by one error naming the array."""

import numpy as np
import pytest

from spikefab.model import balance_thresholds, convert_mlp


def test_hand_worked_conversion():
    w1 = np.array([[1.0, -0.5], [0.5, 0.5]])          # (out, in)
    b1 = np.array([0.0, 0.25])
    w2 = np.array([[2.0, -1.0]])
    b2 = np.array([0.5])
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # hidden ReLU: [1, .75], [0, .75], [.5, 1.25] -> lam1 = 1.25
    # output: 2*h0 - h1 + .5: [1.75, -.25 -> 0, 0.25] -> lam2 = 1.75
    assert balance_thresholds([w1, w2], [b1, b2], x) == [1.25, 1.75]
    net = convert_mlp([w1, w2], [b1, b2], x, w_bits=4)
    # layer 1: scale 7 / 1 -> weights [[7, -4 (round half even of -3.5)], [4, 4]]
    np.testing.assert_array_equal(net[0].weights, [[7, -4], [4, 4]])
    np.testing.assert_array_equal(net[0].bias, [0, 2])         # 0.25 * 7 = 1.75 -> 2
    assert net[0].theta == 9                                   # 1.25 * 7 = 8.75 -> 9
    # layer 2: weights * lam1 = [2.5, -1.25], scale 7 / 2.5 = 2.8
    np.testing.assert_array_equal(net[1].weights, [[7, -4]])   # -3.5 -> -4
    np.testing.assert_array_equal(net[1].bias, [1])            # 0.5 * 2.8 = 1.4 -> 1
    assert net[1].theta == 5                                   # 1.75 * 2.8 = 4.9 -> 5
    assert (net[0].leak, net[0].reset) == ("none", "subtract")


GOOD_W = [np.ones((4, 3)), np.ones((2, 4))]
GOOD_B = [np.zeros(4), np.zeros(2)]
GOOD_X = np.full((5, 3), 0.5)


@pytest.mark.parametrize("weights,biases,calibration,error,message", [
    ([np.ones((4, 3)), np.ones((2, 5))], GOOD_B, GOOD_X, ValueError,
     r"weights\[1\] has shape \(2, 5\) \(out, in\), but weights\[0\] has 4 outputs; layer "
     r"shapes must chain"),
    (GOOD_W, [np.zeros(5), np.zeros(2)], GOOD_X, ValueError,
     r"biases\[0\] has shape \(5,\), but weights\[0\] has 4 outputs"),
    (GOOD_W, GOOD_B, np.ones((5, 2)), ValueError,
     r"calibration has shape \(5, 2\); it must be \[samples >= 1, 3\]"),
    (GOOD_W, GOOD_B, np.ones((0, 3)), ValueError, r"calibration has shape \(0, 3\)"),
    (GOOD_W, [np.zeros(4)], GOOD_X, ValueError, r"2 weight matrices but 1 bias vectors"),
    (np.ones((4, 3)), GOOD_B, GOOD_X, TypeError, r"weights must be a list of 2-D arrays"),
    ([], [], GOOD_X, ValueError, r"weights must hold at least one layer"),
    ([np.ones(3), np.ones((2, 4))], GOOD_B, GOOD_X, ValueError,
     r"weights\[0\] must be a 2-D array, got shape \(3,\)"),
    ([np.full((4, 3), np.nan), np.ones((2, 4))], GOOD_B, GOOD_X, ValueError,
     r"weights\[0\] must be finite"),
    ([np.array([["a"] * 3] * 4), np.ones((2, 4))], GOOD_B, GOOD_X, TypeError,
     r"weights\[0\] must be a numeric array"),
])
def test_malformed_mlps_are_refused_by_name(weights, biases, calibration, error, message):
    with pytest.raises(error, match=message):
        convert_mlp(weights, biases, calibration, w_bits=4)
    with pytest.raises(error, match=message):
        balance_thresholds(weights, biases, calibration)
