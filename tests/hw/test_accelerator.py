"""The accelerator end to end in the Amaranth simulator: random networks and inputs against
the golden model (every spike, count and class) and the cycle model (every result's cycle and
every counter, exactly), plus stress cases."""

import numpy as np
import pytest

from spikefab.hw.accelerator import HARDWARE_TIMING, Accelerator
from spikefab.hw.verilog import convert
from spikefab.model import HardwareConfig, Layer, LayerConfig, Network, Timing
from spikefab.sim.cosim import run_accelerator

from .accelerator_cases import check_against_golden, random_case


@pytest.mark.parametrize("seed", range(16))
def test_random_network_matches_golden_and_cycle_model(seed):
    network, config, trains = random_case(seed)
    run = run_accelerator(network, config, trains)
    check_against_golden(network, config, trains, run)


def _layer(rng, n, fan_in, **kw):
    weights = rng.integers(-8, 8, size=(n, fan_in))
    return Layer(weights, theta=kw.pop("theta", 4), w_bits=4, v_bits=10, **kw)


def test_full_activity_with_the_smallest_queues():
    # Every input spikes every step and theta is low: every queue fills; back-pressure
    # everywhere; nothing may be lost.
    rng = np.random.default_rng(1)
    network = Network([_layer(rng, 10, 8, theta=1), _layer(rng, 9, 10, theta=1),
                       _layer(rng, 5, 9, theta=1)])
    config = HardwareConfig.uniform(network, lanes=[2, 3, 1], format="csc", queue_depth=2)
    trains = np.ones((2, 5, 8), dtype=bool)
    run = run_accelerator(network, config, trains)
    golden, report = check_against_golden(network, config, trains, run)
    assert golden.spikes[0].mean() > 0.3 and golden.spikes[1].mean() > 0.3
    assert sum(c["stall"] for c in run.counters) > 0        # back-pressure really happened
    assert run.high_water == [2, 2, 2]


def test_all_zero_layer_and_silent_layer():
    rng = np.random.default_rng(2)
    zero = Layer(np.zeros((6, 7), dtype=int), theta=1, w_bits=4, v_bits=8)
    silent = _layer(rng, 5, 6, theta=120)        # |I| <= 6 * 8 = 48 < 120: never fires
    for network, quiet in ((Network([zero, _layer(rng, 3, 6)]), 0),
                           (Network([_layer(rng, 6, 7, theta=2), silent, _layer(rng, 3, 5)]), 1)):
        config = HardwareConfig.uniform(network, lanes=2, format="bitmap", queue_depth=4)
        trains = rng.random((2, 4, 7)) < 0.5
        run = run_accelerator(network, config, trains)
        golden, _ = check_against_golden(network, config, trains, run)
        assert not golden.spikes[quiet].any()
        assert golden.layer_inputs(quiet).any()   # it had input, and stayed silent


@pytest.mark.slow
def test_a_few_hundred_neurons():
    network, config, trains = random_case(7, max_neurons=250, max_layers=2, batch=1, steps=3)
    assert max(network.shape) > 100
    run = run_accelerator(network, config, trains)
    check_against_golden(network, config, trains, run)


def test_many_samples_back_to_back():
    network, config, _ = random_case(100, max_neurons=12, max_layers=2)
    trains = np.random.default_rng(3).random((10, 3, network.n_inputs)) < 0.4
    run = run_accelerator(network, config, trains)
    check_against_golden(network, config, trains, run)
    assert len(run.classes) == 10


def test_timing_and_configuration_are_validated():
    network = Network([Layer(np.eye(4, dtype=int), theta=1, w_bits=2, v_bits=4)])
    other = HardwareConfig((LayerConfig(2),), timing=Timing(drain=3))
    with pytest.raises(ValueError, match=r"config.timing = .* differs from the timing this "
                                         r"hardware implements"):
        Accelerator(network, other)
    with pytest.raises(ValueError, match=r"layers\[0\].lanes = 5 is out of range"):
        Accelerator(network, HardwareConfig((LayerConfig(5),)))
    with pytest.raises(ValueError, match=r"max_steps = 0 is out of range"):
        Accelerator(network, HardwareConfig((LayerConfig(2),)), max_steps=0)
    with pytest.raises(ValueError, match=r"T = 9 steps exceeds max_steps = 4"):
        run_accelerator(network, HardwareConfig((LayerConfig(2),)), np.zeros((9, 4)),
                        max_steps=4)
    assert HARDWARE_TIMING == Timing()           # the model's defaults are the hardware's


def test_converts_to_verilog():
    network, config, _ = random_case(5)
    text = convert(Accelerator(network, config), "accelerator")
    assert "module accelerator" in text and "results__payload" in text


def test_hardware_config_hidden_lanes_and_a_fully_parallel_output_layer():
    from spikefab.hw.accelerator import hardware_config
    from spikefab.model import reference_network
    network = reference_network((64, 32, 10), w_bits=4)
    config = hardware_config(network, 128, 8, "dense", 16)
    assert [(c.lanes, c.sweep_lanes, c.format) for c in config.layers] == \
        [(32, 8, "dense"), (10, 10, "dense")]
    assert config.timing == HARDWARE_TIMING
    with pytest.raises(ValueError, match="sweep_lanes = 3 must divide lanes = 32"):
        hardware_config(network, 32, 3)
