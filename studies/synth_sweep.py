"""Synthesis sweep: the 784-128-10 reference network's board top through yosys ``synth_ecp5``
for every lane count and weight format, one yosys at a time.

Each point builds what ``make synth BOARD=ulx3s BOARD_ARGS="--sizes 784 128 10 --lanes P
--format F"`` gives to yosys — the :class:`~spikefab.boards.top.BoardTop` (host link around
the accelerator, its UART at the ULX3S's default baud,
:attr:`~spikefab.boards.registry.Board.default_baud`, unless ``baud`` names another) elaborated
by the ULX3S platform of amaranth-boards, as RTLIL — and runs
:func:`spikefab.toolchain.yosys.synthesize_rtlil` on it (yosys only: no place and route).
It records whether the point built, whether a workaround was needed (there should be none),
the LUT4 / flip-flop / DP16KD / TRELLIS_DPR16X4 counts, the yosys time and its peak memory.

    python -m spikefab.cli.synth_sweep --out build/sweep

prints a Markdown table and writes ``sweep.json`` and ``sweep.md`` into ``--out`` (each
point's yosys logs stay in ``--out/P<lanes>-<format>/``); :func:`run` is the sweep.
"""

import gc
import json
import sys
import time
import warnings
from pathlib import Path

from amaranth.hdl import UnusedElaboratable

from spikefab.model import FORMATS, HardwareConfig, reference_network
from spikefab.toolchain import yowasp_env
from spikefab.toolchain.yosys import YosysError, synthesize_rtlil

__all__ = ["LANES", "COLUMNS", "board_rtlil", "sweep_point", "markdown", "failed", "run"]

LANES = (1, 2, 4, 8, 16, 32, 64, 128)
COLUMNS = ("LUT4", "TRELLIS_FF", "DP16KD", "TRELLIS_DPR16X4", "MULT18X18D")


def board_rtlil(sizes, lanes, fmt, *, queue_depth=16, max_steps=16, baud=None):
    """The RTLIL text ``make synth BOARD=ulx3s`` hands to yosys for this configuration: the
    board top of :func:`spikefab.boards.build.board_top` (the one ``spikefab synth`` builds),
    its UART at ``baud`` (default: the ULX3S's
    :attr:`~spikefab.boards.registry.Board.default_baud`)."""
    from spikefab.boards.build import board_top
    from spikefab.boards.registry import get_board

    board = get_board("ulx3s")
    network = reference_network(tuple(sizes), w_bits=4, density=0.5, lanes=lanes)
    config = HardwareConfig.uniform(network, lanes=lanes, format=fmt, queue_depth=queue_depth)
    top = board_top(board, network, config, baud=baud, max_steps=max_steps)
    plan = board.platform().prepare(top, name="top")
    return plan.files["top.il"]


def sweep_point(sizes, lanes, fmt, out, *, queue_depth=16, timeout=900, env=None, baud=None):
    """Build one point (its UART at ``baud``, default the board's); return its record (a
    dict, JSON-ready)."""
    record = {"sizes": list(sizes), "lanes": lanes, "format": fmt, "queue_depth": queue_depth,
              "baud": baud or _default_baud()}
    start = time.perf_counter()
    refused = None
    with warnings.catch_warnings():    # silence the half-built parts of a refused top
        warnings.simplefilter("ignore", UnusedElaboratable)
        try:
            rtlil = board_rtlil(sizes, lanes, fmt, queue_depth=queue_depth, baud=baud)
        except Exception as error:     # a configuration the board top cannot be made for
            refused = f"elaboration failed: {type(error).__name__}: {error}"
        gc.collect()
    if refused:
        record.update(built=False, workaround=None, stage="elaboration", error=refused)
        return record
    record["elaboration_s"] = round(time.perf_counter() - start, 1)
    try:
        run = synthesize_rtlil(rtlil, "top", "ecp5", Path(out) / f"P{lanes}-{fmt}",
                               timeout=timeout, env=env)
    except YosysError as error:
        last = error.attempts[-1] if error.attempts else None
        record.update(built=False, error=str(error), stage="yosys",
                      yosys_s=round(sum(a.seconds for a in error.attempts), 1),
                      log=str(last.log) if last else None, workaround=None)
        return record
    record.update(built=True, workaround=run.workaround, version=run.version_number,
                  cells={name: run.cells.get(name, 0) for name in COLUMNS},
                  yosys_s=round(run.seconds, 1),
                  peak_mb=None if run.peak_mb is None else round(run.peak_mb),
                  attempts=[{"workaround": a.workaround, "failure": a.failure,
                             "log": str(a.log)} for a in run.attempts],
                  log=str(run.log))
    return record


def _default_baud():
    from spikefab.boards.registry import get_board
    return get_board("ulx3s").default_baud


def markdown(records):
    """The sweep as a Markdown table."""
    head = ["P", "format", "built", "workaround", *COLUMNS, "yosys s", "peak MiB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        cells = r.get("cells", {})
        row = [str(r["lanes"]), r["format"], "yes" if r["built"] else "**no**",
               r.get("workaround") or "none",
               *[str(cells.get(name, "")) for name in COLUMNS],
               str(r.get("yosys_s", "")), str(r.get("peak_mb") or "")]
        lines.append("| " + " | ".join(row) + " |")
    for r in records:
        if not r["built"]:
            lines.append(f"\nP = {r['lanes']} {r['format']}: {r['error']}")
        elif r.get("workaround"):
            failure = r["attempts"][0]["failure"]
            lines.append(f"\nP = {r['lanes']} {r['format']}: needed {r['workaround']} "
                         f"(first attempt: {failure})")
    return "\n".join(lines)


def failed(records):
    """The points that failed in yosys or needed a workaround (a configuration the board top
    refuses at elaboration is reported, not counted)."""
    return [r for r in records if r.get("stage") == "yosys" or r.get("workaround")]


def run(out="build/sweep", *, sizes=(784, 128, 10), lanes=LANES, formats=FORMATS,
        queue_depth=16, timeout=900, baud=None):
    """Build every point of ``lanes`` x ``formats`` for the network of ``sizes``, one yosys at
    a time, into ``out`` (the UART at ``baud``, default the ULX3S's
    :attr:`~spikefab.boards.registry.Board.default_baud`): a line per point on stderr,
    ``sweep.json`` rewritten after each, and
    the Markdown table printed and written as ``sweep.md``. Returns the records."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    env = yowasp_env()
    records = []
    for p in lanes:
        for fmt in formats:
            record = sweep_point(sizes, p, fmt, out, queue_depth=queue_depth,
                                 timeout=timeout, env=env, baud=baud)
            records.append(record)
            status = ("built" + (f" with {record['workaround']}" if record["workaround"]
                                 else "") if record["built"] else f"FAILED ({record['error']})")
            print(f"P = {p:3} {fmt:6}: {status}, yosys {record.get('yosys_s', '-')} s",
                  file=sys.stderr, flush=True)
            (out / "sweep.json").write_text(json.dumps(records, indent=1))
    table = markdown(records)
    (out / "sweep.md").write_text(table + "\n")
    print(table)
    return records
