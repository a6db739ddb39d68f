"""``spikefab synth`` (and the options and network selection it shares with ``prog`` and
``run``, :mod:`spikefab.cli.board_options`). ``make synth`` end to end is in
tests/test_front_door.py."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikefab.cli import parser
from spikefab.cli.board_options import network_and_config


def test_network_file_is_used(tmp_path):
    from spikefab.model import reference_network
    path = tmp_path / "net.npz"
    reference_network((8, 6, 3), w_bits=4).save(path)
    args = parser().parse_args(["synth", "--network", str(path), "--lanes", "2"])
    assert args.sizes == [64, 128, 10]
    network, config = network_and_config(args)
    assert network.shape == (8, 6, 3) and config.layers[0].lanes == 2
    assert args.steps == 16                  # a file that records no T: the default, as before


def test_steps_default_to_the_t_the_network_file_records(tmp_path, capsys):
    """``--steps`` left out: the T the ``--network`` file records (one line says so), else 16;
    given, it wins (the line names the file's T)."""
    from spikefab.model import reference_network
    path = tmp_path / "net.npz"
    reference_network((8, 6, 3), w_bits=4).with_input("latency", 8).save(path)
    for command in ("synth", "run"):
        args = parser().parse_args([command, "--network", str(path)])
        network_and_config(args)
        assert args.steps == 8
        assert capsys.readouterr().out == f"input code: T = 8 (recorded in {path})\n"
    args = parser().parse_args(["synth", "--network", str(path), "--steps", "12"])
    network_and_config(args)
    assert args.steps == 12
    assert capsys.readouterr().out == f"input code: T = 12 (--steps; {path} records 8)\n"
    args = parser().parse_args(["synth", "--sizes", "8", "6", "3"])
    network_and_config(args)
    assert args.steps == 16 and capsys.readouterr().out == ""


# --- as a user runs it: the console script from a folder of its own ---------------------------

SPIKEFAB = Path(sys.prefix) / "bin" / "spikefab"


def spikefab(cwd, *args):
    return subprocess.run([str(SPIKEFAB), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("flags, message", [
    (["--sizes", "64"], "error: argument --sizes: needs at least two sizes (inputs, then one "
                        "per layer), not 1; allowed: 2 or more sizes"),
    (["--sizes", "16", "12", "4", "--lanes", "4", "2", "2"],
     "error: --lanes has 3 values for a network of 2 layers (16-12-4); give one value, or "
     "one per layer"),
    (["--sizes", "16", "12", "4", "--lanes", "4", "2", "--sweep-lanes", "3", "1"],
     "sweep_lanes = 3 must divide lanes = 4"),
])
def test_bad_flag_values_exit_2_naming_the_flag(tmp_path, flags, message):
    process = spikefab(tmp_path, "synth", *flags, "--dry-run")
    assert process.returncode == 2, process.stderr
    last = process.stderr.strip().splitlines()[-1]
    assert last.startswith("spikefab synth: error: ") and message in last, process.stderr
    assert "Traceback" not in process.stderr and not (tmp_path / "build").exists()


def test_every_option_shows_its_help_and_default(tmp_path):
    process = spikefab(tmp_path, "synth", "--help")
    assert process.returncode == 0
    options = process.stdout.split("options:", 1)[1]
    entries = re.split(r"\n  (?=-)", "\n" + options)
    entries = [" ".join(e.split()) for e in entries if e.strip().startswith("-")]
    flags = [e.split()[0].rstrip(",") for e in entries]
    assert {"--board", "--format", "--lanes", "--sweep-lanes", "--spikes",
            "--dry-run"} <= set(flags)
    for entry in entries:
        if entry.startswith("-h"):
            continue
        assert "default" in entry, entry
    board = next(e for e in entries if e.startswith("--board"))
    assert "(default icebreaker)" in board
    assert "(default csc)" in next(e for e in entries if e.startswith("--format"))


def test_per_layer_lanes_and_sweep_lanes(tmp_path):
    """``--lanes 4 2 --sweep-lanes 2 1`` is one value per layer, exactly; one value is
    capped per layer and the sweep lanes the largest divisor (the old behaviour)."""
    process = spikefab(tmp_path, "synth", "--board", "ulx3s", "--sizes", "16", "12", "4",
                       "--lanes", "4", "2", "--sweep-lanes", "2", "1", "--dry-run")
    assert process.returncode == 0, process.stderr
    design = json.loads((tmp_path / "build" / "ulx3s" / "design.json").read_text())
    assert [(c["lanes"], c["sweep_lanes"]) for c in design["config"]["layers"]] == [(4, 2),
                                                                                    (2, 1)]
    process = spikefab(tmp_path, "synth", "--board", "ulx3s", "--sizes", "16", "12", "10",
                       "--lanes", "12", "--sweep-lanes", "8", "--dry-run")
    assert process.returncode == 0, process.stderr
    design = json.loads((tmp_path / "build" / "ulx3s" / "design.json").read_text())
    assert [(c["lanes"], c["sweep_lanes"]) for c in design["config"]["layers"]] == [(12, 6),
                                                                                    (10, 5)]


def test_the_latency_names_its_samples(tmp_path):
    """Random samples by default, said so; ``--spikes`` the samples of a file, said so, and
    the figure is theirs (each sample alone, the cycle model's)."""
    from spikefab.model import HardwareConfig, cycle_model, reference_network, simulate
    args = ["synth", "--board", "ulx3s", "--sizes", "16", "12", "4", "--lanes", "4",
            "--steps", "12", "--dry-run"]
    process = spikefab(tmp_path, *args)
    assert process.returncode == 0, process.stderr
    assert "mean of 16 random samples at 15% input activity (rate code, seed 0), T = 12" \
        in process.stdout
    trains = np.random.default_rng(0).random((3, 10, 16)) < 0.3
    np.save(tmp_path / "mine.npy", trains)
    process = spikefab(tmp_path, *args, "--spikes", "mine.npy")
    assert process.returncode == 0, process.stderr
    assert "mean of the 3 samples in mine.npy, T = 10" in process.stdout
    network = reference_network((16, 12, 4), w_bits=4, density=0.5, lanes=4)
    config = HardwareConfig.uniform(network, lanes=4)
    expected = np.mean([cycle_model(network, simulate(network, t), config).latency[0]
                        for t in trains])
    design = json.loads((tmp_path / "build" / "ulx3s" / "design.json").read_text())
    assert design["latency"]["cycles_per_inference"] == pytest.approx(expected)
    np.save(tmp_path / "long.npy", np.zeros((2, 13, 16), dtype=bool))
    process = spikefab(tmp_path, *args, "--spikes", "long.npy")
    assert process.returncode == 1
    assert process.stderr.strip().splitlines()[-1] == (
        "error: --spikes " + str(tmp_path / "long.npy") + ": T = 13 steps; allowed: at most "
        "--steps 12")


def test_early_exit_refusals(tmp_path, monkeypatch):
    """``--exit`` samples have ``--steps`` steps, and the host link carries a margin of at
    most 65535: each refusal is one line saying what is allowed."""
    from spikefab.boards.rebuild import save_samples
    from spikefab.cli import main
    monkeypatch.chdir(tmp_path)
    save_samples(tmp_path, "short", np.zeros((2, 5, 16), dtype=bool))
    base = ["synth", "--sizes", "16", "8", "4", "--steps", "8", "--dry-run", "--out", "o"]
    with pytest.raises(SystemExit, match=r"--spikes short.npz: T = 5 steps; with --exit every "
                                         r"sample has --steps 8 steps"):
        main([*base, "--exit", "exact", "--spikes", "short.npz"])
    with pytest.raises(SystemExit, match=r"cannot be generated: exit margin 70000 is out of "
                                         r"range for the host link; allowed range is "
                                         r"\[1, 65535\]"):
        main([*base, "--exit", "margin:70000"])
    assert not (tmp_path / "o").exists()


def test_a_direct_network_is_built_with_the_encoders_direct_kind(tmp_path):
    """A network whose first layer takes values: ``--encoder`` left out becomes ``direct``
    (a line says so) with the layer's x_bits in design.json; another code is refused."""
    from spikefab.model import Layer, Network
    rng = np.random.default_rng(2)
    Network([Layer(rng.integers(-8, 8, (6, 16)), theta=20, w_bits=4, v_bits=12, x_bits=6),
             Layer(rng.integers(-8, 8, (3, 6)), theta=3, w_bits=4)], steps=5).save(
        tmp_path / "direct.npz")
    process = spikefab(tmp_path, "synth", "--network", "direct.npz", "--board", "ulx3s",
                       "--out", "o", "--dry-run")
    assert process.returncode == 0, process.stderr
    assert "on-chip encoder: direct" in process.stdout
    design = json.loads((tmp_path / "o" / "ulx3s" / "design.json").read_text())
    assert design["encoder"] == {"kind": "direct", "steps": 5, "scan": 8, "x_bits": 6}
    process = spikefab(tmp_path, "synth", "--network", "direct.npz", "--encoder", "rate",
                       "--dry-run")
    assert process.returncode == 1 and "Traceback" not in process.stderr
    assert "direct first layer (x_bits = 6), whose images go in as values: --encoder " \
           "direct" in process.stderr.strip().splitlines()[-1]
