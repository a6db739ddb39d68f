"""The installed ``spikefab`` command, its standard error not a terminal (a log): every long
stage prints its name when it starts and ``done in … s`` when it ends, in the order the stages
run; the tools' own console output stays out of it; standard output holds only results."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

SPIKEFAB = Path(sys.prefix) / "bin" / "spikefab"


def spikefab(cwd, *args, timeout=900):
    return subprocess.run([str(SPIKEFAB), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def stage_lines(stderr, names):
    """Check that each stage of ``names`` starts (``name ...``) and ends (``name: done in
    x s``) in that order, with only its own progress lines between; return the times."""
    lines = stderr.splitlines()
    assert "\r" not in stderr                                # a log, not a redrawn line
    seconds, at = [], 0
    for name in names:
        start = lines.index(f"{name} ...", at)
        end = next(k for k in range(start, len(lines)) if lines[k].startswith(f"{name}: "
                                                                              f"done in "))
        between = lines[start + 1:end]
        assert all(re.fullmatch(re.escape(name) + r": \d+ s", line) for line in between), between
        seconds.append(float(re.match(re.escape(name) + r": done in ([\d.]+) s",
                                      lines[end]).group(1)))
        at = end + 1
    return seconds


@pytest.mark.slow
def test_synth_shows_each_tool_as_a_stage(tmp_path):
    result = spikefab(tmp_path, "synth", "--board", "icebreaker", "--sizes", "16", "8", "4",
                      "--lanes", "2", "--out", "out")
    assert result.returncode == 0, result.stderr[-3000:]
    seconds = stage_lines(result.stderr, [
        "elaborating the design and writing RTLIL (Amaranth)", "synthesis (yosys)",
        "place and route (nextpnr-ice40)", "bitstream (icepack)"])
    assert seconds[1] > 1 and seconds[2] > 1           # yosys and nextpnr take real time
    assert "Preparing to run" not in result.stderr      # the tools' console is in a file
    log = tmp_path / "out" / "icebreaker" / "top.tools.log"
    assert "$ yosys -q -l top.rpt top.ys" in log.read_text()
    assert " ..." not in result.stdout and "done in" not in result.stdout
    assert "**iCEBreaker**" in result.stdout


@pytest.mark.slow
def test_nir_import_cosim_shows_the_verilator_build(tmp_path):
    from spikefab.model import reference_network
    reference_network((16, 8, 4), w_bits=4).save(tmp_path / "net.npz")
    exported = spikefab(tmp_path, "nir", "export", "net.npz", "--out", "model.nir")
    assert exported.returncode == 0, exported.stderr
    result = spikefab(tmp_path, "nir", "import", "model.nir", "--cosim", "2", "--lanes", "2",
                      "--out", "nir")
    assert result.returncode == 0, result.stderr[-3000:]
    seconds = stage_lines(result.stderr, [
        "generating the accelerator's Verilog (Amaranth)", "compiling accelerator with Verilator",
        "simulating accelerator (Verilator, cocotb)"])
    assert seconds[1] > 1
    assert "hardware = golden model = cycle model on all 2 samples" in result.stdout
    assert "done in" not in result.stdout
