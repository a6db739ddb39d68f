"""Helpers for cocotb testbenches of spikefab designs (imported inside the simulator)."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

__all__ = ["start"]


async def start(dut, inputs=()):
    """Drive ``inputs`` (port names) to 0 — simulators such as Icarus otherwise start them
    at X — start a 100 MHz clock on ``clk``, hold ``rst`` for two cycles, and return at the
    first falling edge after it."""
    for name in inputs:
        getattr(dut, name).value = 0
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0
    await FallingEdge(dut.clk)
