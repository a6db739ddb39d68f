"""Helpers of the rebuild tests: run a printed ``spikefab synth`` command as a user types it
(the console script, from the folder the report ran in, relative paths) with ``--dry-run``,
and the RTLIL the board flow hands to yosys for a design built through the Python API (the
independent reference the command's output must equal)."""

import json
import shlex
import subprocess
import sys
from pathlib import Path

SPIKEFAB = Path(sys.prefix) / "bin" / "spikefab"


def printed_commands(text):
    """Every ``spikefab synth …`` command in ``text`` (one per line, or between backticks)."""
    found = []
    for line in text.splitlines():
        for part in line.split("`"):
            part = part.strip()
            if part.startswith("rebuild: "):
                part = part[len("rebuild: "):]
            if part.startswith("spikefab synth "):
                found.append(part)
    return list(dict.fromkeys(found))


def dry_run(cwd, command, out="rebuilt"):
    """Run ``command`` (a printed ``spikefab synth …`` line) in ``cwd`` with ``--dry-run
    --out out``; returns ``(process, top.il text, design.json dict)``."""
    words = shlex.split(command)
    assert words[:2] == ["spikefab", "synth"], command
    process = subprocess.run([str(SPIKEFAB), *words[1:], "--dry-run", "--out", out], cwd=cwd,
                             capture_output=True, text=True, timeout=900)
    assert process.returncode == 0, f"{command}\n{process.stdout}\n{process.stderr}"
    board = words[words.index("--board") + 1]
    folder = Path(cwd) / out / board
    return (process, (folder / "top.il").read_text(),
            json.loads((folder / "design.json").read_text()))


def reference_rtlil(board, network, config, *, max_steps, baud=None, exit=None,
                    clock_mhz=None, encoder=None):
    """The ``top.il`` the board flow writes for ``network`` and ``config`` on ``board``:
    :func:`spikefab.boards.build.board_top` (the top every build uses, with the early-exit
    rule ``exit``, at the PLL clock ``clock_mhz``, with the on-chip ``encoder``) prepared by
    the board's platform."""
    from spikefab.boards.build import board_top
    from spikefab.boards.registry import get_board
    top = board_top(board, network, config, baud=baud, max_steps=max_steps, exit=exit,
                    clock_mhz=clock_mhz, encoder=encoder)
    rtlil = get_board(board).platform().prepare(top, name="top").files["top.il"]
    return rtlil if isinstance(rtlil, str) else rtlil.decode()
