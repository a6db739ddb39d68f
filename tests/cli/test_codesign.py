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
