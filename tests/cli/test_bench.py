"""``spikefab bench`` as a user runs it: the flags reach the benchmark
(:func:`spikefab.studies.bench.run`), and a small run prints every table. ``make bench`` is
tests/test_front_door.py."""

import pytest

from spikefab import cli
from spikefab.studies import bench


@pytest.fixture(autouse=True)
def blas_threads(monkeypatch):
    """``spikefab bench`` pins the BLAS threads in its environment; leave the tests' as found."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "x")
        monkeypatch.delenv(var)


def test_the_flags_are_the_benchmarks_keywords(monkeypatch):
    given = []
    monkeypatch.setattr(bench, "run", lambda **options: given.append(options))
    assert cli.main(["bench"]) == 0
    assert given == [dict(batch=256, steps=25, activity=0.1, repeats=5, samples=16, lanes=8,
                          densities=[0.5, 0.2, 0.1], cosim="all")]
    assert cli.main(["bench", "--batch", "4", "--densities", "0.3", "--cosim", "none"]) == 0
    assert given[1]["batch"] == 4 and given[1]["densities"] == [0.3]
    assert given[1]["cosim"] == "none"


def test_a_small_run_prints_every_table(capsys):
    assert cli.main(["bench", "--batch", "4", "--steps", "3", "--repeats", "1", "--samples",
                     "2", "--densities", "0.5", "--cosim", "none"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# spikefab benchmark\n")
    assert "## Golden model (simulate), one core — 784-256-10, T = 3" in out
    assert "| 64-128-10 (50%, balanced) | csc |" in out
    assert "| 784-256-10 (50%, global) | bitmap |" in out
    assert "Co-simulation speed" not in out
