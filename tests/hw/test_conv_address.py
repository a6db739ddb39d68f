"""ConvAddressGenerator in the Amaranth simulator against ``Conv2dGeometry.reached`` of
model/conv.py (itself tested against torch and a brute-force search): every input position of
many geometries, under random back-pressure and random gaps, and its timing contract."""

import random
import re

import pytest

from spikefab.hw.conv_address import MAX_TABLE_SIDE, ConvAddressGenerator, axis_table
from spikefab.hw.elaboration import never_elaborated
from spikefab.hw.verilog import convert
from spikefab.model.conv import Conv2dGeometry

from .simulate import run


def random_geometries(count, seed):
    """Geometries with kernel 1..5, stride 1..4 (also above the kernel), padding 0..k-1,
    maps 1..12 per side, not square."""
    rng = random.Random(seed)
    found = []
    while len(found) < count:
        kernel = (rng.randint(1, 5), rng.randint(1, 5))
        stride = (rng.randint(1, 4), rng.randint(1, 4))
        padding = tuple(rng.randint(0, k - 1) for k in kernel)
        side = tuple(rng.randint(1, 12) for _ in range(2))
        if any(s + 2 * p < k for s, p, k in zip(side, padding, kernel)):
            continue
        found.append(Conv2dGeometry(1, *side, 1, kernel, stride, padding))
    return found


CORNERS = [
    Conv2dGeometry(1, 1, 1, 1, 1, 1, 0),                  # one pixel, kernel 1
    Conv2dGeometry(1, 4, 5, 1, 1, 1, 0),                  # kernel 1: one output each
    Conv2dGeometry(1, 6, 6, 1, 3, 1, 1),                  # 'same' 3x3
    Conv2dGeometry(1, 12, 12, 1, 5, 1, 4),                # padding k-1: the widest reach
    Conv2dGeometry(1, 7, 9, 1, 2, 3, 0),                  # stride > kernel: gaps, empties
    Conv2dGeometry(1, 9, 8, 1, (1, 2), (4, 3), (0, 1)),   # stride > kernel on both axes
    Conv2dGeometry(1, 8, 8, 1, 2, 2, 0),                  # sum pool 2x2
    Conv2dGeometry(1, 7, 7, 1, 2, 2, 0),                  # pool with a row/column beyond it
    Conv2dGeometry(1, 5, 12, 1, (3, 5), (2, 1), (2, 0)),  # non-square everything
    Conv2dGeometry(1, 1, 12, 1, (1, 4), (1, 2), (0, 3)),  # one row
    Conv2dGeometry(1, 3, 3, 1, 5, 4, 4),                  # kernel larger than the map
]
GEOMETRIES = CORNERS + random_geometries(60, seed=22)


def label(geometry):
    g = geometry
    return (f"{g.height}x{g.width}-k{g.kernel[0]}{g.kernel[1]}-s{g.stride[0]}{g.stride[1]}"
            f"-p{g.padding[0]}{g.padding[1]}")


def expected_walk(geometry, events, tag_bits):
    """The outputs ``(oy, ox, ky, kx, pos, tap, last, tag)`` of ``events`` ``(y, x, tag)``
    per model/conv.py (``pos = oy·W_out + ox``, ``tap = ky·kw + kx``), and the number of
    events that reach nothing."""
    outputs, empties = [], 0
    width, kw = geometry.out_width, geometry.kernel[1]
    for y, x, tag in events:
        reached = geometry.reached(y, x)
        empties += not reached
        outputs += [(oy, ox, ky, kx, oy * width + ox, ky * kw + kx,
                     int(n == len(reached) - 1), tag if tag_bits else 0)
                    for n, (oy, ox, ky, kx) in enumerate(reached)]
    return outputs, empties


def simulate(dut, events, *, offer, take, extra=8):
    """Offer ``events`` ``(y, x, tag)`` in order (before each, ``offer()`` idle cycles with
    ``i.valid`` low), take outputs when ``take()`` is true; return the outputs taken, the
    number of ``empty`` strobes and the cycles (accepts, outputs)."""
    got, empties, accepted, produced = [], [0], [], []
    finished = [False]
    tagged = dut.tag_bits > 0

    async def producer(ctx):
        cycle = 0
        for y, x, tag in events:
            for _ in range(offer()):
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
                cycle += 1
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, {"y": y, "x": x, **({"tag": tag} if tagged else {})})
            while True:
                *_, ready = await ctx.tick().sample(dut.i.ready)
                cycle += 1
                if ready:
                    accepted.append(cycle - 1)
                    break
        ctx.set(dut.i.valid, 0)
        finished[0] = True

    async def consumer(ctx):
        cycle, idle = 0, 0
        while idle < extra:
            ready = take()
            ctx.set(dut.o.ready, ready)
            *_, valid, payload, empty = await ctx.tick().sample(dut.o.valid, dut.o.payload,
                                                                  dut.empty)
            empties[0] += empty
            if valid and ready:
                got.append((payload.oy, payload.ox, payload.ky, payload.kx, payload.pos,
                            payload.tap, payload.last, payload.tag if tagged else 0))
                produced.append(cycle)
            idle = idle + 1 if finished[0] and not valid else 0
            cycle += 1

    run(dut, producer, consumer)
    return got, empties[0], accepted, produced


def all_positions(geometry, rng, tag_bits):
    events = [(y, x, rng.randrange(1 << tag_bits) if tag_bits else 0)
              for y in range(geometry.height) for x in range(geometry.width)]
    # Raster order, then the same positions shuffled (borders next to centres).
    shuffled = events[:]
    rng.shuffle(shuffled)
    return events + shuffled


@pytest.mark.parametrize("geometry", GEOMETRIES, ids=label)
def test_every_position_walks_exactly_the_reached_outputs(geometry):
    rng = random.Random(label(geometry))
    tag_bits = rng.choice([0, 3])
    dut = ConvAddressGenerator(geometry, tag_bits=tag_bits)
    events = all_positions(geometry, rng, tag_bits)
    got, empties, _, _ = simulate(dut, events,
                                  offer=lambda: rng.choice([0, 0, 0, 1, 2]),
                                  take=lambda: rng.random() < 0.7)
    expected, expected_empties = expected_walk(geometry, events, tag_bits)
    assert got == expected
    assert empties == expected_empties


@pytest.mark.parametrize("geometry", [CORNERS[3], CORNERS[4], CORNERS[8]], ids=label)
def test_back_to_back_at_one_output_per_cycle(geometry):
    """Always valid, always ready: the first output of an event comes the cycle after it is
    accepted, the next event is accepted with the previous one's last output, and outputs
    follow each other without a gap except one cycle per event that reaches nothing."""
    events = [(y, x, 0) for y in range(geometry.height) for x in range(geometry.width)]
    dut = ConvAddressGenerator(geometry)
    got, empties, accepted, produced = simulate(dut, events, offer=lambda: 0,
                                                take=lambda: True)
    expected, expected_empties = expected_walk(geometry, events, 0)
    assert got == expected and empties == expected_empties
    assert accepted[0] == 0 and produced[0] == 1
    # Outputs fill every cycle but one per empty event before the last reaching one.
    reaching = [n for n, (y, x, _tag) in enumerate(events) if geometry.reached(y, x)]
    gaps = sum(1 for y, x, _tag in events[:reaching[-1]] if not geometry.reached(y, x))
    assert produced[-1] == len(expected) + gaps
    # Each event's first output is the cycle after its acceptance; each next event is
    # accepted in the cycle of the previous event's last output (or, after an empty event,
    # the cycle right after).
    n = 0
    for number, (y, x, _tag) in enumerate(events):
        reached = len(geometry.reached(y, x))
        if reached:
            assert produced[n] == accepted[number] + 1
            n += reached
            if number + 1 < len(events):
                assert accepted[number + 1] == produced[n - 1]
        elif number + 1 < len(events):
            assert accepted[number + 1] == accepted[number] + 1


def test_holds_output_under_back_pressure():
    geometry = Conv2dGeometry(1, 4, 4, 1, 3, 1, 1)
    dut = ConvAddressGenerator(geometry)
    seen = []

    async def testbench(ctx):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, {"y": 1, "x": 1})
        await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(5):          # not ready: the first output waits, unchanged
            assert ctx.get(dut.o.valid) and not ctx.get(dut.i.ready)
            seen.append(tuple(ctx.get(dut.o.payload)[f] for f in ("oy", "ox", "ky", "kx")))
            await ctx.tick()
        ctx.set(dut.o.ready, 1)
        await ctx.tick()
        assert (ctx.get(dut.o.payload.oy), ctx.get(dut.o.payload.ox)) == (0, 1)

    run(dut, testbench)
    assert seen == [(0, 0, 2, 2)] * 5


def test_positions_outside_the_map_reach_nothing():
    geometry = Conv2dGeometry(1, 5, 3, 1, 3, 1, 1)     # y and x have codes 5..7 and 3
    dut = ConvAddressGenerator(geometry)
    events = [(y, x, 0) for y in range(8) for x in range(4)
              if y >= geometry.height or x >= geometry.width]
    got, empties, _, _ = simulate(dut, events, offer=lambda: 0, take=lambda: True)
    assert got == [] and empties == len(events)


@pytest.mark.parametrize("geometry", GEOMETRIES[:12], ids=label)
def test_axis_tables_agree_with_reached_range(geometry):
    g = geometry
    rows = axis_table(g.height, g.kernel[0], g.stride[0], g.padding[0], g.out_height)
    columns = axis_table(g.width, g.kernel[1], g.stride[1], g.padding[1], g.out_width)
    for y in range(g.height):
        for x in range(g.width):
            oy_lo, oy_hi, ox_lo, ox_hi = g.reached_range(y, x)
            reached = g.reached(y, x)
            assert (rows[y] is None or columns[x] is None) == (not reached)
            if reached:
                assert rows[y][:2] == (oy_lo, oy_hi) and columns[x][:2] == (ox_lo, ox_hi)
                assert (rows[y][2], columns[x][2]) == reached[0][2:]


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(geometry=(3, 3)), TypeError, r"geometry must be a spikefab.model.conv.Conv2dGeometry"),
    (dict(geometry=Conv2dGeometry(1, MAX_TABLE_SIDE + 1, 4, 1)), ValueError,
     rf"height = {MAX_TABLE_SIDE + 1} is out of range; allowed range is \[1, {MAX_TABLE_SIDE}\]"),
    (dict(geometry=Conv2dGeometry(1, 4, 4, 1), tag_bits=33), ValueError,
     r"tag_bits = 33 is out of range; allowed range is \[0, 32\]"),
])
def test_parameters_are_validated(kwargs, error, message):
    with pytest.raises(error, match=message):
        ConvAddressGenerator(**kwargs)


def test_converts_to_verilog():
    dut = ConvAddressGenerator(Conv2dGeometry(1, 12, 10, 1, (3, 5), (2, 1), (1, 2)),
                               tag_bits=4)
    text = convert(dut, "conv_address", header="12x10, k 3x5, s 2x1, p 1x2")
    assert "module conv_address" in text
    header = text[text.index("module conv_address"):].split(";")[0]
    for port in ("i__valid", "i__ready", "i__payload", "o__valid", "o__ready", "o__payload",
                 "empty", "clk", "rst"):
        assert re.search(rf"\b{port}\b", header), port


def test_tables_built_without_elaboration():
    dut = ConvAddressGenerator(Conv2dGeometry(1, 7, 9, 1, 2, 3, 0))
    never_elaborated(dut)
    rows, columns = dut.tables()
    assert rows == [(0, 0, 0), (0, 0, 1), None, (1, 1, 0), (1, 1, 1), None, None]
    assert columns[:4] == [(0, 0, 0), (0, 0, 1), None, (1, 1, 0)]
