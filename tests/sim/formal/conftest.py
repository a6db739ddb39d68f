"""Shared by the proof tests: skip a module with the reason when the formal tools are absent
(``pytestmark = pytest.mark.usefixtures("solver")``)."""

import pytest

from spikefab.sim.formal import SolverNotFound, find_solver


@pytest.fixture(scope="module")
def solver():
    try:
        find_solver()
    except SolverNotFound as error:
        pytest.skip(f"formal tools missing: {error}")
