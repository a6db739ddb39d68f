"""Input encoders against their documented rules, written out independently here."""

import numpy as np
import pytest

from spikefab.model import (RATE_SEED, encode, encode_latency, encode_rate, encode_spikes,
                              rate_thresholds, to_intensity, xorshift32)


def test_xorshift32_matches_marsaglias_reference():
    # Marsaglia, "Xorshift RNGs" (2003): xor32 with y = 2463534242 first returns 723471715.
    assert xorshift32(2463534242) == 723471715


def test_rate_thresholds_follow_the_documented_raster_order():
    # Written out: one generator seeded per sample, advanced before each draw, t outer, i inner.
    state, expected = RATE_SEED, []
    for _t in range(3):
        row = []
        for _i in range(5):
            state ^= (state << 13) & 0xFFFFFFFF
            state ^= state >> 17
            state ^= (state << 5) & 0xFFFFFFFF
            row.append(state >> 24)
        expected.append(row)
    assert rate_thresholds(5, 3, x_bits=8).tolist() == expected
    assert rate_thresholds(5, 3, x_bits=4, seed=7).max() < 16


def test_rate_encoding_rule_and_statistics():
    x = np.array([[0, 1, 64, 128, 200, 255], [255, 0, 0, 0, 0, 1]])
    trains = encode_rate(x, 400)
    u = rate_thresholds(6, 400)
    assert np.array_equal(trains, x[:, None, :] > u[None])
    assert not trains[0, :, 0].any()                     # x = 0 never fires
    rates = trains[0].mean(axis=0)
    assert np.allclose(rates[2:], x[0, 2:] / 256, atol=0.07)
    # Seeded per sample: a sample encodes the same alone as inside a batch.
    assert np.array_equal(encode_rate(x[1], 400), trains[1])


def test_latency_table():
    # t = ((255 - x) * 8) >> 8
    x = np.array([255, 200, 128, 32, 1, 0])
    trains = encode_latency(x, 8)
    fire = [(int(np.flatnonzero(trains[:, i])[0]) if trains[:, i].any() else None)
            for i in range(6)]
    assert fire == [0, 1, 3, 6, 7, None]
    assert trains.sum(axis=0).tolist() == [1, 1, 1, 1, 1, 0]


def test_to_intensity():
    assert to_intensity([0.0, 0.5, 1.0]).tolist() == [0, 128, 255]
    assert to_intensity([0.0, 0.5, 1.0, 1.7, -1], clip=True).tolist() == [0, 128, 255, 255, 0]
    with pytest.raises(ValueError, match=r"values must lie in \[lo, hi\] = \[0.0, 1.0\]; "
                                         r"got 1.7 \(pass clip=True"):
        to_intensity([0.0, 1.7])
    with pytest.raises(ValueError, match=r"got -1"):
        to_intensity([-1, 0.5])
    with pytest.raises(ValueError, match="values must be finite"):
        to_intensity([np.nan])
    with pytest.raises(TypeError, match="values must be a numeric array"):
        to_intensity(["a"])
    assert to_intensity([0, 8, 16], lo=0, hi=16, x_bits=4).tolist() == [0, 8, 15]


def test_encode_dispatch_and_spikes():
    x = np.array([3, 250])
    assert np.array_equal(encode("rate", x, 5), encode_rate(x, 5))
    assert np.array_equal(encode("latency", x, 5), encode_latency(x, 5))
    trains = np.array([[1, 0], [0, 1]])
    assert encode("spikes", trains).dtype == bool
    assert encode_spikes(trains, 2).tolist() == [[True, False], [False, True]]


@pytest.mark.parametrize("call, error, message", [
    (lambda: encode_rate([0, 256], 4), ValueError, r"intensities must lie in \[0, 255\]"),
    (lambda: encode_rate([-1], 4), ValueError, r"\[0, 255\]"),
    (lambda: encode_rate([0.5], 4), ValueError, r"intensities must be integers in \[0, 255\]"),
    (lambda: encode_rate(np.zeros((2, 2, 2), int), 4), ValueError, r"shape \[N0\] or \[B, N0\]"),
    (lambda: encode_rate([1], 0), ValueError, r"steps = 0 is out of range; allowed range is \[1, 65536\]"),
    (lambda: encode_rate([1], 4, x_bits=0), ValueError, r"x_bits = 0 .*\[1, 16\]"),
    (lambda: encode_rate([1], 4, seed=0), ValueError, r"seed = 0 .*\[1, 4294967295\]"),
    (lambda: encode_latency([1], 2.5), TypeError, r"steps must be an integer"),
    (lambda: encode("poisson", [1], 4), ValueError, r"encoder = 'poisson' is not allowed; choose one of spikes, rate, latency"),
    (lambda: encode_spikes([[0, 3]]), ValueError, "spikes must be binary"),
    (lambda: to_intensity([0.2], lo=1, hi=1), ValueError, "hi must be greater than lo"),
])
def test_encoder_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
