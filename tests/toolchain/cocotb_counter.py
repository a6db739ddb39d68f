"""cocotb tests for the smoke-test Counter; run by test_toolchain.py, not by pytest."""

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge


@cocotb.test()
async def counts_enabled_cycles(dut):
    """The counter equals the number of enabled cycles (mod 256), checked every cycle."""
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.en.value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    expected = 0
    rng = random.Random(1)
    for _ in range(600):
        await FallingEdge(dut.clk)
        assert dut.count.value.to_unsigned() == expected
        en = rng.random() < 0.7
        dut.en.value = int(en)
        await RisingEdge(dut.clk)
        expected = (expected + en) % 256
