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


def test_one_event_timeline_by_hand():
    # 1 x 3 x 3 input, one 1x1 kernel (R = 1), P = S = 1: 9 chunks. SPIKE(4), STEP, SAMPLE
    # are pushed in cycles 0, 1, 2. The core pops an event two cycles after its push, and two
    # pops are at least two cycles apart: SPIKE at 2 (one word, busy 2 cycles), STEP at 4.
    # The sweep starts drain + 1 = 3 cycles later: chunks 7..15 (chunk 4, the neuron that
    # fires, at 11, its spike pushed at 14), the STEP marker issued at 16 (pushed at 19), free
    # at 17. SAMPLE popped at 17: chunks 20..28, marker issued at 29 and pushed at 32; the
    # result is valid a cycle later, 33. Busy: 2 + (17 - 4) + (30 - 17) = 28.
    g = Conv2dGeometry(1, 3, 3, 1, kernel=1)
    layer = ConvLayer(kernel=np.full((1, 1, 1, 1), 5), geometry=g, theta=3, w_bits=4, v_bits=8)
    network = Network([layer])
    config = HardwareConfig((LayerConfig(1, KERNEL_FORMAT, 4),), timing=HARDWARE_TIMING)
    trains = np.zeros((1, 1, 9), dtype=bool)
    trains[0, 0, 4] = True
    report = cycle_model(network, simulate(network, trains), config)
    assert report.finish.tolist() == [33]
    assert (report.layers[0].busy, report.layers[0].words) == (28, 1)
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
    assert [c.format for c in dense.layers] == ["dense", "dense"]
    with pytest.raises(ValueError, match="conv = 'im2col'"):
        HardwareConfig.uniform(network, conv="im2col")
    never_elaborated(Accelerator(network, config))
