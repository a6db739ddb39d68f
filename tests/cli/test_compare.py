"""``spikefab compare`` as a user runs it: the JSON and table of a small run, one-line errors
for bad flags before anything runs, and ``make compare``. The study itself is
tests/studies/test_compare.py."""

import json

import numpy as np
import pytest

from spikefab.studies import compare
from spikefab.studies.compare import ratio_text

QUICK = ["--quick", "--no-synth", "--hidden", "16", "--train-images", "300",
         "--test-images", "100", "--images", "3", "--lanes", "8", "--sweep-lanes", "4"]


def test_quick_run_writes_the_table_and_json(tmp_path, monkeypatch, capsys):
    from spikefab.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["compare", *QUICK, "--curve", "4", "8", "16", "--steps", "20", "10"]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / "build" / "compare"                 # the default, relative to the cwd
    summary = json.loads((out / "compare.json").read_text())
    assert (out / "compare.md").read_text().endswith(compare.tables(summary))
    assert compare.tables(summary) in printed
    assert "| Spiker+ (Artix-7) | 100 | 93.85% | 79,040 |" in printed
    rows = summary["rows"]
    assert [row["steps"] for row in rows] == [20, 10]
    for row in rows:
        assert row["cycles_ratio"] == pytest.approx(row["cycles"] / 79_040)
        assert row["cycles_vs"] == ratio_text(row["cycles"], 79_040)
        assert row["vivado_luts"] is None and row["us_per_image"] is None   # --no-synth
        assert 0 <= row["accuracy"] <= 1
        assert f"| spikefab (P = 8, S = 4) | {row['steps']} |" in printed
    assert summary["accuracy"]["test_images"] == 100
    assert summary["configuration"]["main"]["layers"] == [
        {"lanes": 8, "sweep_lanes": 4, "format": "dense", "queue_depth": 16},
        {"lanes": 10, "sweep_lanes": 10, "format": "dense", "queue_depth": 16}]
    assert summary["configuration"]["arguments"]["images"] == 3
    assert summary["cosim"] is None and summary["boards"] == [] and summary["xc7"] is None
    # The curve: S = min(P, --sweep-lanes); more lanes, fewer cycles; P = 8 is the main point.
    curve = summary["curve"]
    assert [(p["lanes"], p["sweep_lanes"]) for p in curve] == [(4, 4), (8, 4), (16, 4)]
    assert curve[0]["cycles"] > curve[1]["cycles"] > curve[2]["cycles"]
    assert curve[1]["cycles"] == rows[0]["cycles"]
    assert summary["versions"]["numpy"] == np.__version__
    assert not (out / "curve.png").exists()                # no LUTs, no plot


BAD_FLAGS = [
    (["--lanes", "0"], "argument --lanes: 0 is out of range; allowed range is [1, 4096]"),
    (["--sweep-lanes", "x"], "argument --sweep-lanes: 'x' is not an integer"),
    (["--lanes", "32", "--sweep-lanes", "6"],
     "error: --lanes 32 / --sweep-lanes 6: sweep_lanes = 6 must divide lanes = 32"),
    (["--curve", "8", "16", "--curve-sweep-lanes", "1", "2", "3"],
     "error: --curve-sweep-lanes has 3 values for 2 curve points"),
    (["--curve", "8", "--curve-sweep-lanes", "3"],
     "error: --curve 8 / --curve-sweep-lanes 3: sweep_lanes = 3 must divide lanes = 8"),
    (["--steps", "0"], "argument --steps: 0 is out of range; allowed range is [1, 65535]"),
    (["--format", "zip"], "argument --format: invalid choice: 'zip'"),
    (["--boards", "de10"], "argument --boards: invalid choice: 'de10'"),
    (["--queue-depth", "1"],
     "argument --queue-depth: 1 is out of range; allowed range is [2, 65536]"),
    (["--train-images", "4500", "--test-images", "1000"],
     "error: --train-images 4500 + --test-images 1000 exceed the 5,000 bundled"),
]


@pytest.mark.parametrize("flags, message", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_bad_flags_end_in_one_line_before_anything_runs(tmp_path, monkeypatch, capsys, flags,
                                                        message):
    from spikefab.cli import main
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["compare", *flags])
    code = exit_.value.code
    text = code if isinstance(code, str) else capsys.readouterr().err
    assert code != 0
    assert message in text.strip().splitlines()[-1]
    assert "Traceback" not in text
    assert not (tmp_path / "build").exists()


def test_make_compare_from_a_fresh_root(tmp_path):
    """``make compare COMPARE_ARGS=...`` calls the console script, which writes
    ``build/compare`` relative to the root make runs in."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    root = tmp_path / "spikefab"
    root.mkdir()
    repository = Path(__file__).resolve().parents[2]
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(repository / name, root / name)
    venv = Path(sys.prefix)
    process = subprocess.run(
        ["make", "--no-print-directory", "-o", f"{venv}/.installed-stamp", "compare",
         f"VENV={venv}", "COMPARE_ARGS=" + " ".join([*QUICK, "--curve", "8",
                                                     "--steps", "10"])],
        cwd=root, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-2000:]
    summary = json.loads((root / "build" / "compare" / "compare.json").read_text())
    assert [row["steps"] for row in summary["rows"]] == [10]
    assert "| Spiker+ (Artix-7) |" in process.stdout


def test_a_failed_check_is_one_error_line_after_the_report(tmp_path, monkeypatch):
    """The study raises StudyError after writing its report; the command ends with it as its
    ``error: …`` line (exit status 1)."""
    from spikefab.cli import main
    from spikefab.studies.report import StudyError

    def failing(settings, *, options):
        assert settings.out == tmp_path and options["curve_points"] == settings.curve
        raise StudyError("co-simulation MISMATCH in 1 batch(es) (samples 0..1: classes differ)")

    monkeypatch.setattr(compare, "run", failing)
    with pytest.raises(SystemExit) as exit_:
        main(["compare", "--quick", "--out", str(tmp_path)])
    assert exit_.value.code == ("error: co-simulation MISMATCH in 1 batch(es) (samples 0..1: "
                                "classes differ)")


def test_the_printed_command_rebuilds_the_compared_design(tmp_path):
    """As a user runs it: ``spikefab compare`` (small) from a folder of its own writes the
    network and the samples and prints ``spikefab synth …``; that command, run as printed from
    the same folder (``--dry-run``), makes the board top the comparison names (the MNIST
    reference through the Python API with the hidden layer's P and S, the output layer fully
    parallel, max steps the largest T) and its latency is the table's cycles per image."""
    import subprocess
    import sys
    from pathlib import Path

    from spikefab.hw.accelerator import hardware_config
    from spikefab.model.mnist import mnist_reference
    from tests.boards.rebuild_check import dry_run, printed_commands, reference_rtlil

    spikefab = Path(sys.prefix) / "bin" / "spikefab"
    process = subprocess.run([str(spikefab), "compare", *QUICK, "--steps", "20", "10",
                              "--out", "report"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=1200)
    assert process.returncode == 0, process.stderr[-2000:]
    commands = printed_commands(process.stdout)
    assert commands == [
        "spikefab synth --board ulx3s --network report/spikefab-784-16-10.npz --lanes 8 10 "
        "--sweep-lanes 4 10 --format dense --queue-depth 16 --steps 20 "
        "--spikes report/samples-T20.npz"]
    summary = json.loads((tmp_path / "report" / "compare.json").read_text())
    assert f"`{commands[0]}`" in (tmp_path / "report" / "compare.md").read_text()
    rebuilt, rtlil, design = dry_run(tmp_path, commands[0])
    network = mnist_reference(hidden=16, steps=20, train=300, test=100).network
    config = hardware_config(network, 8, 4, "dense", 16)
    assert rtlil == reference_rtlil("ulx3s", network, config, max_steps=20)
    assert design["config"] == summary["configuration"]["main"]
    assert design["latency"]["cycles_per_inference"] == pytest.approx(summary["rows"][0]["cycles"])
    assert "the 3 samples in report/samples-T20.npz, T = 20" in rebuilt.stdout


def test_every_board_command_rebuilds_what_the_comparison_built(tmp_path, monkeypatch, capsys):
    """With board builds: each printed command (ULX3S and iCEBreaker) makes the very top the
    comparison handed to the board flow (recorded here instead of running the tools)."""
    from spikefab.cli import main
    from tests.boards.rebuild_check import dry_run, printed_commands, reference_rtlil

    built = {}

    def build_board(board, network, config, build_dir, *, max_steps):
        built[board] = (network, config, max_steps)
        return {"board": board, "title": board, "device": "-", "clock_mhz": 25,
                "config": config.to_json(), "configuration": config.describe(),
                "weights_in_spram": [], "status": "does not fit", "error": "recorded",
                "overflows": {}, "used": {}, "available": {}}
    monkeypatch.setattr(compare, "build_board", build_board)
    monkeypatch.chdir(tmp_path)
    assert main(["compare", *QUICK, "--steps", "12", "20", "--boards", "ulx3s", "icebreaker",
                 "--icebreaker-lanes", "4", "--icebreaker-sweep-lanes", "2"]) == 0
    commands = printed_commands(capsys.readouterr().out)
    assert [c.split()[3] for c in commands] == ["ulx3s", "icebreaker"]
    assert "--lanes 4 4 --sweep-lanes 2 2" in commands[1] and "--steps 20" in commands[1]
    for command in commands:
        board = command.split()[3]
        _, rtlil, _ = dry_run(tmp_path, command)
        network, config, max_steps = built[board]
        assert rtlil == reference_rtlil(board, network, config, max_steps=max_steps)
