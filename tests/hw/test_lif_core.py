"""LIFCore (with the PE array and weight memory it sweeps) against the golden model:
every spike of every step, every leak/reset/timing combination, saturation at both ends,
and the sweep's cycle contract."""

import zlib

import numpy as np
import pytest

from spikefab.hw.events import EventKind
from spikefab.hw.lif_core import LIFCore
from spikefab.hw.verilog import convert
from spikefab.model import Layer, Network, simulate

from .layer_harness import run_layer

LEAKS = {"none": {}, "shift": dict(k=2), "mul": dict(m=5, f=3)}


def golden_events(layer, trains):
    result = simulate(Network([layer]), trains)
    return [[list(np.flatnonzero(step)) for step in sample] for sample in result.spikes[0]]


def random_layer(rng, n, fan_in, w_bits, v_bits, **neuron):
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    weights = rng.integers(lo, hi + 1, size=(n, fan_in))
    weights[rng.random(weights.shape) < 0.4] = 0
    bias = rng.integers(-3, 4, size=n)
    theta = int(rng.integers(1, min(3 * hi, (1 << (v_bits - 1)) - 2) + 1))
    return Layer(weights, theta=theta, w_bits=w_bits, v_bits=v_bits, bias=bias, **neuron)


@pytest.mark.parametrize("timing", ["immediate", "delayed"])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
@pytest.mark.parametrize("leak", ["none", "shift", "mul"])
def test_every_neuron_mode_matches_golden(leak, reset, timing):
    rng = np.random.default_rng(zlib.crc32(f"{leak}{reset}{timing}".encode()))
    layer = random_layer(rng, 11, 10, 4, 6, leak=leak, reset=reset, timing=timing,
                         **LEAKS[leak])
    # Neurons 0-1 are driven hard up, 2-3 hard down: the 6-bit membrane saturates at both
    # ends ([-32, 31]) in every mode.
    weights = layer.weights.copy()
    weights[0:2], weights[2:4] = 7, -8
    layer = layer.replace(weights=weights)
    trains = rng.random((2, 8, 10)) < 0.5
    trains[:, 0] = True
    # From v = 0 the first step's membrane is sat(I): I leaves [-32, 31] on both sides.
    first_current = trains[:, 0].astype(int) @ layer.weights.T + layer.bias
    assert first_current.max() > 31 and first_current.min() < -32
    events, _ = run_layer(layer, 3, "csc", trains, ready_p=0.7, seed=1)
    assert events == golden_events(layer, trains)


@pytest.mark.parametrize("fmt", ["dense", "csc", "bitmap"])
@pytest.mark.parametrize("lanes, sweep_lanes", [(1, 1), (2, 2), (4, 4), (8, 8), (4, 1),
                                                (8, 2), (6, 3), (12, 4)])
def test_lanes_and_formats_match_golden(fmt, lanes, sweep_lanes):
    rng = np.random.default_rng(lanes * 7 + len(fmt) + 100 * sweep_lanes)
    layer = random_layer(rng, int(rng.integers(lanes, 4 * lanes + 3)), 9,
                         int(rng.choice([2, 4, 8])), 12, leak="shift", k=3)
    trains = rng.random((2, 6, 9)) < 0.4
    events, _ = run_layer(layer, lanes, fmt, trains, ready_p=0.8, seed=lanes, gap_p=0.2,
                          sweep_lanes=sweep_lanes)
    assert events == golden_events(layer, trains)


@pytest.mark.parametrize("emit_depth", [1, 2, 4])
def test_fully_parallel_layer_with_narrow_sweep(emit_depth):
    # P = N = 16 (accumulators in flip-flops), S = 4, every neuron mode's hardest case:
    # 90 % input activity and a slow consumer, so the emitter queue fills and stalls the sweep.
    rng = np.random.default_rng(emit_depth)
    layer = random_layer(rng, 16, 7, 4, 8, leak="mul", m=3, f=2, timing="delayed")
    trains = rng.random((2, 6, 7)) < 0.9
    events, _ = run_layer(layer, 16, "dense", trains, ready_p=0.3, seed=emit_depth,
                          sweep_lanes=4, emit_depth=emit_depth)
    assert events == golden_events(layer, trains)


def test_sweep_timing_without_back_pressure():
    # 8 neurons, P = 4 (2 rows); every neuron fires on input 0 (weight 5 > theta 4).
    layer = Layer(np.full((8, 2), [5, 0]), theta=4, w_bits=4, v_bits=8)
    trains = np.array([[[1, 0], [0, 1], [0, 0]]], dtype=bool)
    events, log = run_layer(layer, 4, "csc", trains)
    assert events == [[list(range(8)), [], []]]
    commands = [c for c, what, _ in log if what == "command"]
    markers = [c for c, what, _ in log if what == "marker"]
    columns = [c for c, what, _ in log if what == "column"]
    # The contract (drain 2, sweep_latency 3, 2 chunks of 4, emit_depth 4). Step 0,
    # accepted at s = 2: chunks issue at 4 and 5, the marker at 6, so the core takes input
    # 1's column at 7; the 8 spikes go out at 7 .. 14 and the marker at 15 (s + 13): sweep
    # and emission overlap. Step 1's STEP (8): chunks 10, 11 (3 items held: two entries
    # still queued and the chunk in the first compute stage), marker issued 12 but pushed
    # behind step 0's at 16. Step 2 (13) and the SAMPLE (18), with the emitter idle: chunks
    # at s + 2, s + 3, marker issued at s + 4 and pushed at s + 7.
    assert columns == [0, 7] and commands == [2, 8, 13, 18]
    assert markers == [15, 16, 20, 25]


def test_back_pressure_holds_every_spike():
    rng = np.random.default_rng(11)
    layer = random_layer(rng, 16, 6, 4, 8, leak="none")
    trains = rng.random((1, 10, 6)) < 0.9
    events, _ = run_layer(layer, 4, "csc", trains, ready_p=0.15, seed=3)
    assert events == golden_events(layer, trains)


def test_samples_leave_no_state_behind():
    rng = np.random.default_rng(5)
    layer = random_layer(rng, 6, 5, 4, 8, leak="shift", k=1, timing="delayed")
    trains = rng.random((4, 5, 5)) < 0.6
    events, _ = run_layer(layer, 2, "bitmap", trains, seed=2)
    assert events == golden_events(layer, trains)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(lanes=0, acc_bits=8), ValueError, r"lanes = 0 is out of range; allowed range is \[1, 4\]"),
    (dict(lanes=5, acc_bits=8), ValueError, r"lanes = 5 .*\[1, 4\]"),
    (dict(lanes=2, acc_bits=1), ValueError, r"acc_bits = 1 .*\[2, 48\]"),
    (dict(lanes=2, acc_bits=8, drain=0), ValueError, r"drain = 0 .*\[1, 16\]"),
    (dict(lanes=4, acc_bits=8, sweep_lanes=3), ValueError, r"sweep_lanes = 3 must divide lanes = 4"),
    (dict(lanes=4, acc_bits=8, emit_depth=0), ValueError, r"emit_depth = 0 .*\[1, 16\]"),
])
def test_parameters_are_validated(kwargs, error, message):
    layer = Layer(np.eye(4, dtype=int), theta=1, w_bits=2, v_bits=4)
    with pytest.raises(error, match=message):
        LIFCore(layer, **kwargs)


def test_spike_command_is_an_error():
    from .simulate import run
    layer = Layer(np.eye(4, dtype=int), theta=1, w_bits=2, v_bits=4)
    dut = LIFCore(layer, lanes=2, acc_bits=4)

    async def testbench(ctx):
        ctx.set(dut.control.payload, EventKind.SPIKE)
        ctx.set(dut.control.valid, 1)
        await ctx.tick()
        assert ctx.get(dut.error)
        assert ctx.get(dut.control.ready)

    run(dut, testbench)


@pytest.mark.parametrize("leak", ["none", "shift", "mul"])
def test_converts_to_verilog(leak):
    layer = Layer(np.eye(6, dtype=int), theta=1, w_bits=2, v_bits=8, bias=[1, 0, 0, 0, 0, -1],
                  leak=leak, timing="delayed", **LEAKS[leak])
    text = convert(LIFCore(layer, lanes=4, acc_bits=6, sweep_lanes=2), "lif_core")
    assert "module lif_core" in text and "spikes__payload" in text
