"""``spikefab soak``'s command line (the soak itself is tests/sim/test_soak.py)."""

import pytest

from spikefab.cli import main


def test_only_out_of_range_is_one_error_line(tmp_path):
    with pytest.raises(SystemExit) as exit_:
        main(["soak", "--seed", "1", "--cases", "20", "--per-build", "10", "--only", "3",
              "--out", str(tmp_path), "--no-progress"])
    assert exit_.value.code == ("error: only = 3 is out of range; allowed range is [0, 1] for "
                                "20 cases at 10 per build")


def test_bad_flags_are_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["soak", "--cases", "0"])
    assert exit_.value.code == 2
    assert "argument --cases: 0 is out of range" in capsys.readouterr().err
