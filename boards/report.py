"""What a finished build used, reached and produced — :class:`SynthReport`, read from the
files nextpnr and yosys leave in the build folder — and the errors of a build that failed.

Where each number comes from (all from the files the build leaves in ``build_dir``):

* **Used and available cells** come from nextpnr's own utilisation report: the build passes
  ``--report <name>.report.json`` to nextpnr, whose ``"utilization"`` holds, per bel type,
  the cells placed and the bels the device has. If that file is missing or unreadable, the
  "Device utilisation" table of nextpnr's log (``<name>.tim``) is read instead (same numbers).
  Generic names map to the family's cell types as :data:`~.registry.CELL_TYPES` lists.

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
"""

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .registry import CELL_TYPES, MEANING, RESOURCES, Board, get_board

__all__ = ["SynthReport", "Latency", "SynthesisError", "ResourceOverflow", "read_report",
           "parse_nextpnr_log", "find_overflows"]

_ADVICE = "use fewer PEs (lanes), narrower weights, a sparser format or a larger device"


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
    yosys_version : str
        The first line yosys printed (``Yosys 0.70 (git sha1 …)``).
    workaround : str or None
        The extra ``synth_*`` option the build needed because yosys failed without it
        (``None``: built as generated).
    failed_attempts : list of dict
        Per failed yosys attempt: its ``options``, the ``error`` line and the kept ``log``.
    netlist : Path or None
        The gate-level netlist (``<name>.netlist.v``) the bitstream's own yosys run wrote, for
        simulation with the vendor cell models (``spikefab gatesim``); ``None`` when the
        build did not write one.
    pll_mhz : float or None
        The PLL clock the bitstream runs at (:class:`~.top.BoardTop` ``clock_mhz``);
        ``None``: it runs at the board oscillator. :attr:`clock_mhz`, :attr:`timing_met` and
        :meth:`latency_us` use the clock the bitstream runs at.
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
    yosys_version: str = ""
    workaround: str | None = None
    failed_attempts: list = field(default_factory=list)
    netlist: Path | None = None
    pll_mhz: float | None = None

    @property
    def clock_mhz(self):
        """The clock the bitstream runs at in MHz: the PLL's, else the board oscillator."""
        return self.board.clock_mhz if self.pll_mhz is None else self.pll_mhz

    @property
    def clock_name(self):
        """``"PLL clock"`` or ``"board clock"``: what :attr:`clock_mhz` is."""
        return "board clock" if self.pll_mhz is None else "PLL clock"

    @property
    def timing_met(self):
        """``True`` when the main clock's Fmax reaches the clock the bitstream runs at
        (:attr:`clock_mhz`; ``None``: no clock)."""
        if self.fmax_mhz is None:
            return None
        return self.fmax_mhz >= self.clock_mhz

    def utilization(self, resource):
        """Fraction of ``resource`` used (0 … 1, above 1 never happens in a finished build)."""
        if resource not in self.used:
            raise ValueError(f"resource {resource!r} is not reported for the "
                             f"{self.board.device}; reported are {', '.join(self.used)}")
        return self.used[resource] / self.available[resource]

    def latency_us(self, cycles):
        """Return the time of ``cycles`` clock cycles in µs, at the clock the bitstream runs
        at (:attr:`clock_mhz`, the ``board_clock`` member) and at Fmax.

        ``fmax`` is ``None`` when no clock was timed.
        """
        if isinstance(cycles, bool) or not isinstance(cycles, (int, float)) or cycles < 0:
            raise ValueError(f"cycles must be a non-negative number, not {cycles!r}")
        at_fmax = None if not self.fmax_mhz else cycles / self.fmax_mhz
        return Latency(board_clock=cycles / self.clock_mhz, fmax=at_fmax)

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
                **({} if self.pll_mhz is None else {"pll_mhz": self.pll_mhz}),
            },
            "clocks": self.clocks,
            "cells": self.cells,
            "netlist_cells": self.netlist_cells,
            "bitstream": str(self.bitstream),
            "netlist": None if self.netlist is None else str(self.netlist),
            "seconds": None if self.seconds is None else round(self.seconds, 2),
            "source": self.source,
            "yosys": {"version": self.yosys_version, "workaround": self.workaround,
                      "failed_attempts": self.failed_attempts},
        }

    def table(self):
        """Return the report as Markdown: a header line, a resource table and a clock table."""
        meaning = MEANING[self.board.family]
        clock = (f"{self.board.clock_mhz:g} MHz board clock" if self.pll_mhz is None else
                 f"{self.pll_mhz:g} MHz PLL clock from the {self.board.clock_mhz:g} MHz "
                 f"oscillator")
        lines = [f"**{self.board.title}** — {self.board.device}, {clock}; bitstream "
                 f"`{self.bitstream.name}`"
                 + ("" if self.seconds is None else f", built in {self.seconds:.1f} s"),
                 "",
                 "| resource | used | available | utilization |",
                 "|---|---:|---:|---:|"]
        for resource in self.used:
            lines.append(f"| {resource} ({meaning[resource]}) | {self.used[resource]:,} | "
                         f"{self.available[resource]:,} | "
                         f"{100 * self.utilization(resource):.1f} % |")
        lines += ["", f"| clock | Fmax | {self.clock_name} | timing |", "|---|---:|---:|---|"]
        if self.fmax_mhz is None:
            lines.append(f"| (none) | — | {self.clock_mhz:.2f} MHz | — |")
        else:
            verdict = ("met" if self.timing_met else "**FAILED**")
            lines.append(f"| `{self.clock}` | {self.fmax_mhz:.2f} MHz | "
                         f"{self.clock_mhz:.2f} MHz | {verdict} "
                         f"({self.fmax_mhz / self.clock_mhz:.2f}x) |")
        if self.workaround:
            failed = self.failed_attempts[0] if self.failed_attempts else {}
            lines += ["", f"**Built with a yosys workaround**: {self.yosys_version or 'yosys'} "
                          f"failed on this design with its default mapping "
                          f"({failed.get('error', 'no message')}; log "
                          f"`{Path(failed.get('log', '?')).name}`), and passed with "
                          f"`{self.workaround}`. The netlist differs from the default one "
                          f"(e.g. flip-flops instead of LUT RAM)."]
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


def read_report(board, build_dir, *, name="top", domain="sync", seconds=None, pll_mhz=None):
    """Read the :class:`SynthReport` of a finished build from its folder.

    Prefers nextpnr's ``<name>.report.json``; falls back to its log ``<name>.tim``.
    Raises :class:`SynthesisError` when neither holds the utilisation, or the bitstream is
    missing.

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
    pll_mhz : float, optional
        The PLL clock the design runs at (:attr:`SynthReport.pll_mhz`).
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

    clock = _main_clock(clocks, domain, board.clock_mhz if pll_mhz is None else pll_mhz)
    fmax = clocks[clock]["achieved"] if clock is not None else None
    bitstream = build_dir / f"{name}.{'bin' if board.family == 'ice40' else 'bit'}"
    if not bitstream.exists():
        raise SynthesisError(f"the build finished without a bitstream ({bitstream} is missing)")
    return SynthReport(board=board, used=used, available=available, clock=clock, fmax_mhz=fmax,
                       clocks=clocks, cells=cells, netlist_cells=netlist_cells,
                       bitstream=bitstream, build_dir=build_dir, seconds=seconds,
                       source=source, name=name, pll_mhz=pll_mhz)


def find_overflows(board, cells):
    """``{resource: (used, available)}`` for every cell type placed beyond the device."""
    generic = {cell: resource for resource, cell in CELL_TYPES[board.family].items()}
    return {generic.get(cell, cell): (v["used"], v["available"])
            for cell, v in cells.items() if v["used"] > v["available"]}


