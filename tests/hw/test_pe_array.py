"""PEArray in the Amaranth simulator against a Python accumulation of the same words."""

import random

import pytest

from spikefab.hw.pe_array import REGISTER_ROWS, PEArray, accumulator_bits
from spikefab.hw.verilog import convert

from .simulate import run


def drive(dut, steps):
    """``steps``: list of (words, gap) where words is a list of per-lane (valid, index, weight)
    lists. After each step's words and ``gap`` idle cycles, sweep every row. Returns the
    currents of every sweep, checked against the Python model, and the sweep latencies."""
    lanes, rows, width, groups = dut.lanes, dut.rows, dut.sweep_lanes, dut.groups
    results = []

    async def testbench(ctx):
        for words, gap in steps:
            model = [[0] * rows for _ in range(lanes)]
            for word in words:
                ctx.set(dut.words.valid, 1)
                for p, (valid, index, weight) in enumerate(word):
                    ctx.set(dut.words.payload.lanes[p],
                            {"valid": valid, "index": index, "weight": weight})
                    if valid:
                        model[p][index] += weight
                await ctx.tick()
            ctx.set(dut.words.valid, 0)
            if gap:
                await ctx.tick().repeat(gap)
            swept = []
            requests = [(r, g) for r in range(rows) for g in range(groups)]
            for index in range(len(requests) + 1):
                ctx.set(dut.sweep.valid, index < len(requests))
                row, group = requests[index % len(requests)]
                ctx.set(dut.sweep.payload, {"row": row, "group": group})
                if index:
                    assert ctx.get(dut.currents.valid)
                    swept.append(list(ctx.get(dut.currents.payload)))
                else:
                    assert not ctx.get(dut.currents.valid)
                await ctx.tick()
            ctx.set(dut.sweep.valid, 0)
            assert swept == [[model[g * width + q][r] for q in range(width)]
                             for r, g in requests]
            results.append(swept)
        assert not ctx.get(dut.error)

    run(dut, testbench)
    return results


def random_words(rng, lanes, rows, w_bits, count, same_index_p):
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    words, last = [], [0] * lanes
    for _ in range(count):
        word = []
        for p in range(lanes):
            index = last[p] if rng.random() < same_index_p else rng.randrange(rows)
            last[p] = index
            word.append((rng.random() < 0.8, index, rng.randint(lo, hi)))
        words.append(word)
    return words


@pytest.mark.parametrize("lanes, sweep_lanes", [(1, 1), (2, 2), (4, 4), (8, 8), (4, 2),
                                                (8, 1), (6, 3), (16, 4)])
@pytest.mark.parametrize("w_bits", [2, 4, 8])
@pytest.mark.parametrize("rows", [1, 2, "random"])
def test_random_words_match_python_accumulation(lanes, sweep_lanes, w_bits, rows):
    rng = random.Random(lanes * 10 + w_bits + sweep_lanes * 1000)
    rows = rng.randint(3, 9) if rows == "random" else rows
    fan_in = 40
    dut = PEArray(lanes=lanes, rows=rows, w_bits=w_bits,
                  acc_bits=accumulator_bits(w_bits, fan_in), sweep_lanes=sweep_lanes)
    assert dut.storage == ("registers" if rows <= REGISTER_ROWS else "memory")
    steps = [(random_words(rng, lanes, rows, w_bits, rng.randint(0, fan_in), 0.5), 1)
             for _ in range(4)]
    results = drive(dut, steps)
    assert len(results) == 4          # and each sweep cleared its rows (next step starts at 0)


@pytest.mark.parametrize("rows", [2, 3])           # flip-flops and memory
def test_same_neuron_in_consecutive_words_is_forwarded(rows):
    dut = PEArray(lanes=2, rows=rows, w_bits=4, acc_bits=8)
    # Lane 0 hits index 1 in 5 consecutive words; lane 1 alternates 0, 0, 2 (or 1), 0, 0.
    other = rows - 1
    words = [[(1, 1, 7), (1, 0, -8)], [(1, 1, 7), (1, 0, -8)], [(1, 1, 7), (1, other, 5)],
             [(1, 1, 7), (1, 0, 3)], [(1, 1, -3), (1, 0, 3)]]
    (swept,) = drive(dut, [(words, 1)])
    expected = [[0, -10], [25, 0], [0, 5]] if rows == 3 else [[0, -10], [25, 5]]
    assert swept == expected


def test_extreme_sums_do_not_overflow():
    # 16 inputs of -8 and of +7 at w_bits 4: sums -128 and 112 need accumulator_bits = 8.
    assert accumulator_bits(4, 16) == 8
    dut = PEArray(lanes=2, rows=1, w_bits=4, acc_bits=accumulator_bits(4, 16))
    words = [[(1, 0, -8), (1, 0, 7)]] * 16
    (swept,) = drive(dut, [(words, 1)])
    assert swept == [[-128, 112]]


def test_sweep_right_after_the_last_word_sees_it():
    dut = PEArray(lanes=1, rows=2, w_bits=4, acc_bits=6)
    (swept,) = drive(dut, [([[(1, 0, 5)], [(1, 0, 6)]], 0)])   # gap 0: drain of 1 cycle
    assert swept == [[11], [0]]


def test_collision_sets_error():
    dut = PEArray(lanes=1, rows=2, w_bits=4, acc_bits=6)

    async def testbench(ctx):
        ctx.set(dut.words.valid, 1)
        ctx.set(dut.sweep.valid, 1)
        await ctx.tick()
        assert ctx.get(dut.error)

    run(dut, testbench)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lanes=0, rows=4, w_bits=4, acc_bits=8), r"lanes = 0 is out of range; allowed range is \[1, 256\]"),
    (dict(lanes=2, rows=0, w_bits=4, acc_bits=8), r"rows = 0 .*\[1, 65536\]"),
    (dict(lanes=2, rows=4, w_bits=1, acc_bits=8), r"w_bits = 1 .*\[2, 16\]"),
    (dict(lanes=2, rows=4, w_bits=8, acc_bits=7), r"acc_bits = 7 is out of range; allowed range is \[8, 48\]"),
    (dict(lanes=4, rows=4, w_bits=4, acc_bits=8, sweep_lanes=3), r"sweep_lanes = 3 must divide lanes = 4"),
    (dict(lanes=4, rows=4, w_bits=4, acc_bits=8, sweep_lanes=5), r"sweep_lanes = 5 .*\[1, 4\]"),
])
def test_parameters_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PEArray(**kwargs)


def test_converts_to_verilog():
    text = convert(PEArray(lanes=4, rows=8, w_bits=4, acc_bits=12), "pe_array")
    assert "module pe_array" in text and "currents__payload" in text
