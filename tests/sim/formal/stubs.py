"""Stub proof runs for the tests of the proof table and of ``spikefab formal``."""

from pathlib import Path

from spikefab.sim.formal import FormalResult


def stub(status):
    """A proof ``run(workdir)`` returning a k-induction result with ``status`` and a cover
    run that reached three covers, without running sby."""
    def run(workdir):
        return (FormalResult("prove", 2, status, 0.5, Path(workdir), "", []),
                FormalResult("cover", 8, "PASS", 0.25, Path(workdir),
                             "reached cover statement\n" * 3, []))
    return run
