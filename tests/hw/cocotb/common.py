"""Shared pieces of the cocotb testbenches (run inside the simulator, not by pytest).

Conventions: inputs are driven and outputs sampled at the falling clock edge, so a value
set in cycle ``n`` is seen by the design at the rising edge that ends cycle ``n``. Outputs
read right after writing inputs show the values from before the write; an output that
depends combinationally on an input of the same cycle (the LIF core's ``sweep`` request
depends on ``spikes.ready``) is read after ``await ReadOnly()``.
"""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


def vectors():
    with open(os.environ["SPIKEFORGE_VECTORS"]) as file:
        return json.load(file)


async def start(dut):
    """Start the clock, reset for two cycles, return at the first falling edge after."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)


def field(value, offset, width, signed=False):
    """Extract ``width`` bits at ``offset`` of an int, optionally as two's complement."""
    bits = (value >> offset) & ((1 << width) - 1)
    if signed and bits >> (width - 1):
        bits -= 1 << width
    return bits


def pack(fields):
    """Pack [(value, width), ...] from bit 0 upwards (two's complement for negatives)."""
    value, offset = 0, 0
    for item, width in fields:
        value |= (int(item) & ((1 << width) - 1)) << offset
        offset += width
    return value
