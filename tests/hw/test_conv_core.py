"""The convolution core (hw/conv_core.py) in the Amaranth simulator: a timeline computed by
hand, random convolutional networks with every layer on the core (kernels, strides, paddings,
input pools, channel biases, conv after conv, every neuron mode, several lane and sweep-lane
splits, the smallest queues) against the golden model (every spike, count and class) and the
cycle model (every result's cycle and every counter, exactly), and the parameters it
refuses."""

import numpy as np
import pytest

from spikefab.hw.accelerator import HARDWARE_TIMING, Accelerator
from spikefab.hw.conv_core import ConvCore
from spikefab.hw.elaboration import never_elaborated
from spikefab.model import HardwareConfig, Layer, LayerConfig, Network, cycle_model, simulate
from spikefab.model.conv import Conv2dGeometry, ConvLayer
from spikefab.model.kernel_image import KERNEL_FORMAT, compile_kernel
from spikefab.sim.cosim import run_accelerator
from spikefab.sim.random_networks import random_config, random_conv_network

from .accelerator_cases import check_against_golden


def kernel_config(rng, network, **kw):
    """random_config with every conv layer on the convolution core."""
    formats = [KERNEL_FORMAT if isinstance(layer, ConvLayer) else None for layer in network]
    return random_config(rng, network, formats=formats, **kw)


def one_event(bias):
    """1 x 3 x 3 input, one 1x1 kernel (R = 1) of weight 5, theta 3, P = S = 1 (9 chunks);
    SPIKE(4), STEP, SAMPLE pushed in cycles 0, 1, 2."""
    g = Conv2dGeometry(1, 3, 3, 1, kernel=1)
    layer = ConvLayer(kernel=np.full((1, 1, 1, 1), 5), geometry=g, theta=3, w_bits=4, v_bits=8,
                      channel_bias=np.array([bias]))
    network = Network([layer])
    config = HardwareConfig((LayerConfig(1, KERNEL_FORMAT, 4),), timing=HARDWARE_TIMING)
    trains = np.zeros((1, 1, 9), dtype=bool)
    trains[0, 0, 4] = True
    return network, config, trains


@pytest.mark.parametrize("bias, finish, busy", [
    # With a bias every chunk is swept. The core pops an event two cycles after its push, and
    # two pops are at least two cycles apart: SPIKE at 2 (one word, busy 2 cycles), STEP at
    # 4. The sweep starts drain + 1 = 3 cycles later: chunks 7..15 (chunk 4, the neuron that
    # fires, at 11, its spike pushed at 14), the STEP marker issued at 16 (pushed at 19), free
    # at 17. SAMPLE popped at 17: chunks 20..28, marker issued at 29 and pushed at 32; the
    # result is valid a cycle later, 33. Busy: 2 + (17 - 4) + (30 - 17) = 28.
    (1, 33, 28),
    # Without a bias the sweep skips: the only block (9 positions) has one active row, 4
    # (its word landed). STEP popped at 4: chunk 4 issued at 7 (spike pushed at 10), marker
    # issued at 8 (pushed at 11), free at 9. The neuron keeps 5 - 3 = 2 (subtract reset), so
    # row 4 still holds state: SAMPLE popped at 9 sweeps chunk 4 at 12, marker at 13, pushed
    # at 16, result 17. Busy: 2 + (9 - 4) + (14 - 9) = 12.
    (0, 17, 12),
])
def test_one_event_timeline_by_hand(bias, finish, busy):
    network, config, trains = one_event(bias)
    report = cycle_model(network, simulate(network, trains), config)
    assert report.finish.tolist() == [finish]
    assert (report.layers[0].busy, report.layers[0].words) == (busy, 1)
    run = run_accelerator(network, config, trains)
    check_against_golden(network, config, trains, run)
    assert run.spikes[0][0, 0].nonzero()[0].tolist() == [4]


@pytest.mark.parametrize("seed", range(6))
def test_random_conv_networks_on_the_core_match_golden_and_cycle_model(seed):
    rng = np.random.default_rng(100 + seed)
    network = random_conv_network(rng)
    config = kernel_config(rng, network, stress=seed % 3 == 2)
    trains = rng.random((2, 6, network.n_inputs)) < 0.4
    run = run_accelerator(network, config, trains)
    golden, _ = check_against_golden(network, config, trains, run)
    assert golden.spikes[0].sum() > 0


def test_several_channel_groups_and_a_narrow_sweep():
    # C_out = 7 on P = 3 lanes: three channel groups, the last with two padding channels;
    # S = 1 sweeps one neuron per cycle; a channel bias and a pool in the second layer.
    from spikefab.model.conv import sum_pool_geometry
    rng = np.random.default_rng(5)
    first = ConvLayer(kernel=rng.integers(-2, 6, (7, 2, 3, 3)),
                      geometry=Conv2dGeometry(2, 6, 6, 7, kernel=3, stride=1, padding=1),
                      channel_bias=rng.integers(0, 3, 7), theta=9, w_bits=4, v_bits=9)
    pool = sum_pool_geometry(7, 6, 6, 2)
    second = ConvLayer(kernel=rng.integers(-2, 6, (3, 7, 2, 2)), pool=pool,
                       geometry=Conv2dGeometry(7, 3, 3, 3, kernel=2, stride=1, padding=1),
                       theta=12, w_bits=4, v_bits=10, leak="shift", k=2)
    readout = Layer(weights=rng.integers(-3, 8, (4, second.neurons)), theta=6, w_bits=4,
                    v_bits=10)
    network = Network([first, second, readout])
    config = HardwareConfig((LayerConfig(3, KERNEL_FORMAT, 4, 1),
                             LayerConfig(2, KERNEL_FORMAT, 3, 2), LayerConfig(2, "csc", 2)),
                            timing=HARDWARE_TIMING)
    trains = rng.random((2, 5, network.n_inputs)) < 0.3
    run = run_accelerator(network, config, trains)
    golden, _ = check_against_golden(network, config, trains, run)
    assert all(s.sum() > 0 for s in golden.spikes)


def test_what_the_core_refuses():
    g = Conv2dGeometry(1, 4, 4, 3, kernel=3)
    layer = ConvLayer(kernel=np.ones((3, 1, 3, 3), dtype=np.int64), geometry=g, theta=1,
                      w_bits=4, v_bits=8)
    dense = Layer(weights=np.ones((2, layer.neurons), dtype=np.int64), theta=1, w_bits=4,
                  v_bits=8)
    network = Network([layer, dense])
    with pytest.raises(ValueError, match=r"lanes = 4 .*\[1, 3\] \(its output channels\)"):
        HardwareConfig((LayerConfig(4, KERNEL_FORMAT), LayerConfig(2)),
                       timing=HARDWARE_TIMING).check(network)
    with pytest.raises(ValueError, match="needs a convolutional layer"):
        HardwareConfig((LayerConfig(3, KERNEL_FORMAT), LayerConfig(2, KERNEL_FORMAT)),
                       timing=HARDWARE_TIMING).check(network)
    config = HardwareConfig((LayerConfig(3, KERNEL_FORMAT), LayerConfig(2)),
                            timing=HARDWARE_TIMING)
    with pytest.raises(ValueError, match="no capacity or run-time weights"):
        Accelerator(network, config, runtime_weights=[True, False])
    other = layer.replace(theta=2)
    with pytest.raises(ValueError, match="not compiled from this layer"):
        ConvCore(layer, compile_kernel(other, 3))


def test_uniform_puts_conv_layers_on_the_core_unless_unrolled():
    g = Conv2dGeometry(1, 4, 4, 3, kernel=3)
    layer = ConvLayer(kernel=np.ones((3, 1, 3, 3), dtype=np.int64), geometry=g, theta=1,
                      w_bits=4, v_bits=8)
    network = Network([layer, Layer(weights=np.ones((2, layer.neurons), dtype=np.int64),
                                    theta=1, w_bits=4, v_bits=8)])
    config = HardwareConfig.uniform(network, lanes=8, format="csc")
    assert [(c.lanes, c.format) for c in config.layers] == [(3, KERNEL_FORMAT), (2, "csc")]
    config = HardwareConfig.uniform(network, lanes=8, format="csc", conv="unrolled")
    assert [(c.lanes, c.format) for c in config.layers] == [(8, "csc"), (2, "csc")]
    dense = HardwareConfig.uniform(network, lanes=8, mode="dense")
    assert [c.format for c in dense.layers] == [KERNEL_FORMAT, "dense"]
    dense = HardwareConfig.uniform(network, lanes=8, mode="dense", conv="unrolled")
    assert [c.format for c in dense.layers] == ["dense", "dense"]
    with pytest.raises(ValueError, match="conv = 'im2col'"):
        HardwareConfig.uniform(network, conv="im2col")
    never_elaborated(Accelerator(network, config))


@pytest.mark.parametrize("timing, reset", [("delayed", "zero"), ("immediate", "subtract")])
def test_the_skipping_sweep_over_several_blocks_groups_and_sweep_lanes(timing, reset):
    # 5 channels on P = 2 lanes (3 groups, one padding channel), S = 1 (two chunks per row),
    # a 9 x 9 output map (81 positions: 6 blocks of 16 per group), no bias, sparse input in
    # one corner: most blocks are skipped, the touched rows and those still holding a
    # membrane (or, delayed, a reset to apply) are swept.
    rng = np.random.default_rng(9)
    conv = ConvLayer(kernel=rng.integers(0, 6, (5, 2, 3, 3)),
                     geometry=Conv2dGeometry(2, 9, 9, 5, kernel=3, padding=1), theta=7,
                     w_bits=4, v_bits=9, timing=timing, reset=reset, leak="shift", k=1)
    readout = Layer(weights=rng.integers(-2, 8, (3, conv.neurons)), theta=9, w_bits=4,
                    v_bits=10)
    network = Network([conv, readout])
    config = HardwareConfig((LayerConfig(2, KERNEL_FORMAT, 3, 1), LayerConfig(3, "csc", 3)),
                            timing=HARDWARE_TIMING)
    trains = np.zeros((2, 6, network.n_inputs), dtype=bool)
    corner = [c * 81 + y * 9 + x for c in range(2) for y in range(3) for x in range(3)]
    trains[..., corner] = rng.random((2, 6, len(corner))) < 0.5
    run = run_accelerator(network, config, trains)
    golden, report = check_against_golden(network, config, trains, run)
    assert golden.spikes[0].sum() > 0 and golden.spikes[1].sum() > 0
    image = compile_kernel(conv, 2)
    on_events = int((np.maximum(image.event_words, 2) * trains.sum(axis=(0, 1))).sum())
    sweeps = report.layers[0].busy - on_events      # the sweeps' share of the busy cycles
    full = (2 * 6 + 2) * (3 * 81 * 2 + 1)          # every chunk of every sweep, plus markers
    assert 0 < sweeps < full / 4


def test_dense_baseline_timeline_by_hand():
    # The one-event case on the core's dense baseline: SPIKE(4) pushed at 0 is popped at 1
    # (one cycle: bit 4 of the input vector), STEP pushed at 1 popped at 2. The walk takes
    # input 0 at 4 (two cycles to read its table entry), then every input two cycles apart
    # (each reaches one position: one word, but two cycles per input): 9 inputs, 18 cycles,
    # STEP to the LIF core at 22, first chunk at 25 (drain + 1), full sweep 25..33 (chunk 4
    # at 29, its spike pushed at 32), marker issued at 34 and pushed at 37, free at 35.
    # SAMPLE popped at 35: chunks 38..46, marker at 47, pushed at 50, result at 51.
    # Busy: 1 + (35 - 2) + (48 - 35) = 47; words: all 9 inputs' one word.
    network, _, trains = one_event(0)
    config = HardwareConfig((LayerConfig(1, KERNEL_FORMAT, 4),), mode="dense",
                            timing=HARDWARE_TIMING)
    report = cycle_model(network, simulate(network, trains), config)
    assert report.finish.tolist() == [51]
    layer = report.layers[0]
    assert (layer.busy, layer.words, layer.synaptic_updates) == (47, 9, 1)
    run = run_accelerator(network, config, trains)
    check_against_golden(network, config, trains, run)


@pytest.mark.parametrize("seed", range(3))
def test_random_conv_networks_on_the_dense_baseline(seed):
    """The convolution core's dense baseline (mode dense: every input walked every step,
    gated by whether it spiked, full sweeps) in front of dense fully connected layers."""
    rng = np.random.default_rng(200 + seed)
    network = random_conv_network(rng)
    formats = [KERNEL_FORMAT if isinstance(layer, ConvLayer) else "dense" for layer in network]
    config = random_config(rng, network, formats=formats)
    config = HardwareConfig(config.layers, mode="dense", timing=HARDWARE_TIMING)
    trains = rng.random((2, 4, network.n_inputs)) < 0.4
    run = run_accelerator(network, config, trains)
    check_against_golden(network, config, trains, run)
