"""Helpers for Amaranth-simulator tests of the hardware blocks."""

import os

from amaranth.sim import Simulator


def run(dut, *testbenches, processes=(), vcd=None, clock=1e-6):
    """Simulate ``dut`` with a ``sync`` clock until every testbench returns.

    ``vcd`` (or the environment variable ``SPIKEFAB_VCD``, a folder) writes a waveform.
    """
    sim = Simulator(dut)
    sim.add_clock(clock)
    for testbench in testbenches:
        sim.add_testbench(testbench)
    for process in processes:
        sim.add_process(process)
    folder = os.environ.get("SPIKEFAB_VCD")
    if vcd is None and folder:
        vcd = os.path.join(folder, f"{type(dut).__name__}.vcd")
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
