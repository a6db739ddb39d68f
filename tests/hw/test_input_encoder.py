"""InputEncoder in the Amaranth simulator: its event stream equals the golden encoders'
(``encode_rate`` / ``encode_latency`` through ``event_stream``; ``encode_direct``'s non-zero
values as events that carry them) and its cycles equal
``encoder_cycles``, with and without back-pressure; the GF(2) jump-ahead against the
generator itself; its Verilog under Verilator."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from spikefab.hw.input_encoder import InputEncoder, xorshift_rows
from spikefab.hw.verilog import convert
from spikefab.model.encoders import (RATE_SEED, encode_direct, encode_latency, encode_rate,
                                     encoder_cycles, xorshift32)
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream

from .simulate import run

GOLDEN = {"rate": encode_rate, "latency": encode_latency}


def golden_events(kind, x, steps, x_bits, seed=RATE_SEED):
    if kind == "direct":        # encode_direct's values: the non-zero ones, with their value
        values = encode_direct(x, steps, x_bits=x_bits)
        events = []
        for step in values:
            events += [(SPIKE, int(j), int(step[j])) for j in np.flatnonzero(step)]
            events.append((STEP, 0))
        return events + [(SAMPLE, 0)]
    options = {"seed": seed} if kind == "rate" else {}
    return event_stream(GOLDEN[kind](x, steps, x_bits=x_bits, **options))


def drive(dut, images, *, pixel_p=1.0, ready_p=1.0, rng=None, start_gap=0):
    """Write each image's pixels through ``pixels`` (valid with probability ``pixel_p``),
    take ``start``, and collect the events with ``o.ready`` high with probability
    ``ready_p``. Returns per image ``(events, cycles, stalls)``: the pushed events, the
    cycles from the taken start to the SAMPLE push, and the cycles in between with
    ``o.valid`` high and ``o.ready`` low."""
    rng = rng or random.Random(0)
    results = []

    async def testbench(ctx):
        for image in images:
            pending = [int(v) for v in image]
            while pending:                              # pixels, with gaps
                valid = rng.random() < pixel_p
                ctx.set(dut.pixels.valid, valid)
                ctx.set(dut.pixels.payload, pending[0])
                assert not ctx.get(dut.busy)
                if valid and ctx.get(dut.pixels.ready):
                    pending.pop(0)
                await ctx.tick()
            ctx.set(dut.pixels.valid, 0)
            assert not ctx.get(dut.pixels.ready)        # all N0 taken: no more until start
            for _ in range(start_gap):
                await ctx.tick()
            ctx.set(dut.start, 1)
            assert not ctx.get(dut.busy) and not ctx.get(dut.o.valid)
            await ctx.tick()
            ctx.set(dut.start, 0)
            events, cycle, stalls = [], 0, 0
            while True:
                cycle += 1
                assert ctx.get(dut.busy)
                ready = rng.random() < ready_p
                ctx.set(dut.o.ready, ready)
                valid = ctx.get(dut.o.valid)
                if valid and ready:
                    payload = ctx.get(dut.o.payload)
                    event = (payload.kind.value, payload.addr)
                    if dut.kind == "direct" and event[0] == SPIKE:
                        event += (payload.value,)
                    else:
                        assert dut.kind != "direct" or payload.value == 0
                    events.append(event)
                stalls += valid and not ready
                await ctx.tick()
                if events and events[-1][0] == SAMPLE:
                    break
                assert cycle < 100_000
            ctx.set(dut.o.ready, 0)
            assert not ctx.get(dut.busy)               # idle the cycle after SAMPLE
            results.append((events, cycle, stalls))

    run(dut, testbench)
    return results


def check(kind, inputs, steps, x_bits, scan, images, **options):
    dut = InputEncoder(inputs, steps, x_bits=x_bits, kind=kind, scan=scan)
    for image, (events, cycles, stalls) in zip(images, drive(dut, images, **options)):
        assert events == golden_events(kind, image, steps, x_bits)
        assert cycles == encoder_cycles(image, steps, kind=kind, scan=scan,
                                        x_bits=x_bits) + stalls
    return dut


CASES = [  # kind, N0, T, x_bits, k
    ("rate", 1, 3, 8, 1), ("rate", 13, 4, 8, 1), ("rate", 13, 4, 8, 4), ("rate", 20, 3, 5, 8),
    ("rate", 9, 5, 16, 3), ("rate", 7, 2, 1, 8), ("rate", 33, 2, 8, 32),
    ("latency", 1, 3, 8, 1), ("latency", 13, 4, 8, 1), ("latency", 13, 6, 8, 4),
    ("latency", 20, 7, 4, 8), ("latency", 9, 5, 16, 3), ("latency", 7, 9, 2, 8),
    ("latency", 33, 1, 8, 32),
    ("direct", 1, 3, 8, 1), ("direct", 13, 4, 8, 4), ("direct", 20, 7, 5, 8),
    ("direct", 9, 1, 16, 3), ("direct", 33, 2, 8, 32), ("direct", 7, 3, 1, 8),
]


def random_images(rng, inputs, x_bits, count=2):
    x_max = (1 << x_bits) - 1
    images = [rng.integers(0, x_max + 1, size=inputs)]
    sparse = rng.integers(0, x_max + 1, size=inputs) * (rng.random(inputs) < 0.3)
    return (images + [sparse, np.full(inputs, x_max)])[:count + 1]


@pytest.mark.parametrize("kind, inputs, steps, x_bits, scan", CASES)
def test_events_and_cycles_equal_the_models(kind, inputs, steps, x_bits, scan):
    """Three images back to back (random, 70 % zeros, all x_max): the generator is reseeded
    and the pixel count restarts for each; the output is always ready."""
    rng = np.random.default_rng(inputs * 100 + steps * 10 + scan)
    check(kind, inputs, steps, x_bits, scan, random_images(rng, inputs, x_bits))


@pytest.mark.parametrize("kind", ["rate", "latency", "direct"])
@pytest.mark.parametrize("scan", [1, 3, 8])
def test_backpressure_loses_and_repeats_nothing(kind, scan):
    """Random ready (30 % and 70 %), pixels with gaps: the same events, and every stalled
    cycle costs exactly one cycle."""
    rng = np.random.default_rng(scan)
    images = random_images(rng, 19, 8, count=1)
    for ready_p in (0.3, 0.7):
        check(kind, 19, 5, 8, scan, images, pixel_p=0.6, ready_p=ready_p,
              rng=random.Random(scan), start_gap=2)


def test_mnist_sized_image_at_eight_lanes():
    """N0 = 784, T = 25, k = 8 on a digit-like image (a bright blob on zeros)."""
    yy, xx = np.mgrid[:28, :28]
    image = np.clip(300 - 12 * ((yy - 14) ** 2 + (xx - 13) ** 2) // 4, 0, 255).ravel()
    for kind in ("rate", "latency", "direct"):
        check(kind, 784, 25, 8, 8, [image])


def test_hand_timeline():
    """Latency, N0 = 4, T = 2, k = 2, x = [255, 255, 0, 128]: step 0 fires inputs 0, 1, 3.
    Cycle 1: group 0 on the memory's output; 2: its mask registered, it pushes 0; 3: pushes
    1; 4: group 1 pushes 3; 5: STEP; 6, 7: the empty groups of step 1; 8: STEP; 9: SAMPLE."""
    dut = InputEncoder(4, 2, kind="latency", scan=2)
    [(events, cycles, stalls)] = drive(dut, [[255, 255, 0, 128]])
    assert events == [(0, 0), (0, 1), (0, 3), (1, 0), (1, 0), (2, 0)]
    assert cycles == 9 == encoder_cycles([255, 255, 0, 128], 2, kind="latency", scan=2)


@pytest.mark.parametrize("n", [0, 1, 2, 5, 17, 32])
def test_jump_ahead_rows_equal_the_generator(n):
    rng = np.random.default_rng(n)
    for state in rng.integers(1, 1 << 32, size=20, dtype=np.int64):
        state = int(state)
        expected = state
        for _ in range(n):
            expected = xorshift32(expected)
        rows = xorshift_rows(n)
        got = sum((bin(state & rows[i]).count("1") & 1) << i for i in range(32))
        assert got == expected


@pytest.mark.parametrize("name, value, message", [
    ("inputs", 0, r"inputs = 0 is out of range; allowed range is \[1, 65536\]"),
    ("steps", 70000, r"steps = 70000 is out of range; allowed range is \[1, 65536\]"),
    ("x_bits", 17, r"x_bits = 17 is out of range; allowed range is \[1, 16\]"),
    ("scan", 33, r"scan = 33 is out of range; allowed range is \[1, 32\]"),
    ("kind", "spikes", r"kind = 'spikes' is not allowed; choose one of rate, latency, direct"),
    ("seed", 0, r"seed = 0 is out of range"),
])
def test_bad_parameters_name_the_range(name, value, message):
    params = {"inputs": 8, "steps": 4} | {name: value}
    with pytest.raises(ValueError, match=message):
        InputEncoder(params.pop("inputs"), params.pop("steps"), **params)


def test_encoder_cycles_refuses_other_kinds():
    with pytest.raises(ValueError, match="kind = 'spikes' is not allowed"):
        encoder_cycles([1, 2], 3, kind="spikes")
    with pytest.raises(ValueError, match=r"scan = 0 is out of range; allowed range is \[1, 32\]"):
        encoder_cycles([1, 2], 3, scan=0)


def test_verilog_converts():
    for kind in ("rate", "latency", "direct"):
        text = convert(InputEncoder(30, 4, kind=kind, scan=4), "input_encoder")
        assert "module input_encoder" in text and "o__payload" in text


@pytest.mark.slow
def test_verilog_under_verilator(tmp_path):
    """A rate (k = 4) and a latency (k = 3) instance in one Verilator build: random pixel
    gaps and 60 % ready, two images each; events and cycles as in the simulator tests."""
    from spikefab.toolchain.cocotb_runner import run_cocotb

    from .sweep_top import SweepTop

    rng = np.random.default_rng(23)
    blocks, vectors = {}, {}
    for name, kind, inputs, steps, scan in [("rate", "rate", 23, 4, 4),
                                            ("latency", "latency", 17, 6, 3)]:
        blocks[name] = InputEncoder(inputs, steps, kind=kind, scan=scan)
        images = random_images(rng, inputs, 8, count=1)
        vectors[name] = {
            "images": [image.tolist() for image in images],
            "events": [golden_events(kind, image, steps, 8) for image in images],
            "cycles": [encoder_cycles(image, steps, kind=kind, scan=scan) for image in images],
            "ready_p": 0.6, "seed": inputs, "addr_bits": blocks[name].layout.addr_bits}
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vectors, default=int))
    assert run_cocotb(verilog=convert(SweepTop(blocks), "encoders"), toplevel="encoders",
                      test_module="cocotb_input_encoder", build_dir=tmp_path,
                      python_paths=[Path(__file__).parent / "cocotb"],
                      extra_env={"SPIKEFAB_VECTORS": str(path)}) == 1
