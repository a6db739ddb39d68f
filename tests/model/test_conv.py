"""Convolution and pooling geometry and arithmetic (spikefab.model.conv, docs/design.md §12),
checked against references that share no code with it: a direct loop over NIR's definition
of the cross-correlation, PyTorch's ``conv2d``/``avg_pool2d``, and a brute-force search over
every output and kernel tap for the address generator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.model.conv import (Conv2dGeometry, check_supported, conv2d, conv2d_events,
                                 conv2d_matrix, sum_pool2d, sum_pool_geometry)


@st.composite
def geometries(draw, max_side=9, max_channels=3):
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    py, px = draw(st.integers(0, kh - 1)), draw(st.integers(0, kw - 1))
    h = draw(st.integers(max(1, kh - 2 * py), max_side))
    w = draw(st.integers(max(1, kw - 2 * px), max_side))
    return Conv2dGeometry(draw(st.integers(1, max_channels)), h, w,
                          draw(st.integers(1, max_channels)), (kh, kw),
                          (draw(st.integers(1, 4)), draw(st.integers(1, 4))), (py, px))


def direct(maps, kernel, g):
    """NIR's definition, one output at a time: I[co, oy, ox] = sum K[co, ci, ky, kx] *
    s[ci, oy*sy - py + ky, ox*sx - px + kx], zero outside the map."""
    b = maps.shape[0]
    out = np.zeros((b, *g.out_shape), dtype=np.int64)
    for n in range(b):
        for co in range(g.out_channels):
            for oy in range(g.out_height):
                for ox in range(g.out_width):
                    total = 0
                    for ci in range(g.in_channels):
                        for ky in range(g.kernel[0]):
                            for kx in range(g.kernel[1]):
                                y = oy * g.stride[0] - g.padding[0] + ky
                                x = ox * g.stride[1] - g.padding[1] + kx
                                if 0 <= y < g.height and 0 <= x < g.width:
                                    total += int(kernel[co, ci, ky, kx]) * int(maps[n, ci, y, x])
                    out[n, co, oy, ox] = total
    return out


def draw_case(g, seed, batch=3):
    rng = np.random.default_rng(seed)
    maps = (rng.random((batch, *g.in_shape)) < 0.4).astype(np.int64)
    kernel = rng.integers(-8, 8, (g.out_channels, g.in_channels, *g.kernel))
    return maps, kernel


@settings(max_examples=120, deadline=None)
@given(geometries(), st.integers(0, 2**32 - 1))
def test_conv2d_equals_the_definition_and_its_event_walk_and_its_matrix(g, seed):
    maps, kernel = draw_case(g, seed)
    expected = direct(maps, kernel, g)
    assert np.array_equal(conv2d(maps, kernel, g), expected)
    events = [(c, y, x) for c, y, x in zip(*np.nonzero(maps[0]))]
    assert np.array_equal(conv2d_events(events, kernel, g), expected[0])
    matrix = conv2d_matrix(kernel, g)
    assert np.array_equal(maps.reshape(len(maps), -1) @ matrix.T,
                          expected.reshape(len(maps), -1))


@settings(max_examples=60, deadline=None)
@given(geometries(max_side=12), st.integers(0, 2**32 - 1))
def test_conv2d_equals_pytorch(g, seed):
    torch = pytest.importorskip("torch", reason="torch comes with the train extra")
    maps, kernel = draw_case(g, seed)
    theirs = torch.nn.functional.conv2d(torch.tensor(maps, dtype=torch.float64),
                                        torch.tensor(kernel, dtype=torch.float64),
                                        stride=g.stride, padding=g.padding)
    assert np.array_equal(conv2d(maps, kernel, g), theirs.numpy().astype(np.int64))


@settings(max_examples=200, deadline=None)
@given(geometries(max_channels=1))
def test_every_input_reaches_every_output_that_sees_it_exactly_once(g):
    """The address generator against a brute-force search: for every input position, the
    set of (output, tap) pairs whose window covers it, over all outputs and taps."""
    for y in range(g.height):
        for x in range(g.width):
            expected = sorted(
                (oy, ox, ky, kx)
                for oy in range(g.out_height) for ox in range(g.out_width)
                for ky in range(g.kernel[0]) for kx in range(g.kernel[1])
                if oy * g.stride[0] - g.padding[0] + ky == y
                and ox * g.stride[1] - g.padding[1] + kx == x)
            walked = g.reached(y, x)
            assert len(walked) == len(set(walked))          # each output once
            assert sorted(walked) == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(2, 12), st.integers(2, 12), st.integers(1, 4),
       st.integers(0, 2**32 - 1))
def test_sum_pool_counts_the_spikes_of_each_window(channels, h, w, k, seed):
    torch = pytest.importorskip("torch", reason="torch comes with the train extra")
    k = min(k, h, w)
    g = sum_pool_geometry(channels, h, w, k)
    maps = (np.random.default_rng(seed).random((2, channels, h, w)) < 0.5).astype(np.int64)
    theirs = torch.nn.functional.avg_pool2d(torch.tensor(maps, dtype=torch.float64), k) * k * k
    assert np.array_equal(sum_pool2d(maps, g), np.round(theirs.numpy()).astype(np.int64))
    ones = np.stack([np.eye(channels, dtype=np.int64)[:, :, None, None]
                     * np.ones((1, 1, k, k), dtype=np.int64)])[0]
    assert np.array_equal(sum_pool2d(maps, g), conv2d(maps, ones, g))


def test_a_known_case_by_hand():
    """3 × 3 input, 2 × 2 kernel, stride 1, no padding: computed by hand."""
    g = Conv2dGeometry(1, 3, 3, 1, 2)
    s = np.array([[[1, 0, 1], [0, 1, 0], [1, 1, 0]]])
    k = np.array([[[[1, 2], [3, 4]]]])
    # windows: [[1,0],[0,1]] -> 1+4 = 5; [[0,1],[1,0]] -> 2+3 = 5;
    #          [[0,1],[1,1]] -> 2+3+4 = 9; [[1,0],[1,0]] -> 1+3 = 4
    assert conv2d(s, k, g).tolist() == [[[[5, 5], [9, 4]]]]
    assert g.out_shape == (1, 2, 2)
    # the centre input reaches all four outputs, each through a different tap
    assert g.reached(1, 1) == [(0, 0, 1, 1), (0, 1, 1, 0), (1, 0, 0, 1), (1, 1, 0, 0)]


def test_an_input_no_window_covers_reaches_nothing():
    g = Conv2dGeometry(1, 5, 5, 1, 2, stride=2)     # rows/columns 4 lie past the last window
    assert g.out_shape == (1, 2, 2)
    assert g.reached(4, 0) == [] and g.reached(0, 4) == []
    assert g.reached(3, 3) == [(1, 1, 1, 1)]


@pytest.mark.parametrize("kwargs, message", [
    (dict(padding=3, kernel=3), r"padding\[0\] = 3 is out of range; allowed range is \[0, 2\]"),
    (dict(kernel=6), "the kernel \\(6\\) is larger than the padded input"),
    (dict(kernel=(3, 3, 3)), "kernel must be one integer or a pair"),
    (dict(stride=0), r"stride = 0 is out of range; allowed range is \[1, 64\]"),
])
def test_bad_geometries_are_refused_by_name(kwargs, message):
    options = dict(in_channels=1, height=5, width=5, out_channels=2) | kwargs
    with pytest.raises(ValueError, match=message):
        Conv2dGeometry(**options)


def test_what_is_not_built_is_refused_by_name():
    with pytest.raises(ValueError, match="groups = 2 is not supported"):
        check_supported(groups=2)
    with pytest.raises(ValueError, match=r"dilation = \(2, 2\) is not supported"):
        check_supported(dilation=2)
    check_supported(groups=1, dilation=(1, 1))


def test_wrong_kernel_and_map_shapes_are_named():
    g = Conv2dGeometry(2, 4, 4, 3, 3)
    with pytest.raises(ValueError, match=r"kernel has shape \(3, 2, 2, 2\); this convolution "
                                         r"needs \(3, 2, 3, 3\)"):
        conv2d(np.zeros((1, 2, 4, 4)), np.zeros((3, 2, 2, 2), dtype=int), g)
    with pytest.raises(ValueError, match=r"input maps must have shape \[B, 2, 4, 4\]"):
        conv2d(np.zeros((1, 2, 5, 4)), np.zeros((3, 2, 3, 3), dtype=int), g)
    with pytest.raises(TypeError, match="kernel must hold integers"):
        conv2d(np.zeros((1, 2, 4, 4)), np.full((3, 2, 3, 3), 0.5), g)
