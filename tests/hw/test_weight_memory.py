"""WeightMemory in the Amaranth simulator: every column of random matrices, in every format,
against words derived here from the weight matrix alone (docs/design.md §3), cycle by cycle."""

import random
import zlib

import numpy as np
import pytest

from spikefab.hw.verilog import convert
from spikefab.hw.weight_memory import LoadTarget, WeightMemory
from spikefab.model import FORMATS, Layer, compile_weights

from .simulate import run


def expected_words(weights, j, lanes, fmt):
    """The words of column ``j``: a list of ``lanes`` entries (index, weight) or None."""
    n = weights.shape[0]
    rows = -(-n // lanes)
    if fmt == "dense":
        return [[(r, int(weights[r * lanes + p, j])) if r * lanes + p < n else None
                 for p in range(lanes)] for r in range(rows)]
    per_lane = [[(r, int(weights[r * lanes + p, j])) for r in range(rows)
                 if r * lanes + p < n and weights[r * lanes + p, j] != 0] for p in range(lanes)]
    length = max(len(entries) for entries in per_lane)
    if length == 0:
        return [[None] * lanes]                                 # one empty word
    return [[per_lane[p][k] if k < len(per_lane[p]) else None for p in range(lanes)]
            for k in range(length)]


def random_layer(rng, n, fan_in, w_bits, density):
    lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
    weights = rng.integers(lo, hi + 1, size=(n, fan_in))
    weights[rng.random(weights.shape) >= density] = 0
    weights[:, 0] = 0                                           # an empty column
    if fan_in > 2:
        weights[:, 1] = rng.integers(1, hi + 1, size=n)        # a full column
    return Layer(weights, theta=1, w_bits=w_bits, v_bits=max(w_bits + 1, 4))


def stream_columns(dut, requests, valid_p, rng, max_cycles=5000):
    """Offer ``requests`` [(column, gate)] in order (valid with probability ``valid_p``);
    return the accept cycles and the output words [(cycle, last, lanes)]."""
    accepts, words = [], []

    async def testbench(ctx):
        index = 0
        for cycle in range(max_cycles):
            offering = index < len(requests) and rng.random() < valid_p
            if index < len(requests):
                column, gate = requests[index]
                ctx.set(dut.columns.payload, {"addr": column, "gate": gate})
            ctx.set(dut.columns.valid, offering)
            if offering and ctx.get(dut.columns.ready):
                accepts.append(cycle)
                index += 1
            if ctx.get(dut.words.valid):
                word = ctx.get(dut.words.payload)
                lanes = [(lane.index, lane.weight) if lane.valid else None
                         for lane in word.lanes]
                words.append((cycle, word.last, lanes))
            await ctx.tick()
            if index == len(requests) and cycle > (accepts[-1] if accepts else 0) + 300:
                break

    run(dut, testbench)
    return accepts, words


def check_stream(layer, lanes, fmt, requests, accepts, words, back_to_back):
    assert len(accepts) == len(requests)
    position = 0
    for (column, gate), start in zip(requests, accepts):
        expected = expected_words(layer.weights, column, lanes, fmt)
        for k, lanes_expected in enumerate(expected):
            cycle, last, got = words[position]
            assert cycle == start + 2 + k, (column, k)
            assert last == (k == len(expected) - 1)
            assert got == (lanes_expected if gate else [None] * lanes), (column, k)
            position += 1
    assert position == len(words)
    if back_to_back:   # ready rises with the last word: columns cost max(1, L) cycles each
        image = compile_weights(layer, lanes, fmt)
        costs = [max(1, int(image.column_words[c])) for c, _ in requests]
        assert np.diff(accepts).tolist() == costs[:-1]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("lanes", [1, 2, 4, 8])
@pytest.mark.parametrize("w_bits", [2, 4, 8])
def test_every_column_every_format(fmt, lanes, w_bits):
    seed = zlib.crc32(f"{fmt}{lanes}{w_bits}".encode())
    rng = np.random.default_rng(seed)
    n = int(rng.integers(lanes, 3 * lanes + 5))
    fan_in = int(rng.integers(3, 12))
    layer = random_layer(rng, n, fan_in, w_bits, density=float(rng.choice([0.1, 0.4, 0.9])))
    image = compile_weights(layer, lanes, fmt)
    py = random.Random(seed)
    # Every column once, back to back, then a random mix with gaps and gated columns.
    requests = [(j, 1) for j in range(fan_in)]
    accepts, words = stream_columns(WeightMemory(image), requests, 1.0, py)
    check_stream(layer, lanes, fmt, requests, accepts, words, back_to_back=True)
    requests = [(py.randrange(fan_in), py.random() < 0.8) for _ in range(3 * fan_in)]
    accepts, words = stream_columns(WeightMemory(image), requests, 0.6, py)
    check_stream(layer, lanes, fmt, requests, accepts, words, back_to_back=False)


def test_empty_columns_cost_one_cycle_and_full_words_use_every_lane():
    weights = np.zeros((8, 4), dtype=int)
    weights[:, 2] = np.arange(1, 9)              # column 2: every lane valid, 2 words at P = 4
    layer = Layer(weights, theta=1, w_bits=5, v_bits=6)
    image = compile_weights(layer, 4, "csc")
    requests = [(0, 1), (1, 1), (2, 1), (3, 1), (2, 1)]
    accepts, words = stream_columns(WeightMemory(image), requests, 1.0, random.Random(0))
    assert np.diff(accepts).tolist() == [1, 1, 2, 1]
    assert [w[2] for w in words if w[2] != [None] * 4] == [
        [(0, 1), (0, 2), (0, 3), (0, 4)], [(1, 5), (1, 6), (1, 7), (1, 8)]] * 2
    check_stream(layer, 4, "csc", requests, accepts, words, back_to_back=True)


@pytest.mark.parametrize("fmt, runtime", [("csc", False), ("bitmap", False), ("csc", True),
                                          ("bitmap", True), ("dense", True)])
def test_run_time_load_replaces_the_network(fmt, runtime):
    # runtime=True: the single-port store without initial contents (SPRAM-mappable) streams
    # only what was loaded.
    rng = np.random.default_rng(7)
    first = random_layer(rng, 6, 5, 4, 0.3)
    second = random_layer(rng, 6, 5, 4, 0.9)
    fixed = dict(start_bits=6, length_bits=3) if fmt != "dense" else {}
    image = compile_weights(first, 2, fmt, **fixed)
    new = compile_weights(second, 2, fmt, **fixed)
    dut = WeightMemory(image, capacity=64 if fmt != "dense" else None, runtime=runtime)
    dut.check_image(new)
    targets = {"pointers": LoadTarget.POINTERS, "bitmaps": LoadTarget.BITMAPS,
               "weights": LoadTarget.WEIGHTS}
    requests = [(j, 1) for j in range(5)]
    accepts, words = [], []

    async def testbench(ctx):
        for name, memory in new.memories.items():
            for addr, word in enumerate(memory.words):
                ctx.set(dut.load.payload, {"target": targets[name], "addr": addr, "data": word})
                ctx.set(dut.load.valid, 1)
                await ctx.tick()
        ctx.set(dut.load.valid, 0)
        index = 0
        for cycle in range(200):
            if index < len(requests):
                ctx.set(dut.columns.payload, {"addr": requests[index][0], "gate": 1})
            ctx.set(dut.columns.valid, index < len(requests))
            if index < len(requests) and ctx.get(dut.columns.ready):
                accepts.append(cycle)
                index += 1
            if ctx.get(dut.words.valid):
                word = ctx.get(dut.words.payload)
                words.append((cycle, word.last, [(lane.index, lane.weight) if lane.valid
                                                 else None for lane in word.lanes]))
            await ctx.tick()

    run(dut, testbench)
    check_stream(second, 2, fmt, requests, accepts, words, back_to_back=True)


def test_parameters_are_validated():
    layer = Layer(np.eye(4, dtype=int), theta=1, w_bits=2, v_bits=4)
    with pytest.raises(TypeError, match="image must be a spikefab.model.WeightImage"):
        WeightMemory(layer)
    image = compile_weights(layer, 2, "csc")
    # 4 one-word columns: starts 0..3 need start_bits = 2; rows = 2 -> at most 3 + 2 words
    with pytest.raises(ValueError, match=r"capacity = 6 is out of range; allowed range is \[4, 5\]"):
        WeightMemory(image, capacity=6)
    with pytest.raises(ValueError, match=r"capacity = 3 is out of range for format dense"):
        WeightMemory(compile_weights(layer, 2, "dense"), capacity=3)
    other = compile_weights(layer, 4, "csc")
    dut = WeightMemory(image)
    with pytest.raises(ValueError, match=r"image lanes = 4 does not match the hardware's lanes = 2"):
        dut.check_image(other)
    convert(dut, "weight_memory")          # still a usable generator


@pytest.mark.parametrize("fmt", FORMATS)
def test_converts_to_verilog(fmt):
    layer = random_layer(np.random.default_rng(1), 10, 6, 4, 0.5)
    text = convert(WeightMemory(compile_weights(layer, 4, fmt)), "weight_memory")
    assert "module weight_memory" in text
    assert "words__payload" in text and "columns__ready" in text
