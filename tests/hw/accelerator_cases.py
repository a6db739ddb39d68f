"""Random end-to-end cases for the accelerator tests (both simulators)."""

import numpy as np

from spikefab.model import FORMATS, HardwareConfig, Layer, Network


def random_case(seed, *, max_neurons=30, max_layers=3, batch=None, steps=None):
    """A random network (1-3 layers, densities 5-100%, every format / leak / reset / timing,
    w_bits 2-8), a hardware configuration and input trains (activity 1-50%)."""
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, max_neurons + 1)) for _ in range(int(rng.integers(1, max_layers + 1)) + 1)]
    layers = []
    for fan_in, n in zip(sizes, sizes[1:]):
        w_bits = int(rng.integers(2, 9))
        v_bits = int(rng.integers(max(w_bits + 1, 5), 17))
        lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
        weights = rng.integers(lo, hi + 1, size=(n, fan_in))
        weights[rng.random(weights.shape) >= rng.choice([0.05, 0.2, 0.5, 1.0])] = 0
        leak = str(rng.choice(["none", "shift", "mul"]))
        params = {"shift": {"k": int(rng.integers(0, 4))},
                  "mul": {"m": int(rng.integers(0, 9)), "f": 3}}.get(leak, {})
        theta_hi = min((1 << (v_bits - 1)) - 2, max(2, hi * max(1, fan_in // 4)))
        bias = rng.integers(-2, 3, size=n) if rng.random() < 0.3 else None
        layers.append(Layer(weights, theta=int(rng.integers(1, theta_hi + 1)), w_bits=w_bits,
                            v_bits=v_bits, bias=bias, leak=leak,
                            reset=str(rng.choice(["subtract", "zero"])),
                            timing=str(rng.choice(["immediate", "delayed"])), **params))
    network = Network(layers)
    dense = rng.random() < 0.2
    lanes = [int(rng.integers(1, min(8, layer.neurons) + 1)) for layer in network]
    if rng.random() < 0.3:        # a fully parallel layer (accumulators in flip-flops)
        lanes[-1] = network[len(network) - 1].neurons
    sweep = [int(rng.choice([d for d in range(1, p + 1) if p % d == 0])) for p in lanes]
    config = HardwareConfig.uniform(
        network, lanes=lanes, sweep_lanes=sweep,
        format="dense" if dense else str(rng.choice(FORMATS)),
        queue_depth=int(rng.choice([2, 3, 8, 64])), mode="dense" if dense else "sparse")
    batch = batch or int(rng.integers(1, 4))
    steps = steps or int(rng.integers(1, 7))
    activity = float(rng.choice([0.01, 0.1, 0.3, 0.5]))
    trains = rng.random((batch, steps, sizes[0])) < activity
    return network, config, trains


def check_against_golden(network, config, trains, run):
    """Every layer's spikes, the counts, the classes bit for bit; the cycles and counters
    exactly as the cycle model predicts."""
    from spikefab.model import cycle_model, simulate

    golden = simulate(network, trains)
    assert not run.error
    for index, (got, want) in enumerate(zip(run.spikes, golden.spikes)):
        assert np.array_equal(got, want), f"layer {index + 1} spikes differ"
    assert np.array_equal(run.counts, golden.counts)
    assert np.array_equal(run.classes, golden.predicted)
    report = cycle_model(network, golden, config)
    assert run.finish.tolist() == report.finish.tolist()
    assert run.latency.tolist() == report.latency.tolist()
    for index, (got, want) in enumerate(zip(run.counters, report.layers)):
        assert got == {"events": want.events, "words": want.words,
                       "synaptic_updates": want.synaptic_updates, "busy": want.busy,
                       "stall": want.stall}, f"layer {index + 1} counters"
    # The last result's snapshot is taken as the last SAMPLE marker reaches the readout: every
    # layer has finished the batch (the last core was free from the cycle after that
    # marker's issue, at least a cycle before its push).
    assert run.result_counters[-1] == [dict(c) for c in run.counters]
    return golden, report
