"""EventQueue on its generated Verilog: random push/pop against a Python deque, every cycle."""

import collections
import random

import cocotb
from cocotb.triggers import FallingEdge

from common import field, start, vectors


@cocotb.test()
async def random_traffic_against_deque(dut):
    v = vectors()
    depth, addr_bits = v["depth"], v["addr_bits"]
    await start(dut, ["i__valid", "i__payload", "o__ready", "clear_stats"])
    rng = random.Random(v["seed"])
    model = collections.deque()
    popped, n = 0, 0
    high = 0
    for phase_push, phase_pop in [(0.9, 0.2), (0.2, 0.9), (1.0, 1.0), (0.6, 0.5), (1.0, 0.0),
                                  (0.0, 1.0)]:
        for _ in range(150):
            level = int(dut.level.value)
            assert level == len(model)
            room = int(dut.i__ready.value)
            assert room == (len(model) < depth)
            assert int(dut.o__valid.value) == (len(model) > 0)
            assert int(dut.high_water.value) == high
            high = max(high, level)          # the mark takes this cycle's level at the edge
            push = rng.random() < phase_push
            pop = rng.random() < phase_pop
            event = (n % 3, n % (1 << addr_bits))
            dut.i__valid.value = int(push)
            dut.i__payload.value = event[0] | event[1] << 2
            dut.o__ready.value = int(pop)
            if pop and model:
                head = int(dut.o__payload.value)
                assert (field(head, 0, 2), field(head, 2, addr_bits)) == model.popleft()
                popped += 1
            if push and room:
                model.append(event)
                n += 1
            await FallingEdge(dut.clk)
    assert popped > 150 and n == popped + len(model)
