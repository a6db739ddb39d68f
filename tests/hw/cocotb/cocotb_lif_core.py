"""LIFCore instances on generated Verilog. The test plays the PE array (answering each
sweep request with that row's currents one cycle later) and checks every emitted spike and
marker against the golden model's spikes, with and without output back-pressure, and the
marker timing of the sweep contract."""

import random

import cocotb
from cocotb.triggers import FallingEdge, ReadOnly

from common import field, pack, start, vectors

STEP, SAMPLE, SPIKE = 1, 2, 0


@cocotb.test()
async def sweeps_match_golden(dut):
    v = vectors()
    await start(dut, [f"{name}__{port}" for name in v
                      for port in ("control__valid", "control__payload", "spikes__ready",
                                   "currents__payload")])
    for name, case in v.items():
        lanes, chunks, groups, acc, addr_w = (case["lanes"], case["chunks"], case["groups"],
                                              case["acc_bits"], case["addr_width"])
        row_w = case["row_width"]
        p = lambda suffix: getattr(dut, f"{name}__{suffix}")  # noqa: E731
        rng = random.Random(case["seed"])
        zero_row = [0] * lanes
        for sample_index, sample in enumerate(case["samples"]):
            ready_p = 1.0 if sample_index == 0 else 0.4
            commands = [(STEP, step) for step in sample] + [(SAMPLE, None)]
            for kind, step in commands:
                currents = step["currents"] if step else [zero_row] * chunks
                expected = step["spikes"] if step else []
                # Wait until idle, offer the command for one accepting cycle.
                while not int(p("control__ready").value):
                    await FallingEdge(dut.clk)
                p("control__payload").value = kind
                p("control__valid").value = 1
                accept = 0
                await FallingEdge(dut.clk)
                p("control__valid").value = 0
                cycle, pending, got, marker_at = 1, None, [], None
                while marker_at is None and cycle < 10_000:
                    # Answer last cycle's sweep request now (the PE array's 1-cycle latency).
                    if pending is not None:
                        p("currents__payload").value = pack(
                            [(c, acc) for c in currents[pending]])
                    ready = rng.random() < ready_p
                    p("spikes__ready").value = int(ready)
                    if ready and int(p("spikes__valid").value):
                        event = int(p("spikes__payload").value)
                        event_kind, addr = field(event, 0, 2), field(event, 2, addr_w)
                        if event_kind == SPIKE:
                            got.append(addr)
                        else:
                            assert event_kind == kind, name
                            marker_at = cycle
                    # The sweep request depends on this cycle's spikes.ready (the emitter
                    # draining): read it once the inputs have settled.
                    await ReadOnly()
                    pending = None
                    if int(p("sweep__valid").value):
                        # {row, group} -> chunk row * groups + group; a one-row, one-group
                        # core has no payload port (zero width).
                        payload = int(p("sweep__payload").value) if row_w or groups > 1 else 0
                        row, group = field(payload, 0, row_w), field(payload, row_w, 16)
                        pending = row * groups + group
                    await FallingEdge(dut.clk)
                    cycle += 1
                assert got == expected, (name, sample_index, kind, got, expected)
                if ready_p == 1.0:
                    want = step["marker"] if step else case["silent_marker"]
                    assert marker_at - accept == want, (name, marker_at - accept, want)
            p("spikes__ready").value = 0
        assert int(p("error").value) == 0, name
