"""A layer's datapath for block tests: WeightMemory → PEArray ⇄ LIFCore, driven by a
testbench that plays the layer controller (columns for the input spikes, then STEP)."""

import random

from amaranth import Elaboratable, Module

from spikefab.hw.events import EventKind
from spikefab.hw.lif_core import LIFCore
from spikefab.hw.pe_array import PEArray, accumulator_bits
from spikefab.hw.weight_memory import WeightMemory
from spikefab.model import compile_weights

from .simulate import run


class LayerDatapath(Elaboratable):
    def __init__(self, layer, lanes, fmt, drain=2, sweep_lanes=None, emit_depth=4):
        image = compile_weights(layer, lanes, fmt)
        acc_bits = accumulator_bits(layer.w_bits, layer.fan_in)
        self.image = image
        self.memory = WeightMemory(image)
        self.pes = PEArray(lanes=lanes, rows=image.rows, w_bits=layer.w_bits, acc_bits=acc_bits,
                           sweep_lanes=sweep_lanes)
        self.lif = LIFCore(layer, lanes=lanes, acc_bits=acc_bits, drain=drain,
                           sweep_lanes=sweep_lanes, emit_depth=emit_depth)

    def elaborate(self, platform):
        from amaranth.lib import wiring
        m = Module()
        m.submodules.memory = self.memory
        m.submodules.pes = self.pes
        m.submodules.lif = self.lif
        wiring.connect(m, self.memory.words, self.pes.words)
        wiring.connect(m, self.lif.sweep, self.pes.sweep)
        wiring.connect(m, self.pes.currents, self.lif.currents)
        return m


def run_layer(layer, lanes, fmt, trains, *, ready_p=1.0, seed=0, gap_p=0.0, sweep_lanes=None,
              emit_depth=4):
    """Play ``trains`` ([B, T, fan_in] bool) through the datapath; one SAMPLE after each
    sample's T steps. Returns (events, log): ``events`` per sample per step the SPIKE
    addresses, ``log`` the (cycle, what) of command accepts and marker pushes."""
    dut = LayerDatapath(layer, lanes, fmt, sweep_lanes=sweep_lanes, emit_depth=emit_depth)
    rng = random.Random(seed)
    outputs = []          # (cycle, kind, addr)
    log = []
    done = False

    async def producer(ctx):
        nonlocal done
        cycle = 0

        async def tick():
            nonlocal cycle
            await ctx.tick()
            cycle += 1

        async def command(kind):
            """Offer ``kind`` for the one cycle in which the LIF core takes it."""
            ctx.set(dut.lif.control.payload, kind)
            ctx.set(dut.lif.control.valid, 1)
            assert ctx.get(dut.lif.control.ready)
            log.append((cycle, "command", kind))
            await tick()
            ctx.set(dut.lif.control.valid, 0)

        for sample in trains:
            for step in sample:
                while not ctx.get(dut.lif.control.ready):        # previous sweep still busy
                    await tick()
                for j in [int(j) for j in step.nonzero()[0]]:
                    while rng.random() < gap_p:
                        await tick()
                    ctx.set(dut.memory.columns.payload, {"addr": j, "gate": 1})
                    ctx.set(dut.memory.columns.valid, 1)
                    while not ctx.get(dut.memory.columns.ready):
                        await tick()
                    log.append((cycle, "column", j))
                    await tick()
                    ctx.set(dut.memory.columns.valid, 0)
                # The controller pops STEP when the weight memory would take a column.
                while not ctx.get(dut.memory.columns.ready):
                    await tick()
                await command(EventKind.STEP)
            while not ctx.get(dut.lif.control.ready):
                await tick()
            await command(EventKind.SAMPLE)
        while not ctx.get(dut.lif.idle):                # every spike and marker pushed
            await tick()
        assert not ctx.get(dut.lif.error) and not ctx.get(dut.pes.error)
        done = True

    async def consumer(ctx):
        cycle = 0
        while not done:
            ready = rng.random() < ready_p
            ctx.set(dut.lif.spikes.ready, ready)
            if ready and ctx.get(dut.lif.spikes.valid):
                event = ctx.get(dut.lif.spikes.payload)
                outputs.append((cycle, event.kind, event.addr))
            await ctx.tick()
            cycle += 1

    run(dut, producer, consumer)
    events, current, sample = [], [], []
    for cycle, kind, addr in outputs:
        if kind == EventKind.SPIKE:
            current.append(addr)
        elif kind == EventKind.STEP:
            sample.append(current)
            current = []
            log.append((cycle, "marker", kind))
        else:
            assert current == []
            events.append(sample)
            sample = []
            log.append((cycle, "marker", kind))
    return events, sorted(log, key=lambda item: item[0])
