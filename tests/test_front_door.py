"""The README's commands, run the way the README writes them: ``make <target>`` from the
repository root with the default output folders (relative paths), and the ``spikefab``
console script from another working directory.

``make`` runs in a copy of the repository root (its ``Makefile`` and ``pyproject.toml``) so a
test never overwrites a user's own ``build/``; ``VENV`` points at the environment running the
tests, and ``-o`` tells make that its install stamp is up to date (the stamp is what ``make
test`` made; the recipes under test are the ones after it).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
SPIKEFAB = VENV / "bin" / "spikefab"


def repository_root(tmp_path):
    """A folder that stands for a fresh clone's root, for ``make``."""
    root = tmp_path / "spikefab"
    root.mkdir()
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, root / name)
    return root


def make(root, target, **variables):
    """``make <target> VAR=value ...`` in ``root``, as a user types it; returns the process."""
    command = ["make", "--no-print-directory", "-o", f"{VENV}/.installed-stamp", target,
               f"VENV={VENV}"] + [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=1800)


def spikefab(cwd, *args, timeout=600):
    return subprocess.run([str(SPIKEFAB), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def explain(process):
    return f"exit {process.returncode}\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}"


@pytest.mark.slow
def test_make_demo_with_its_default_output_folder(tmp_path):
    """``make demo`` (small setting) from the root writes ``build/demo`` relative to it, and
    the co-simulation under Verilator, which runs in a folder of its own, finds its files."""
    root = repository_root(tmp_path)
    process = make(root, "demo",
                   DEMO_ARGS="--quick --samples 8 --steps 8 --board none")
    assert process.returncode == 0, explain(process)
    assert "hardware = golden model on every image, spike and cycle" in process.stdout
    out = root / "build" / "demo"
    summary = json.loads((out / "report.json").read_text())
    accuracy = summary["accuracy"]
    assert accuracy["hardware_golden_agreement"] == 1.0 and accuracy["hardware_samples"] == 8
    assert accuracy["float_dense"] > 0.9 and accuracy["snn_golden"] > 0.5
    assert summary["weights_kept_overall"] <= 0.5
    for name in ("report.md", "activity.png", "raster.png", "accuracy.png"):
        assert (out / name).stat().st_size > 0
    assert "hardware (Verilator, 8 images)" in (out / "report.md").read_text()
    assert (out / "verilator" / "out.json").exists()


@pytest.mark.slow
def test_make_synth_with_its_defaults(tmp_path):
    """``make synth`` (iCEBreaker, default network, P = 2) from the root: bitstream and report
    in ``build/icebreaker``; the default network fits the UP5K and meets 12 MHz."""
    root = repository_root(tmp_path)
    process = make(root, "synth")
    assert process.returncode == 0, explain(process)
    folder = root / "build" / "icebreaker"
    assert (folder / "top.bin").stat().st_size > 100_000
    report = json.loads((folder / "report.json").read_text())
    published = {"LUT": 5280, "FF": 5280, "BRAM": 30, "DSP": 8, "SPRAM": 4}   # UP5K data sheet
    for name, available in published.items():
        used = report["resources"][name]["used"]
        assert 0 <= used <= available == report["resources"][name]["available"]
    assert report["resources"]["BRAM"]["used"] > 0
    assert report["clock"]["fmax_mhz"] > report["clock"]["board_mhz"] == 12.0
    latency = report["latency"]
    assert latency["us_at_board_clock"] == pytest.approx(latency["cycles_per_inference"] / 12.0)
    assert report["network"]["shape"] == [64, 128, 10]
    assert "µs at the 12 MHz board clock" in (folder / "report.md").read_text()
    assert f"bitstream: {folder / 'top.bin'}" in process.stdout


def test_make_verilog_with_its_default_output_folder(tmp_path):
    root = repository_root(tmp_path)
    process = make(root, "verilog", VERILOG_ARGS="--sizes 16 12 4")
    assert process.returncode == 0, explain(process)
    for name in ("event_queue", "weight_memory", "pe_array", "lif_core", "accelerator"):
        text = (root / "build" / "verilog" / f"{name}.v").read_text()
        assert f"module {name}(" in text
        assert "// command: spikefab verilog --sizes 16 12 4" in text


def test_make_bench_runs_the_console_script(tmp_path):
    root = repository_root(tmp_path)
    process = make(root, "bench", BENCH_ARGS="--batch 4 --steps 3 --repeats 1 --samples 2 "
                                             "--densities 0.5 --cosim none")
    assert process.returncode == 0, explain(process)
    out = process.stdout
    assert "events/s" in out and "Target >= 10,000,000 events/s" in out
    for label in ("| 64-128-10 (50%, balanced) | csc |", "| 784-256-10 (50%, global) | bitmap |",
                  "| 64-128-10 (50%, global) | dense |"):
        assert label in out
    assert "balanced pruning, 784-input network" in out


def test_make_run_without_a_port_says_what_to_do(tmp_path):
    process = make(repository_root(tmp_path), "run")
    assert process.returncode != 0
    ours = [line for line in process.stderr.splitlines() if not line.startswith("make")]
    assert ours[-1] == "error: no serial port given; use PORT=/dev/ttyUSB1 (make run) or --port"


def test_version_and_help_of_every_command(tmp_path):
    from importlib.metadata import version
    process = spikefab(tmp_path, "--version")
    assert process.returncode == 0 and process.stdout.strip() == f"spikefab {version('spikefab')}"
    process = spikefab(tmp_path, "--help")
    assert process.returncode == 0
    commands = ("verilog", "synth", "prog", "run", "demo", "bench")
    for command in commands:
        assert command in process.stdout
    from spikefab.cli import parser
    p = parser()
    for command in commands:
        with pytest.raises(SystemExit) as exit_:
            p.parse_args([command, "--help"])
        assert exit_.value.code == 0


# Errors a user reaches from the command line: one clear last line naming the flag they typed
# (and its allowed values) or the file, never a bare traceback.
BAD_SYNTH_FLAGS = [
    (["--network", "missing.npz"], "argument --network: missing.npz does not exist"),
    (["--lanes", "0"], "argument --lanes: 0 is out of range; allowed range is [1, 256]"),
    (["--queue-depth", "1"],
     "argument --queue-depth: 1 is out of range; allowed range is [2, 65536]"),
    (["--steps", "0"], "argument --steps: 0 is out of range; allowed range is [1, 65535]"),
    (["--sizes", "64", "0", "10"],
     "argument --sizes: 0 is out of range; allowed range is [1, 16384]"),
    (["--sizes", "64"], "error: argument --sizes: needs at least two sizes"),
    (["--lanes", "two"], "argument --lanes: 'two' is not an integer"),
    (["--board", "de10"], "argument --board: invalid choice: 'de10'"),
]


@pytest.mark.parametrize("flags, message", BAD_SYNTH_FLAGS,
                         ids=[" ".join(flags) for flags, _ in BAD_SYNTH_FLAGS])
def test_synth_refuses_bad_flags_in_one_line(tmp_path, flags, message):
    process = spikefab(tmp_path, "synth", *flags)
    assert process.returncode != 0
    assert "Traceback" not in process.stderr, process.stderr
    assert message in process.stderr.strip().splitlines()[-1], process.stderr
    assert not (tmp_path / "build").exists()          # refused before anything ran


def test_unreadable_network_file_is_named(tmp_path):
    (tmp_path / "notes.npz").write_text("not a network")
    process = spikefab(tmp_path, "synth", "--network", "notes.npz")
    assert process.returncode == 1 and "Traceback" not in process.stderr
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("error: --network: ") and "notes.npz" in last
    assert "not a spikefab network file" in last and "Network.save" in last


@pytest.mark.parametrize("command, flags, message", [
    ("verilog", ["--layer", "5"], "error: --layer 5 is out of range; allowed range is [0, 1]"),
    ("verilog", ["--w-bits", "1"], "argument --w-bits: 1 is out of range; allowed range is "
                                   "[2, 16]"),
    ("verilog", ["--leak", "mul", "--m", "9", "--f", "3"],
     "error: this configuration cannot be generated: m (with f = 3) = 9 is out of range"),
    ("demo", ["--density", "0"], "argument --density: 0 is out of range; allowed range is "
                                 "(0, 1]"),
    ("demo", ["--lanes", "0"], "argument --lanes: 0 is out of range"),
    ("bench", ["--densities", "0.5", "1.5"], "argument --densities: 1.5 is out of range"),
    ("prog", [], "error: no bitstream at"),
])
def test_other_commands_refuse_bad_input_in_one_line(tmp_path, monkeypatch, capsys, command,
                                                      flags, message):
    from spikefab.cli import main
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main([command, *flags])
    text = str(exit_.value.code) if isinstance(exit_.value.code, str) else capsys.readouterr().err
    assert exit_.value.code != 0
    assert message in text.strip().splitlines()[-1]
