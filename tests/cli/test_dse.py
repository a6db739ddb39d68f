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


def test_the_report_prints_the_command_of_every_named_design(tmp_path):
    """As a user runs it (``--preset quick``, relative ``--out``): every design of a Pareto
    set has its ``spikefab synth`` command in the report; run as written it builds that
    point (its lanes, format, queue depth, T) for the network the sweep evaluated (the same
    digest) with the samples of its cycle figures (their cycles back to back are the row's)."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import numpy as np
    import pytest

    from spikefab.dse.cache import network_digest
    from spikefab.dse.tasks import point_config
    from spikefab.dse.spec import Point
    from spikefab.model import Network, cycle_model, simulate
    from tests.boards.rebuild_check import dry_run, printed_commands, reference_rtlil

    process = subprocess.run([str(Path(sys.prefix) / "bin" / "spikefab"), "dse", "--preset",
                              "quick", "--scheduler", "serial", "--no-dashboard", "--out",
                              "sweep"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=1200)
    assert process.returncode == 0, process.stderr[-2000:]
    table = json.loads((tmp_path / "sweep" / "points.json").read_text())
    points, commands = table["points"], table["rebuild"]
    pareto = json.loads((tmp_path / "sweep" / "pareto.json").read_text())
    named = {label for labels in pareto.values() for label in labels}
    rows = [r for r in points if r["label"] in named]
    assert rows and set(commands) == {r["label"] for r in rows}
    report = (tmp_path / "sweep" / "report.md").read_text()
    assert sorted(printed_commands(report)) == sorted(set(commands.values()))
    assert set(printed_commands(process.stdout)) == set(printed_commands(report))
    for row in rows:
        command = commands[row["label"]]
        words = command.split()
        network = Network.load(tmp_path / words[words.index("--network") + 1])
        assert network_digest(network) == row["network"]
        point = Point.from_dict({k: row[k] for k in ("w_bits", "density", "steps", "encoder",
                                                     "format", "queue_depth", "lanes")})
        config = point_config(network, point)
        _, rtlil, _ = dry_run(tmp_path, command)
        assert rtlil == reference_rtlil("icebreaker", network, config, max_steps=row["steps"])
        with np.load(tmp_path / words[words.index("--spikes") + 1]) as archive:
            trains = archive["spikes"].astype(bool)
        report_ = cycle_model(network, simulate(network, trains), config)
        assert report_.total / len(trains) == pytest.approx(row["cycles_per_image"])
