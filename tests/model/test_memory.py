"""Weight-memory images: hand-computed words per format, and compile → decode round trips."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.model import FORMATS, Layer, compile_weights, decode_weights

# N = 3 neurons, fan-in 2, P = 2 lanes, w_bits = 4: rows = 2, index_bits = 1.
# Lane 0 holds neurons 0 (local 0) and 2 (local 1); lane 1 holds neuron 1 (local 0) and a
# padding neuron (local 1).
W = np.array([[1, 0],
              [0, -2],
              [3, 0]])
LAYER = Layer(W, theta=3, w_bits=4, v_bits=8)


def test_dense_image_by_hand():
    image = compile_weights(LAYER, 2, "dense")
    # word = lane0 | lane1 << 4; column 0: rows [1, 0], [3, pad]; column 1: [0, -2], [0, pad]
    assert image.memories["weights"].words == (0x01, 0x03, 0xE0, 0x00)
    assert image.memories["weights"].width == 8
    assert image.column_words.tolist() == [2, 2]
    assert image.column_start.tolist() == [0, 2]
    assert image.size_bits == 32


def test_csc_image_by_hand():
    image = compile_weights(LAYER, 2, "csc")
    # slot = valid << 5 | local << 4 | weight (6 bits); word = lane0 | lane1 << 6
    #   column 0 word 0: lane 0 (1, 0, 1) = 0x21            -> 33
    #   column 0 word 1: lane 0 (1, 1, 3) = 0x33            -> 51
    #   column 1 word 0: lane 1 (1, 0, -2 = 0xE) = 0x2E << 6 -> 2944
    assert image.memories["weights"].words == (33, 51, 2944)
    assert image.memories["weights"].width == 12
    # pointer = start | length << 2 (start_bits = 2, length_bits = 2)
    assert image.memories["pointers"].words == (0 | 2 << 2, 2 | 1 << 2)
    assert image.memories["pointers"].width == 4
    assert image.column_words.tolist() == [2, 1]
    assert image.column_nnz.tolist() == [2, 1]
    assert image.size_breakdown == {"pointers": 8, "weights": 36}
    assert image.size_bits == 44


def test_bitmap_image_by_hand():
    image = compile_weights(LAYER, 2, "bitmap")
    # bitmap word = lane0 bits [0, 2) | lane1 bits [2, 4): column 0 = 0b0011, column 1 = 0b0100
    assert image.memories["bitmaps"].words == (3, 4)
    assert image.memories["bitmaps"].width == 4
    # packed weights, 4-bit slots: column 0: [1, _], [3, _]; column 1: [_, -2]
    assert image.memories["weights"].words == (0x01, 0x03, 0xE0)
    assert image.memories["pointers"].words == (8, 6)
    assert image.size_bits == 8 + 8 + 24


def test_all_zero_layer_has_empty_columns():
    layer = Layer(np.zeros((5, 3), dtype=int), theta=1, w_bits=2, v_bits=4)
    for fmt in ("csc", "bitmap"):
        image = compile_weights(layer, 2, fmt)
        assert image.column_words.tolist() == [0, 0, 0]
        assert image.memories["weights"].depth == 0
        assert np.array_equal(decode_weights(image), layer.weights)


@pytest.mark.parametrize("args, error, message", [
    ((LAYER, 0, "csc"), ValueError, r"lanes = 0 is out of range; allowed range is \[1, 3\]"),
    ((LAYER, 4, "csc"), ValueError, r"lanes = 4 .*\[1, 3\]"),
    ((LAYER, 2, "coo"), ValueError, "format = 'coo' is not allowed; choose one of dense, csc, bitmap"),
    ((LAYER, 1.5, "csc"), TypeError, r"lanes must be an integer in \[1, 3\]"),
    ((W, 2, "csc"), TypeError, "layer must be a spikefab.model.Layer"),
])
def test_compile_errors(args, error, message):
    with pytest.raises(error, match=message):
        compile_weights(*args)


@st.composite
def layers_and_lanes(draw):
    n, fan_in = draw(st.integers(1, 20)), draw(st.integers(1, 12))
    w_bits = draw(st.integers(2, 8))
    density = draw(st.sampled_from([0.0, 0.05, 0.2, 0.5, 1.0]))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    lo, hi = -(2 ** (w_bits - 1)), 2 ** (w_bits - 1) - 1
    weights = rng.integers(lo, hi + 1, size=(n, fan_in))
    weights[rng.random(weights.shape) >= density] = 0
    lanes = draw(st.sampled_from([1, 2, 3, 4, 8, 16]))
    return Layer(weights, theta=1, w_bits=w_bits, v_bits=max(w_bits, 4)), min(lanes, n)


@settings(max_examples=300, deadline=None)
@given(layers_and_lanes(), st.sampled_from(FORMATS))
def test_compile_decode_round_trip(case, fmt):
    layer, lanes = case
    image = compile_weights(layer, lanes, fmt)
    assert np.array_equal(decode_weights(image), layer.weights)
    rows = -(-layer.neurons // lanes)
    lane_nnz = np.array([(layer.weights[p::lanes] != 0).sum(axis=0) for p in range(lanes)])
    assert image.column_nnz.tolist() == (layer.weights != 0).sum(axis=0).tolist()
    if fmt == "dense":
        assert image.column_words.tolist() == [rows] * layer.fan_in
        assert image.size_bits == layer.fan_in * rows * lanes * layer.w_bits
    else:
        assert image.column_words.tolist() == lane_nnz.max(axis=0).tolist()
        words = int(image.column_words.sum())
        slot = (1 + image.index_bits + layer.w_bits) if fmt == "csc" else layer.w_bits
        expected = words * lanes * slot + layer.fan_in * image.memories["pointers"].width
        if fmt == "bitmap":
            expected += layer.fan_in * lanes * rows
        assert image.size_bits == expected
    for memory in image.memories.values():
        assert all(0 <= word < (1 << memory.width) for word in memory.words)


def test_pointer_field_widths_can_be_fixed():
    image = compile_weights(LAYER, 2, "csc", start_bits=8, length_bits=3)
    # start | length << 8: column 0 = 0 | 2 << 8, column 1 = 2 | 1 << 8
    assert image.memories["pointers"].words == (512, 258)
    assert image.memories["pointers"].width == 11
    assert (image.start_bits, image.length_bits) == (8, 3)
    assert np.array_equal(decode_weights(image), W)
    with pytest.raises(ValueError, match=r"start_bits = 1 is out of range; allowed range is "
                                         r"\[2, 32\] \(this image needs 2\)"):
        compile_weights(LAYER, 2, "csc", start_bits=1)
    with pytest.raises(ValueError, match=r"length_bits = 1 .*needs 2"):
        compile_weights(LAYER, 2, "bitmap", length_bits=1)
