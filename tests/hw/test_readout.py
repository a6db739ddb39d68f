"""The readout alone (Amaranth simulator) against a plain Python count: random spike streams,
narrow counts so that ties and saturation happen often, results taken late. Each result's
class is NumPy's arg-max of the reference counts (the lowest index on ties), its counts are
the reference counts (saturated at ``2**count_bits - 1``), and ``error`` rises exactly when
a spike finds its count saturated."""

import numpy as np
import pytest

from spikefab.hw.events import EventKind
from spikefab.hw.readout import Readout

from .simulate import run


def reference(samples, classes, top):
    """Per sample: (class, counts) and whether any spike hit a saturated count."""
    out, saturated = [], False
    for spikes in samples:
        counts = np.zeros(classes, dtype=int)
        for k in spikes:
            if counts[k] == top:
                saturated = True
            else:
                counts[k] += 1
        out.append((int(np.argmax(counts)), [int(c) for c in counts]))
    return out, saturated


def run_readout(samples, classes, count_bits, seed):
    """Push each sample's spikes then its ``SAMPLE`` marker; take results when a random
    ``ready`` allows. Returns the results (class, counts) and the final error flag."""
    dut = Readout(classes, count_bits)
    rng = np.random.default_rng(seed)
    events = []
    for spikes in samples:
        events += [(EventKind.SPIKE, int(k)) for k in spikes] + [(EventKind.SAMPLE, 0)]
    out = {"results": []}

    async def testbench(ctx):
        position = 0
        for _ in range(20 * len(events) + 100):
            if position == len(events) and len(out["results"]) == len(samples):
                break
            offering = position < len(events) and rng.random() < 0.9
            if offering:
                kind, addr = events[position]
                ctx.set(dut.i.payload, {"kind": kind, "addr": addr})
            ctx.set(dut.i.valid, offering)
            ready = rng.random() < 0.5
            ctx.set(dut.result.ready, ready)
            if offering and ctx.get(dut.i.ready):
                position += 1
            if ready and ctx.get(dut.result.valid):
                r = ctx.get(dut.result.payload)
                out["results"].append((r.cls, list(r.counts)))
            await ctx.tick()
        out["error"] = ctx.get(dut.error)

    run(dut, testbench)
    return out


@pytest.mark.parametrize("classes, count_bits, seed", [(10, 3, 0), (10, 5, 1), (5, 2, 2),
                                                        (8, 3, 3), (1, 2, 4), (2, 1, 5)])
def test_readout_counts_and_arg_max_match_a_python_count(classes, count_bits, seed):
    rng = np.random.default_rng(100 + seed)
    top = (1 << count_bits) - 1
    samples = []
    for _ in range(12):
        # few classes per sample and skewed draws: many ties, and counts at the top
        hot = rng.choice(classes, size=min(classes, int(rng.integers(1, 4))), replace=False)
        samples.append(rng.choice(hot, size=int(rng.integers(0, 3 * top + 4))))
    samples.append(np.array([], dtype=int))            # a sample without spikes: class 0
    expected, saturated = reference(samples, classes, top)
    got = run_readout(samples, classes, count_bits, seed)
    assert got["results"] == expected
    assert got["error"] == saturated


def test_saturation_is_exercised():
    # the cases above reach a saturated count (the error path) and a tie at the top
    samples = [np.array([1, 1, 1, 1, 0, 0, 0, 0])]
    expected, saturated = reference(samples, 10, 3)
    assert saturated and expected == [(0, [3, 3] + [0] * 8)]
    got = run_readout(samples, 10, 2, 7)
    assert got["results"] == expected and got["error"] == 1
