"""``spikefab codesign`` as a user runs it: the flags become the study's settings (the
defaults of ``--quick`` filled in), bad flags and combinations are refused in one line naming
them before anything runs. The study itself is tests/studies/test_codesign.py."""

import pytest

from spikefab import cli
from spikefab.studies import codesign
from spikefab.studies.codesign import CoDesign


def spikefab(*argv):
    return cli.main(["codesign", *argv])


@pytest.fixture
def settings(monkeypatch):
    """The settings ``spikefab codesign`` hands to the study (which does not run)."""
    given = []
    monkeypatch.setattr(codesign, "run", lambda settings: given.append(settings) or {})
    return given


def test_the_defaults_are_the_studys(settings, tmp_path):
    assert spikefab("--out", str(tmp_path)) == 0
    expected = CoDesign(out=tmp_path)
    for name in ("betas", "thresholds", "slopes"):
        setattr(expected, name, list(getattr(expected, name)))
    assert settings == [expected]


def test_quick_and_repeated_values(settings, tmp_path):
    out = tmp_path / "new" / "folder"
    assert spikefab("--quick", "--slopes", "5", "5", "10", "--thresholds", "2", "2",
                    "--out", str(out)) == 0
    (given,) = settings
    assert (given.betas, given.thresholds, given.slopes) == ([0.875, 1.0], [2.0], [5.0, 10.0])
    assert (given.epochs, given.train, given.test, given.images) == (3, 500, 100, 20)
    assert given.out == out and out.is_dir()            # made before the study starts


@pytest.mark.parametrize("argv, message", [
    (["--betas", "1.5"], "argument --betas: 1.5 is out of range; allowed range is [0, 1]"),
    (["--thresholds", "0"], "argument --thresholds: 0 is out of range; allowed range is (0, "),
    (["--slopes", "-2"], "argument --slopes: -2 is out of range"),
    (["--epochs", "0"], "argument --epochs: 0 is out of range; allowed range is [1, 1000]"),
    (["--lanes", "0"], "argument --lanes: 0 is out of range"),
    (["--steps", "x"], "argument --steps: 'x' is not an integer"),
    (["--train", "5"], "argument --train: 5 is out of range"),
    (["--seed", "-1"], "argument --seed: -1 is out of range"),
])
def test_bad_flags_are_refused_naming_the_flag(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        spikefab(*argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--train", "4500", "--test", "1000"], "--train 4500 + --test 1000 exceed the 5,000"),
    (["--quick", "--images", "500"], "--images 500 is more than the --test 100 images"),
    (["--quick", "--sweep-lanes", "7"], "--lanes 128 / --sweep-lanes 7: sweep_lanes = 7 "
                                       "must divide lanes = 128"),
])
def test_bad_combinations_are_refused_naming_the_flags(settings, tmp_path, argv, message):
    with pytest.raises(SystemExit) as exit_:
        spikefab(*argv, "--out", str(tmp_path))
    assert str(exit_.value).startswith("error: ") and message in str(exit_.value)
    assert not settings                    # the study never started


def test_every_point_prints_the_command_that_rebuilds_it(tmp_path):
    """As a user runs it (the console script, a relative ``--out``): each point's command,
    run as written in the report, builds the compare hardware for that point's network
    (``hardware_config`` of its P and S, max steps T) and its latency is the row's cycles."""
    pytest.importorskip("torch", reason="the train extra is part of make test")
    import json
    import subprocess
    import sys
    from pathlib import Path

    from spikefab.hw.accelerator import hardware_config
    from spikefab.model import Network
    from tests.boards.rebuild_check import dry_run, printed_commands, reference_rtlil

    process = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "spikefab"), "codesign", "--betas", "0.5", "1",
         "--thresholds", "1", "--epochs", "1", "--train", "200", "--test", "40", "--images",
         "4", "--steps", "6", "--hidden", "24", "--lanes", "12", "--sweep-lanes", "4",
         "--out", "study"], cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert process.returncode == 0, process.stderr[-2000:]
    summary = json.loads((tmp_path / "study" / "codesign.json").read_text())
    report = (tmp_path / "study" / "codesign.md").read_text()
    rows = summary["rows"]
    assert sorted(printed_commands(report)) == sorted(r["rebuild"] for r in rows)
    assert set(printed_commands(process.stdout)) <= {r["rebuild"] for r in rows}
    for row in rows:
        assert row["rebuild"] == (
            f"spikefab synth --board ulx3s --network study/networks/{row['name']}.npz "
            f"--lanes 12 10 --sweep-lanes 4 10 --format dense --queue-depth 16 --steps 6 "
            f"--spikes study/samples-T6.npz")
        rebuilt, rtlil, design = dry_run(tmp_path, row["rebuild"])
        network = Network.load(tmp_path / "study" / "networks" / f"{row['name']}.npz")
        assert rtlil == reference_rtlil("ulx3s", network, hardware_config(network, 12, 4),
                                        max_steps=6)
        assert design["latency"]["cycles_per_inference"] == pytest.approx(row["cycles"])
