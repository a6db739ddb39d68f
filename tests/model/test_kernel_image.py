"""The convolution core's memory image (model/kernel_image.py) against the kernel itself, the
unrolled matrix (conv2d_matrix) and a hand-computed neuron order."""

import numpy as np
import pytest

from spikefab.model.conv import Conv2dGeometry, ConvLayer, sum_pool_geometry
from spikefab.model.kernel_image import compile_kernel
from spikefab.sim.random_networks import random_conv_network


def conv_layers(seeds):
    for seed in seeds:
        network = random_conv_network(np.random.default_rng(seed), channels=(1, 4),
                                      conv_layers=(2, 2))
        yield from (layer for layer in network if isinstance(layer, ConvLayer))


LAYERS = list(conv_layers(range(8)))


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: str(layer.geometry.out_shape))
def test_every_kernel_weight_once_and_costs_from_the_unrolled_matrix(layer):
    g = layer.geometry
    kh, kw = g.kernel
    for lanes in range(1, g.out_channels + 1):
        image = compile_kernel(layer, lanes)
        groups = -(-g.out_channels // lanes)
        assert image.words.shape == (groups * g.in_channels * kh * kw, lanes)
        for co in range(groups * lanes):
            for ci in range(g.in_channels):
                for ky in range(kh):
                    for kx in range(kw):
                        word = (co // lanes) * g.in_channels * kh * kw + ci * kh * kw \
                            + ky * kw + kx
                        want = layer.kernel[co, ci, ky, kx] if co < g.out_channels else 0
                        assert image.words[word, co % lanes] == want
        # The synaptic updates of an event are its column's non-zeros in the unrolled matrix.
        assert np.array_equal(image.event_updates, (layer.weights != 0).sum(axis=0))
        # Its words: the reached positions (through the pool) times the channel groups.
        for j in range(layer.fan_in):
            c, y, x = np.unravel_index(j, layer.in_map)
            if layer.pool is not None:
                pooled = layer.pool.reached(y, x)          # one window, or none
                if not pooled:
                    assert not image.reaches[j] and image.event_words[j] == 0
                    continue
                y, x = pooled[0][:2]
            assert (image.channel[j], image.y[j], image.x[j]) == (c, y, x)
            assert image.reaches[j] == bool(g.reached(y, x))
            assert image.event_words[j] == len(g.reached(y, x)) * groups


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: str(layer.geometry.out_shape))
def test_the_positions_a_step_touches_are_its_spikes_reach(layer):
    """``touched`` (a convolution of the activity map with ones) equals the reach table's
    product on random spike trains, the pool's uncovered borders included."""
    image = compile_kernel(layer, 1)
    trains = np.random.default_rng(layer.fan_in).random((3, 4, layer.fan_in)) < 0.05
    want = (trains.astype(np.int64) @ image.reach.astype(np.int64)) > 0
    assert np.array_equal(image.touched(trains), want)


def test_neuron_order_by_hand():
    # C_out = 3 on a 1 x 2 map with P = 2: G = 2 groups, h = (g*2 + pos)*2 + p, co = 2g + p.
    g = Conv2dGeometry(1, 1, 2, 3, kernel=1)
    layer = ConvLayer(kernel=np.ones((3, 1, 1, 1), dtype=np.int64), geometry=g, theta=1,
                      w_bits=4, v_bits=8)
    image = compile_kernel(layer, 2)
    assert image.order.tolist() == [0, 2, 1, 3, 4, -1, 5, -1]
    assert image.rank.tolist() == [0, 2, 1, 3, 4, 6]
    assert image.chunk_digits(1) == ((2, 2), (2, 1), (2, 4))


@pytest.mark.parametrize("layer", LAYERS[:6], ids=lambda layer: str(layer.geometry.out_shape))
def test_order_puts_a_word_on_distinct_pes_and_the_digits_give_the_addresses(layer):
    for lanes in range(1, layer.geometry.out_channels + 1):
        image = compile_kernel(layer, lanes)
        order = image.order
        real = order[order >= 0]
        assert sorted(real.tolist()) == list(range(layer.neurons))
        assert np.array_equal(order[image.rank], np.arange(layer.neurons))
        # One word: local index r on every PE = P channels of one position.
        channels, positions = order // image.positions, order % image.positions
        for r in range(image.rows):
            lanes_of_row = slice(r * lanes, (r + 1) * lanes)
            real_lanes = order[lanes_of_row] >= 0
            assert len(set(positions[lanes_of_row][real_lanes])) <= 1
            assert (channels[lanes_of_row][real_lanes] % lanes
                    == np.arange(lanes)[real_lanes]).all()
        for sweep in (d for d in range(1, lanes + 1) if lanes % d == 0):
            digits = image.chunk_digits(sweep)
            for k in range(image.rows * lanes // sweep):
                base, rest = 0, k
                for radix, stride in digits:
                    base += (rest % radix) * stride
                    rest //= radix
                for lane in range(sweep):
                    if order[k * sweep + lane] >= 0:
                        assert order[k * sweep + lane] == base + lane * image.positions


def test_a_pool_window_that_covers_nothing_reaches_nothing():
    pool = sum_pool_geometry(1, 5, 5, 2)              # rows and columns 4 are beyond it
    g = Conv2dGeometry(1, 2, 2, 2, kernel=2, stride=1, padding=0)
    layer = ConvLayer(kernel=np.ones((2, 1, 2, 2), dtype=np.int64), geometry=g, pool=pool,
                      theta=1, w_bits=4, v_bits=8)
    image = compile_kernel(layer, 2)
    edge = [4 * 5 + x for x in range(5)] + [y * 5 + 4 for y in range(5)]
    assert not image.reaches[edge].any() and (image.event_words[edge] == 0).all()
    assert image.reaches[[0, 1, 5, 6, 18]].all()


def test_bad_lanes_and_layers_are_refused():
    g = Conv2dGeometry(1, 4, 4, 3, kernel=3)
    layer = ConvLayer(kernel=np.ones((3, 1, 3, 3), dtype=np.int64), geometry=g, theta=1,
                      w_bits=4, v_bits=8)
    with pytest.raises(ValueError, match=r"lanes.*\[1, 3\]"):
        compile_kernel(layer, 4)
    with pytest.raises(TypeError, match="ConvLayer"):
        compile_kernel(object(), 1)
