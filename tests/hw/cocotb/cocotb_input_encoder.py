"""InputEncoder on its generated Verilog (one top, a rate and a latency instance): pixels in,
start, events out under random back-pressure, against the golden events and cycles computed
by the pytest side (``SPIKEFAB_VECTORS``)."""

import random

import cocotb
from cocotb.triggers import FallingEdge

from common import field, start, vectors


async def encode(dut, name, case, rng):
    port = lambda member: getattr(dut, f"{name}__{member}")        # noqa: E731
    for image, expected, cycles in zip(case["images"], case["events"], case["cycles"]):
        pending = list(image)
        while pending:
            valid = rng.random() < 0.7
            port("pixels__valid").value = int(valid)
            port("pixels__payload").value = pending[0]
            took = valid and int(port("pixels__ready").value)   # ready: registers and start
            await FallingEdge(dut.clk)
            if took:
                pending.pop(0)
        port("pixels__valid").value = 0
        port("start").value = 1
        await FallingEdge(dut.clk)
        port("start").value = 0
        events, cycle, stalls = [], 0, 0
        while not events or events[-1][0] != 2:
            cycle += 1
            assert int(port("busy").value) == 1
            ready = rng.random() < case["ready_p"]
            port("o__ready").value = int(ready)
            valid = int(port("o__valid").value)   # does not depend on ready
            if valid and ready:
                payload = int(port("o__payload").value)
                events.append([field(payload, 0, 2), field(payload, 2, case["addr_bits"])])
            stalls += valid and not ready
            await FallingEdge(dut.clk)
            assert cycle < 100_000
        port("o__ready").value = 0
        assert events == expected
        assert cycle == cycles + stalls
        assert int(port("busy").value) == 0


@cocotb.test()
async def events_and_cycles_against_the_models(dut):
    v = vectors()
    inputs = [f"{name}__{member}" for name in v for member in
              ("pixels__valid", "pixels__payload", "start", "o__ready")]
    await start(dut, inputs)
    for name, case in v.items():
        await encode(dut, name, case, random.Random(case["seed"]))
