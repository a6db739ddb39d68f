"""Early exit in the accelerator (Amaranth simulator) against the golden model with the same
rule (classes, counts, steps run) and the cycle model (every result's cycle and every counter,
the discarded events included, exactly): exact and margin exits, back-to-back samples,
samples that never exit, and the hardware without exit unchanged."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from spikefab.hw.accelerator import Accelerator
from spikefab.hw.elaboration import never_elaborated
from spikefab.hw.events import EventKind
from spikefab.model import HardwareConfig, Layer, Network, cycle_model, simulate
from spikefab.model.events import event_stream

from .accelerator_cases import random_case

COUNTERS = ("events", "words", "synaptic_updates", "busy", "stall", "dropped")


def run_exit(network, config, trains, rule, *, limit=200_000):
    """Push ``trains`` ``[B, T, N0]`` one event per cycle (when ready) into an accelerator
    built with ``exit=rule``; take every result at once; stop when every result is out and
    the accelerator is idle. Returns the results and the final counters."""
    batch, steps, _ = trains.shape
    dut = Accelerator(network, config, max_steps=steps, exit=rule, steps=steps)
    events = event_stream(trains)
    out = {"results": []}

    async def testbench(ctx):
        position = cycle = 0
        ctx.set(dut.results.ready, 1)
        while len(out["results"]) < batch or position < len(events) or not ctx.get(dut.idle):
            assert cycle < limit, "the accelerator hangs"
            offering = position < len(events)
            if offering:
                kind, addr = events[position]
                ctx.set(dut.events.payload, {"kind": EventKind(kind), "addr": addr})
            ctx.set(dut.events.valid, offering)
            if offering and ctx.get(dut.events.ready):
                position += 1
            if ctx.get(dut.results.valid):
                r = ctx.get(dut.results.payload)
                out["results"].append((r.cls, list(r.counts), r.cycles, getattr(r, "steps", None)))
            await ctx.tick()
            cycle += 1
        out["counters"] = [{name: getattr(c, name) for name in COUNTERS}
                           for c in ctx.get(dut.counters)]
        out["error"] = ctx.get(dut.error)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return out


def check_exit(network, config, trains, rule):
    """RTL = golden model with ``rule`` (class, counts, steps) = cycle model (result cycles,
    counters)."""
    golden = simulate(network, trains, exit=rule)
    report = cycle_model(network, golden, config)
    run = run_exit(network, config, trains, rule)
    assert not run["error"]
    results = run["results"]
    assert [r[0] for r in results] == golden.predicted.tolist()
    assert [r[1] for r in results] == golden.counts.tolist()
    assert [r[3] for r in results] == golden.ran.tolist()
    assert [r[2] for r in results] == report.finish.tolist()
    for index, (got, want) in enumerate(zip(run["counters"], report.layers)):
        assert got == {name: getattr(want, name) for name in COUNTERS}, f"layer {index + 1}"
    return golden, report, run


def _classifier(seed, classes=4, hidden=12, inputs=10):
    """A small two-layer network with decided and undecided samples."""
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-4, 6, size=(hidden, inputs))
    w2 = rng.integers(-6, 5, size=(classes, hidden))
    return Network([Layer(w1, theta=8, w_bits=4, v_bits=10),
                    Layer(w2, theta=4, w_bits=4, v_bits=10)])


@pytest.mark.parametrize("rule", ["exact", ("margin", 1), ("margin", 3)])
def test_exits_back_to_back_match_golden_and_cycle_model(rule):
    network = _classifier(1)
    config = HardwareConfig.uniform(network, lanes=[3, 2], format="csc", queue_depth=4)
    rng = np.random.default_rng(2)
    trains = rng.random((5, 12, 10)) < 0.5
    trains[2] = False                 # a silent sample: all counts 0, never exits
    golden, report, _ = check_exit(network, config, trains, rule)
    assert (golden.ran < 12).sum() >= 3 and golden.ran[2] == 12    # exits, and one never
    assert report.layers[0].dropped > 0                            # input events discarded



@pytest.mark.parametrize("rule", ["exact", ("margin", 1000)])
def test_exit_with_a_balanced_neuron_placement(rule):
    # The output layer's spikes leave in hardware-position order with user addresses (the
    # placement's address table): the readout's rule and tie order see user indices.
    network = _classifier(1)
    config = HardwareConfig.uniform(network, lanes=[3, 2], format="csc", queue_depth=4,
                                    placement="balanced")
    placed = Accelerator(network, config, max_steps=12)
    never_elaborated(placed)                              # built to be inspected
    assert any(image.placement is not None for image in placed.images)   # not the identity
    rng = np.random.default_rng(2)
    trains = rng.random((5, 12, 10)) < 0.5
    golden, _, _ = check_exit(network, config, trains, rule)
    assert (golden.ran < 12).any() == (rule == "exact")


def test_exact_exit_on_random_networks():
    for seed in (3, 11, 12):
        network, config, _ = random_case(seed, max_neurons=10, max_layers=3)
        if config.mode != "sparse" or any(c.format == "kernel" for c in config.layers):
            config = HardwareConfig.uniform(network, lanes=2, format="bitmap", queue_depth=3)
        trains = np.random.default_rng(seed).random((4, 6, network.n_inputs)) < 0.5
        check_exit(network, config, trains, "exact")
        check_exit(network, config, trains, ("margin", 1))


def test_no_exit_is_the_full_run():
    # A margin no sample reaches: every sample runs its T steps and the results, cycles and
    # counters are those of the accelerator without exit (the cycle model's own run).
    network = _classifier(4)
    config = HardwareConfig.uniform(network, lanes=2, format="csc", queue_depth=3)
    trains = np.random.default_rng(5).random((3, 6, 10)) < 0.5
    golden, report, run = check_exit(network, config, trains, ("margin", 100))
    assert golden.ran.tolist() == [6, 6, 6]
    plain = cycle_model(network, simulate(network, trains), config)
    assert report.finish.tolist() == plain.finish.tolist()
    assert all(c["dropped"] == 0 for c in run["counters"])


def test_without_exit_the_hardware_has_no_exit_ports():
    network = _classifier(6)
    config = HardwareConfig.uniform(network, lanes=2, format="csc")
    plain = Accelerator(network, config, max_steps=8)
    assert "steps" not in plain.result_layout.members
    assert "dropped" not in plain.counters_layout.elem_shape.members
    assert not hasattr(plain.readout, "exit")
    with_exit = Accelerator(network, config, max_steps=8, exit="exact", steps=8)
    never_elaborated([plain, with_exit])                  # built to be inspected
    assert "steps" in with_exit.result_layout.members


def test_exit_parameters_are_validated():
    network = _classifier(7)
    config = HardwareConfig.uniform(network, lanes=2, format="csc")
    with pytest.raises(ValueError, match=r"steps.*\[1, 8\]"):
        Accelerator(network, config, max_steps=8, exit="exact", steps=9)
    with pytest.raises(ValueError, match="margin"):
        Accelerator(network, config, max_steps=8, exit=("margin", 0), steps=8)
    dense = HardwareConfig.uniform(network, lanes=2, mode="dense")
    with pytest.raises(ValueError, match="sparse"):
        Accelerator(network, dense, max_steps=8, exit="exact", steps=8)


def test_a_fast_first_layer_runs_samples_ahead_of_an_exiting_readout():
    # Short samples, a fast first layer and a slow, wide last layer (P = S = 1, 9 neurons):
    # layer 1 finishes samples while the readout is still on an earlier one, so the exit
    # must discard only the exited sample's events (the cores tag samples by number). Some
    # samples exit after step 0 or 2 and their neighbours do not.
    mixed = 0
    for seed in (9, 10):
        rng = np.random.default_rng(seed)
        w1 = rng.integers(0, 8, size=(6, 4))
        w2 = rng.integers(-6, 4, size=(9, 6))
        w2[seed % 9] = 7
        network = Network([Layer(w1, theta=3, w_bits=4, v_bits=8),
                           Layer(w2, theta=4, w_bits=4, v_bits=8)])
        config = HardwareConfig.uniform(network, lanes=[6, 1], format="csc", queue_depth=16)
        trains = rng.random((8, 4, 4)) < 0.6
        for rule in ("exact", ("margin", 1)):
            golden, _, _ = check_exit(network, config, trains, rule)
            mixed += bool((golden.ran < 4).any() and (golden.ran == 4).any())
    assert mixed >= 2
