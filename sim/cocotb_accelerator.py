"""cocotb side of :func:`spikefab.sim.cosim.run_accelerator` on the generated Verilog.

Reads the run description from the JSON file named by ``SPIKEFAB_RUN``, feeds the events
one per cycle whenever the accelerator takes them, takes every result at once, records every
tapped inter-layer event, and writes what it saw to ``SPIKEFAB_OUT``. Inputs are driven and
outputs sampled at the falling clock edge. For an accelerator built with early exit
(``drain`` in the run description) it runs until every event is in and ``idle`` is high, and
reads each result's ``steps``.

Every input port of the accelerator is driven (:data:`DRIVEN_INPUTS`), the run-time weight
``load`` port included: it is held idle (``load__valid = 0``) for the whole run. A port the
harness left alone would keep whatever the simulator starts it at: Z/X in Icarus, and under
Verilator's ``--x-initial unique`` with ``+verilator+rand+reset+2`` a random value for the
whole run; ``load`` writes a word of a layer's weight memory in every cycle it is valid (the
gate-level run of ``random_case(5, seed=7, max_neurons=20)`` with seed 12345 had a random
``load__valid = 1`` that rewrote layer 1's bitmap of input 1). A cocotb test cannot act before
the simulator's first evaluation, so the gate-level harness also puts registers with these
first values in front of the netlist's inputs
(:func:`spikefab.sim.gatesim.netlist.driver_wrapper`).
"""

import json
import os
import time

import cocotb
from cocotb.triggers import FallingEdge

from spikefab.sim.cocotb_support import start

#: The input ports :func:`start` drives to 0 at time 0: the event stream (until the first
#: event) and the run-time ``load`` port (idle for the whole run).
ZEROED_INPUTS = ("events__valid", "events__payload", "load__valid", "load__payload")
#: Every accelerator input port this harness drives, with the value it drives first: ``clk``
#: and ``rst`` (:func:`start`: reset held), ``results__ready`` (always 1) and
#: :data:`ZEROED_INPUTS`. The gate-level harness also gives these values to the registers
#: that drive the netlist's inputs from time 0
#: (:func:`spikefab.sim.gatesim.netlist.driver_wrapper`).
DRIVEN_INPUTS = {"clk": 0, "rst": 1, "results__ready": 1,
                 **{name: 0 for name in ZEROED_INPUTS}}


def _bits(value, offset, width):
    return (value >> offset) & ((1 << width) - 1)


@cocotb.test()
async def run(dut):
    spec = json.loads(open(os.environ["SPIKEFAB_RUN"]).read())
    events, batch, limit = spec["events"], spec["batch"], spec["limit"]
    classes, cls_bits, count_bits = spec["classes"], spec["cls_bits"], spec["count_bits"]
    layers, tap_bits = spec["layers"], 3 + spec["tap_addr_bits"]
    names, counter_bits = spec["counter_names"], spec["counter_bits"]

    dut.results__ready.value = 1
    await start(dut, ZEROED_INPUTS)

    results, taps, pushes = [], [[] for _ in range(layers)], []
    position = cycle = 0
    began = time.perf_counter()
    drain = spec.get("drain", False)
    while len(results) < batch or (drain and (position < len(events)
                                              or not int(dut.idle.value))):
        assert cycle < limit, f"{len(results)} of {batch} results in {limit} cycles (a hang)"
        offering = position < len(events)
        if offering:
            kind, addr, *value = events[position]
            value = value[0] if value else 0
            dut.events__payload.value = kind | addr << 2 | value << (2 + spec["addr_bits"])
            if int(dut.events__ready.value):
                pushes.append(cycle)
                position += 1
        dut.events__valid.value = int(offering)
        tapped = int(dut.taps.value)
        for index in range(layers):
            tap = _bits(tapped, index * tap_bits, tap_bits)
            if tap & 1:
                taps[index].append((_bits(tap, 1, 2), tap >> 3))
        if int(dut.results__valid.value):
            result = int(dut.results__payload.value)
            counts = [_bits(result, cls_bits + k * count_bits, count_bits)
                      for k in range(classes)]
            offset = cls_bits + classes * count_bits
            cycles = _bits(result, offset, spec["cycle_bits"])
            offset += spec["cycle_bits"]
            per_layer = len(names) * counter_bits
            snapshot = [{name: _bits(result, offset + index * per_layer + k * counter_bits,
                                     counter_bits) for k, name in enumerate(names)}
                        for index in range(layers)]
            results.append((_bits(result, 0, cls_bits), counts, cycles, snapshot)
                           + ((_bits(result, spec["steps_offset"], spec["steps_bits"]),)
                              if drain else ()))
        await FallingEdge(dut.clk)
        cycle += 1

    raw_counters = int(dut.counters.value)
    per_layer = len(names) * counter_bits
    counters = [{name: _bits(raw_counters, index * per_layer + k * counter_bits, counter_bits)
                 for k, name in enumerate(names)} for index in range(layers)]
    raw_high = int(dut.high_water.value)
    high_water = [_bits(raw_high, index * 16, 16) for index in range(layers)]
    with open(os.environ["SPIKEFAB_OUT"], "w") as file:
        json.dump({"results": results, "taps": taps, "pushes": pushes, "cycles": cycle,
                   "counters": counters, "high_water": high_water,
                   "error": int(dut.error.value),
                   "sim_seconds": time.perf_counter() - began}, file)
