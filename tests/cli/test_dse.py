"""``spikefab dse``'s command line: a bad specification, an unreachable scheduler and a bad
``--scheduler`` each end in one line (the sweep itself is tests/dse/test_sweep.py)."""

import subprocess
import sys

import pytest

from spikefab.cli import main


def test_cli_bad_spec_is_one_error_line(tmp_path):
    (tmp_path / "bad.yaml").write_text("axes:\n  format: [csr]\n")
    run = subprocess.run([sys.executable, "-m", "spikefab.cli", "dse", "bad.yaml"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "axes.format[0]" in run.stderr and "csc" in run.stderr


def test_a_scheduler_error_is_one_error_line(tmp_path, monkeypatch):
    from spikefab.dse import sweep

    def unreachable(spec, **options):
        raise sweep.SchedulerError("--scheduler tcp://127.0.0.1:1: cannot connect (refused)")
    monkeypatch.setattr(sweep, "run_sweep", unreachable)
    with pytest.raises(SystemExit) as exit_:
        main(["dse", "--preset", "quick", "--scheduler", "tcp://127.0.0.1:1", "--out",
              str(tmp_path)])
    assert exit_.value.code == "error: --scheduler tcp://127.0.0.1:1: cannot connect (refused)"


def test_a_bad_scheduler_is_refused_by_argparse(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["dse", "--scheduler", "udp://host"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].endswith(
        "argument --scheduler: 'udp://host' is not allowed; give local, serial or a scheduler "
        "address tcp://host:port")
