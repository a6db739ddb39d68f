"""EventQueue in the Amaranth simulator against a Python FIFO model, cycle by cycle."""

import collections
import random
import re

import pytest

from spikefab.hw.event_queue import EventQueue
from spikefab.hw.events import EventKind
from spikefab.hw.verilog import convert

from .simulate import run

KINDS = [EventKind.SPIKE, EventKind.STEP, EventKind.SAMPLE]


def drive(dut, schedule, events, cycles):
    """Run ``cycles`` cycles. ``schedule(cycle)`` gives (push_valid, pop_ready); the producer
    offers ``events`` in order, holding each until it is taken (stream rules).

    Checks every cycle against a Python deque model: ready/valid, level, the head event,
    high-water mark; returns the (cycle, event) of every pop.
    """
    model = collections.deque()
    popped = []
    high = 0
    events = iter(events)
    offer = next(events)

    async def testbench(ctx):
        nonlocal high, offer
        for cycle in range(cycles):
            push, pop = schedule(cycle)
            ctx.set(dut.i.valid, push)
            ctx.set(dut.i.payload, {"kind": offer[0], "addr": offer[1]})
            ctx.set(dut.o.ready, pop)
            assert ctx.get(dut.level) == len(model), cycle
            room = ctx.get(dut.i.ready)
            assert room == (len(model) < dut.depth), cycle
            assert ctx.get(dut.o.valid) == (len(model) > 0), cycle
            assert ctx.get(dut.high_water) == high, cycle
            head = ctx.get(dut.o.payload)
            if pop and model:
                expected = model.popleft()
                assert (head.kind, head.addr) == expected, cycle
                popped.append((cycle, expected))
            if push and room:
                model.append(tuple(offer))
                offer = next(events, (EventKind.SPIKE, 0))
            high = max(high, ctx.get(dut.level))
            await ctx.tick()

    run(dut, testbench)
    return popped


def numbered_events(rng=None):
    n = 0
    while True:
        kind = rng.choice(KINDS) if rng else EventKind.SPIKE
        yield (kind, n % 128)
        n += 1


@pytest.mark.parametrize("depth", [2, 3, 5, 16])
@pytest.mark.parametrize("seed", range(3))
def test_random_traffic_never_drops_duplicates_or_reorders(depth, seed):
    rng = random.Random(seed * 100 + depth)
    dut = EventQueue(addr_bits=7, depth=depth)
    push_p, pop_p = rng.choice([(0.9, 0.3), (0.3, 0.9), (0.6, 0.6), (1.0, 1.0)])
    popped = drive(dut, lambda c: (rng.random() < push_p, rng.random() < pop_p),
                   numbered_events(rng), 600)
    # Events carry consecutive numbers (mod 128): in order, none lost, none repeated.
    assert len(popped) > 50
    assert [event[1] for _, event in popped] == [n % 128 for n in range(len(popped))]


def test_full_and_empty_with_simultaneous_push_and_pop():
    dut = EventQueue(addr_bits=5, depth=3)
    # Cycles 0-2 fill the queue; 3-22 the producer keeps offering event 3 against a full queue
    # (back-pressure held for 20 cycles); 23-29 push and pop together; then drain.
    def schedule(cycle):
        return cycle < 30, cycle >= 23

    popped = drive(dut, schedule, numbered_events(), 40)
    # 23: full, so only the pop happens (room is counted at the start of the cycle), level 2;
    # 24..29: a pop and a push every cycle (6 pushes, level stays 2); 30, 31 drain the rest.
    assert [cycle for cycle, _ in popped] == list(range(23, 32))
    assert [event[1] for _, event in popped] == list(range(9))


def test_push_to_pop_latency_is_one_cycle():
    dut = EventQueue(addr_bits=4, depth=4)
    popped = drive(dut, lambda c: (c == 5, True), iter([(EventKind.SAMPLE, 3)]), 10)
    assert popped == [(6, (EventKind.SAMPLE, 3))]


def test_clear_stats_resets_high_water():
    dut = EventQueue(addr_bits=4, depth=4)

    async def testbench(ctx):
        ctx.set(dut.i.valid, 1)
        for _ in range(3):
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        await ctx.tick()
        assert ctx.get(dut.high_water) == 3
        ctx.set(dut.o.ready, 1)
        await ctx.tick().repeat(3)
        ctx.set(dut.o.ready, 0)
        assert ctx.get(dut.level) == 0 and ctx.get(dut.high_water) == 3
        ctx.set(dut.clear_stats, 1)
        await ctx.tick()
        ctx.set(dut.clear_stats, 0)
        assert ctx.get(dut.high_water) == 0

    run(dut, testbench)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(addr_bits=4, depth=1), ValueError, r"depth = 1 is out of range; allowed range is \[2, 65536\]"),
    (dict(addr_bits=4, depth=1 << 17), ValueError, r"depth = 131072 .*\[2, 65536\]"),
    (dict(addr_bits=0, depth=4), ValueError, r"addr_bits = 0 is out of range; allowed range is \[1, 24\]"),
    (dict(addr_bits=4, depth=2.0), TypeError, r"depth must be an integer"),
])
def test_parameters_are_validated(kwargs, error, message):
    with pytest.raises(error, match=message):
        EventQueue(**kwargs)


def test_converts_to_verilog():
    text = convert(EventQueue(addr_bits=8, depth=16), "event_queue", header="depth 16")
    assert text.startswith("// depth 16\n")
    assert "module event_queue" in text
    header = text[text.index("module event_queue"):].split(";")[0]
    for port in ("i__valid", "i__ready", "i__payload", "o__valid", "o__ready", "o__payload",
                 "level", "high_water", "clear_stats", "clk", "rst"):
        assert re.search(rf"\b{port}\b", header), port
