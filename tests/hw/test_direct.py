"""Direct input layers in the accelerator (docs/design.md §13), Amaranth simulator: random
networks whose first layer takes multi-bit values and holds its current, against the golden
model (every spike, count and class) and the cycle model (every result's cycle and every
counter)."""

import numpy as np
import pytest

from spikefab.hw.accelerator import Accelerator
from spikefab.hw.events import EventLayout
from spikefab.hw.verilog import convert
from spikefab.model import HardwareConfig, Layer, Network, encode_direct, simulate
from spikefab.sim.cosim import run_accelerator
from spikefab.sim.random_networks import random_direct_case

from .accelerator_cases import check_against_golden


@pytest.mark.parametrize("seed", range(12))
def test_random_direct_network_matches_golden_and_cycle_model(seed):
    network, config, values = random_direct_case(np.random.default_rng(1000 + seed))
    run = run_accelerator(network, config, values)
    check_against_golden(network, config, values, run)


def test_the_held_current_is_used_every_step_and_cleared_by_sample():
    """Five samples, each the same image except the third (all zeros): a layer that kept
    the accumulators after a SAMPLE, or cleared them at a STEP, fires differently."""
    rng = np.random.default_rng(5)
    first = Layer(rng.integers(-30, 31, (12, 20)), theta=150, w_bits=6, v_bits=12,
                  x_bits=8, x_shift=5, leak="shift", k=3)
    network = Network([first, Layer(rng.integers(-2, 6, (4, 12)), theta=3, w_bits=4,
                                    v_bits=8)])
    image = rng.integers(0, 256, 20)
    images = np.stack([image, image, np.zeros(20, int), image, 255 - image])
    values = encode_direct(images, 9)
    golden = simulate(network, values)
    per_step = golden.spikes[0].sum(axis=2)
    assert per_step[0, 1:].min() > 0 and per_step[2].sum() == 0   # the held current fires
    for lanes, fmt in (([1, 1], "csc"), ([12, 4], "dense"), ([5, 2], "bitmap")):
        config = HardwareConfig.uniform(network, lanes=lanes, format=fmt)
        run = run_accelerator(network, config, values)
        check_against_golden(network, config, values, run)


def test_a_wide_sum_needs_the_wide_accumulator():
    """Every weight at its most negative and every input at x_max: the accumulator must hold
    fan_in * 2**(w_bits-1) * x_max exactly (a narrower one would wrap to a positive sum)."""
    fan_in, x_bits = 40, 12
    first = Layer(np.full((3, fan_in), -128), theta=5, w_bits=8, v_bits=32, x_bits=x_bits,
                  x_shift=0, bias=np.array([0, 1 << 24, 1 << 25]))
    network = Network([first])
    values = encode_direct(np.full((1, fan_in), (1 << x_bits) - 1), 3, x_bits=x_bits)
    golden = simulate(network, values)
    assert golden.counts.tolist() == [[0, 0, 3]]    # -20,966,400 held: only 2**25 lifts it
    for lanes in (1, 3):
        config = HardwareConfig.uniform(network, lanes=lanes, format="csc")
        run = run_accelerator(network, config, values)
        check_against_golden(network, config, values, run)


def test_the_input_stream_carries_the_value():
    network = Network([Layer(np.ones((2, 5), dtype=int), theta=3, x_bits=6)])
    dut = Accelerator(network, HardwareConfig.uniform(network, lanes=1))
    assert dut.events.payload.shape() == EventLayout(3, 6)
    text = convert(dut, "accelerator")                    # kind 2 + addr 3 + value 6 bits
    assert "input [10:0] events__payload" in text
    with pytest.raises(ValueError, match="direct network .* needs the sparse mode"):
        Accelerator(network, HardwareConfig.uniform(network, lanes=1, mode="dense"))
