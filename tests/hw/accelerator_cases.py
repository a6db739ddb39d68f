"""Helpers of the accelerator tests (both simulators): random end-to-end cases from the
checks' one generator, :mod:`spikefab.sim.random_networks`, and the bit-for-bit comparison."""

import numpy as np

from spikefab.sim import random_networks


def random_case(seed, **options):
    """:func:`spikefab.sim.random_networks.random_case` seeded with ``seed``:
    ``(network, config, trains)``."""
    return random_networks.random_case(np.random.default_rng(seed), **options)


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
