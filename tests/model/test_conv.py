"""Convolution and pooling geometry and arithmetic (spikefab.model.conv, docs/design.md §12),
checked against references that share no code with it: a direct loop over NIR's definition
of the cross-correlation, PyTorch's ``conv2d``/``avg_pool2d``, and a brute-force search over
every output and kernel tap for the address generator."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.model.conv import (Conv2dGeometry, check_supported, conv2d, conv2d_events,
                                 conv2d_matrix, sum_pool2d, sum_pool_geometry,
                                 sum_pool_matrix)


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


# --- ConvLayer: a convolutional layer in a Network -------------------------------------------

def small_conv_network(seed=0, leak="shift", reset="subtract"):
    """Input 2 × 8 × 8 → conv 3 × 3, 4 channels, padding 1 (4 × 8 × 8) → sum pool 2 → conv
    3 × 3 stride 2 padding 1, 3 channels (3 × 2 × 2) → flatten → 5 outputs."""
    from spikefab.model import Layer, Network
    from spikefab.model.conv import ConvLayer
    rng = np.random.default_rng(seed)
    neuron = dict(w_bits=4, v_bits=12, leak=leak, k=3 if leak == "shift" else None,
                  reset=reset)
    first = ConvLayer(kernel=rng.integers(-3, 8, (4, 2, 3, 3)),
                      geometry=Conv2dGeometry(2, 8, 8, 4, 3, padding=1), theta=9,
                      channel_bias=rng.integers(-2, 3, 4), **neuron)
    second = ConvLayer(kernel=rng.integers(-4, 8, (3, 4, 3, 3)),
                       geometry=Conv2dGeometry(4, 4, 4, 3, 3, stride=2, padding=1),
                       pool=sum_pool_geometry(4, 8, 8, 2), theta=12, **neuron)
    readout = Layer(rng.integers(-7, 8, (5, 12)), theta=6, **neuron)
    return Network([first, second, readout])


def reference_run(network, spikes):
    """An independent run of the conv network: PyTorch's conv2d and avg_pool2d for the
    currents, the LIF rule of design §2 (immediate timing) written out here."""
    torch = pytest.importorskip("torch", reason="torch comes with the train extra")
    f = torch.nn.functional
    first, second, readout = network
    batch, steps, _ = spikes.shape
    v = [np.zeros((batch, layer.neurons), dtype=np.int64) for layer in network]
    out = [np.zeros((batch, steps, layer.neurons), dtype=bool) for layer in network]

    def lif(layer, v, current):
        lo, hi = -(1 << (layer.v_bits - 1)), (1 << (layer.v_bits - 1)) - 1
        leaked = v - (v >> layer.k) if layer.leak == "shift" else v
        v = np.clip(leaked + current, lo, hi)
        s = v > layer.theta
        return (np.where(s, v - layer.theta, v) if layer.reset == "subtract"
                else np.where(s, 0, v)), s

    def t(a):
        return torch.tensor(np.asarray(a), dtype=torch.float64)
    for step in range(steps):
        x = t(spikes[:, step].reshape(batch, 2, 8, 8))
        i1 = f.conv2d(x, t(first.kernel), padding=1).numpy().reshape(batch, -1)
        i1 = i1.astype(np.int64) + np.repeat(first.channel_bias, 64)
        v[0], s1 = lif(first, v[0], i1)
        pooled = f.avg_pool2d(t(s1.reshape(batch, 4, 8, 8)), 2) * 4
        i2 = f.conv2d(pooled, t(second.kernel), stride=2, padding=1).numpy().reshape(batch,
                                                                                      -1)
        v[1], s2 = lif(second, v[1], np.round(i2).astype(np.int64))
        i3 = s2.astype(np.int64) @ readout.weights.T
        v[2], s3 = lif(readout, v[2], i3)
        for k, s in enumerate((s1, s2, s3)):
            out[k][:, step] = s
    return out


@pytest.mark.parametrize("leak, reset", [("shift", "subtract"), ("none", "zero")])
def test_a_conv_network_runs_in_the_golden_model_as_pytorch_computes_it(leak, reset):
    from spikefab.model import simulate
    network = small_conv_network(3, leak, reset)
    rng = np.random.default_rng(11)
    spikes = rng.random((6, 12, network.n_inputs)) < 0.3
    result = simulate(network, spikes)
    expected = reference_run(network, spikes)
    for layer, (ours, theirs) in enumerate(zip(result.spikes, expected)):
        assert np.array_equal(ours, theirs), f"layer {layer + 1}"
    assert sum(s.sum() for s in result.spikes[:2]) > 0          # the test saw spikes


def test_a_conv_layer_is_its_unrolled_matrix_and_keeps_its_structure(tmp_path):
    from spikefab.model import Network
    from spikefab.model.conv import ConvLayer
    network = small_conv_network()
    first, second, _ = network
    assert first.neurons == 4 * 8 * 8 and first.fan_in == 2 * 8 * 8
    assert second.fan_in == 4 * 8 * 8 and second.neurons == 3 * 2 * 2
    assert np.array_equal(first.weights, conv2d_matrix(first.kernel, first.geometry))
    assert np.array_equal(second.weights, conv2d_matrix(second.kernel, second.geometry)
                          @ sum_pool_matrix(second.pool))
    assert first.in_map == (2, 8, 8) and second.in_map == (4, 8, 8)
    assert second.out_map == (3, 2, 2)
    # saved and loaded: still convolutions, bit for bit
    network.save(tmp_path / "conv.npz")
    loaded = Network.load(tmp_path / "conv.npz")
    for ours, theirs in zip(network, loaded):
        assert type(ours) is type(theirs)
        assert np.array_equal(ours.weights, theirs.weights)
        assert np.array_equal(ours.bias, theirs.bias)
    assert isinstance(loaded[1], ConvLayer) and loaded[1].pool == second.pool
    assert loaded[1].geometry == second.geometry
    assert type(first.replace(theta=10)) is ConvLayer


def test_conv_layer_mistakes_are_named():
    from spikefab.model import Network
    from spikefab.model.conv import ConvLayer
    g = Conv2dGeometry(2, 8, 8, 4, 3, padding=1)
    kernel = np.ones((4, 2, 3, 3), dtype=int)
    with pytest.raises(ValueError, match="an overlapping sum pool is not built"):
        ConvLayer(kernel=kernel, geometry=Conv2dGeometry(2, 4, 4, 4, 3, padding=1), theta=3,
                  pool=sum_pool_geometry(2, 8, 8, 3, stride=2))
    with pytest.raises(ValueError, match=r"the pool's output map \(2, 4, 4\) is not the "
                                         r"convolution's input map \(2, 8, 8\)"):
        ConvLayer(kernel=kernel, geometry=g, theta=3, pool=sum_pool_geometry(2, 8, 8, 2))
    with pytest.raises(ValueError, match="weights come from its kernel"):
        ConvLayer(kernel=kernel, geometry=g, theta=3, weights=np.zeros((256, 128), dtype=int))
    with pytest.raises(ValueError, match="one per output channel"):
        ConvLayer(kernel=kernel, geometry=g, theta=3, channel_bias=[1, 2])
    with pytest.raises(TypeError, match="theta"):
        ConvLayer(kernel=kernel, geometry=g)
    with pytest.raises(ValueError, match="fit"):                # 9 does not fit 4 bits
        ConvLayer(kernel=kernel * 9, geometry=g, theta=3, w_bits=4)
    # maps must chain, not only sizes: 4 × 8 × 8 is not read as 4 × 4 × 16
    a = ConvLayer(kernel=kernel, geometry=g, theta=3)
    b = ConvLayer(kernel=np.ones((1, 4, 1, 1), dtype=int),
                  geometry=Conv2dGeometry(4, 4, 16, 1, 1), theta=3)
    with pytest.raises(ValueError, match=r"reads a \(4, 4, 16\) map .* makes a \(4, 8, 8\) map"):
        Network([a, b])


def test_the_cycle_model_and_memories_run_a_conv_network_as_its_unrolled_baseline():
    """Until the convolution core is built, the existing fully connected flow runs a conv
    layer bit for bit through its unrolled weights: the cycle model takes it as is."""
    from spikefab.model import HardwareConfig, cycle_model, simulate
    network = small_conv_network(5)
    spikes = np.random.default_rng(2).random((3, 8, network.n_inputs)) < 0.2
    result = simulate(network, spikes)
    report = cycle_model(network, result, HardwareConfig.uniform(network, lanes=4,
                                                                 format="csc"))
    assert report.total > 0 and len(report.latency) == 3


def test_the_golden_model_convolves_as_its_unrolled_matrix_multiplies():
    """simulate() computes a ConvLayer's current by convolution (the fast path); the same
    network with each layer replaced by a plain Layer of its unrolled weights (the matrix
    product) gives the same spikes and membranes."""
    from spikefab.model import Layer, Network, simulate
    network = small_conv_network(7)
    plain = Network([Layer(layer.weights, theta=layer.theta, w_bits=layer.w_bits,
                           v_bits=layer.v_bits, bias=layer.bias, leak=layer.leak, k=layer.k,
                           m=layer.m, f=layer.f, reset=layer.reset, timing=layer.timing)
                     for layer in network])
    spikes = np.random.default_rng(4).random((5, 10, network.n_inputs)) < 0.25
    ours, theirs = simulate(network, spikes), simulate(plain, spikes)
    for a, b in zip(ours.spikes + ours.membranes, theirs.spikes + theirs.membranes):
        assert np.array_equal(a, b)


@settings(max_examples=60, deadline=None)
@given(geometries(), st.integers(0, 2**32 - 1), st.booleans())
def test_a_conv_layers_bound_and_column_counts_equal_its_unrolled_matrixs(g, seed, pooled):
    """``current_bound`` and ``column_nonzeros`` come from the kernel and geometry (the
    matrix is never built for them); they equal what the unrolled matrix gives, with and
    without a sum pool in front (pool windows 1–3, padded or not, uncovered borders)."""
    from spikefab.model.conv import ConvLayer
    rng = np.random.default_rng(seed)
    pool = None
    if pooled:
        k = int(rng.integers(1, 4))
        pad = int(rng.integers(0, k))
        pool = sum_pool_geometry(g.in_channels, g.height * k - pad + int(rng.integers(0, k)),
                                 g.width * k - pad + int(rng.integers(0, k)), k, padding=pad)
        if pool.out_shape != g.in_shape:
            pool = None
    kernel = rng.integers(-8, 8, (g.out_channels, g.in_channels, *g.kernel))
    kernel[rng.random(kernel.shape) < 0.3] = 0
    layer = ConvLayer(kernel=kernel, geometry=g, pool=pool, theta=5, w_bits=4, v_bits=16,
                      channel_bias=rng.integers(-3, 4, g.out_channels))
    assert "_weights" not in layer.__dict__         # nothing built the matrix yet
    bound, columns = layer.current_bound(), layer.column_nonzeros()
    assert "_weights" not in layer.__dict__
    matrix = conv2d_matrix(kernel, g)
    if pool is not None:
        matrix = matrix @ sum_pool_matrix(pool)
    assert np.array_equal(layer.weights, matrix)
    assert np.array_equal(columns, (matrix != 0).sum(axis=0))
    pos = np.clip(matrix, 0, None).sum(axis=1) + np.clip(layer.bias, 0, None)
    neg = np.clip(matrix, None, 0).sum(axis=1) + np.clip(layer.bias, None, 0)
    assert bound == max(pos.max(), -neg.min())


def test_an_event_camera_sized_conv_layer_runs_without_its_unrolled_matrix(tmp_path):
    """2 × 128 × 128 events (a DVS128's resolution) into 16 channels, 3 × 3 stride 2: its
    unrolled matrix would hold 65,536 × 32,768 int64 (17 GB). The golden model, the kernel
    image, the cycle model, saving and loading never build it; the spikes equal an
    independent PyTorch run of the same convolution and LIF rule."""
    torch = pytest.importorskip("torch", reason="torch comes with the train extra")
    from spikefab.model import HardwareConfig, Layer, Network, cycle_model, simulate
    from spikefab.model.conv import ConvLayer
    from spikefab.model.kernel_image import compile_kernel
    rng = np.random.default_rng(4)
    g = Conv2dGeometry(2, 128, 128, 16, 3, stride=2, padding=1)
    conv = ConvLayer(kernel=rng.integers(-2, 8, (16, 2, 3, 3)), geometry=g, theta=20,
                     w_bits=4, v_bits=12)
    readout = Layer(rng.integers(-7, 8, (4, conv.neurons)), theta=30, w_bits=4, v_bits=16)
    network = Network([conv, readout])
    assert conv.neurons == 16 * 64 * 64 and conv.fan_in == 2 * 128 * 128
    spikes = rng.random((2, 3, conv.fan_in)) < 0.02
    result = simulate(network, spikes)
    compile_kernel(conv, 8)
    config = HardwareConfig.uniform(network, lanes=[8, 4], format="csc")
    cycles = cycle_model(network, result, config)
    network.save(tmp_path / "dvs.npz")
    loaded = Network.load(tmp_path / "dvs.npz")
    assert "_weights" not in conv.__dict__ and "_weights" not in loaded[0].__dict__
    assert (tmp_path / "dvs.npz").stat().st_size < 2_000_000
    assert np.array_equal(simulate(loaded, spikes).spikes[0], result.spikes[0])
    assert cycles.total > 0 and cycles.lower_bound > 0
    # PyTorch's conv2d and the LIF rule of design §2 (no leak, subtract reset)
    x = torch.tensor(spikes.reshape(2, 3, 2, 128, 128), dtype=torch.float64)
    v = np.zeros((2, conv.neurons), dtype=np.int64)
    for t in range(3):
        kernel = torch.tensor(conv.kernel, dtype=torch.float64)
        current = torch.nn.functional.conv2d(x[:, t], kernel, stride=2,
                                             padding=1).numpy().reshape(2, -1)
        v = np.clip(v + current.astype(np.int64), -2048, 2047)
        fired = v > 20
        v = np.where(fired, v - 20, v)
        assert np.array_equal(result.spikes[0][:, t], fired), f"step {t}"
    assert result.spikes[0].sum() > 0
