"""The examples in the docstrings run as written."""

import doctest
import importlib

import pytest

MODULES = ["spikefab.model.memory", "spikefab.model.simulate", "spikefab.model.encoders",
           "spikefab.model.quantize", "spikefab.sim.cosim", "spikefab.dse.pareto",
           "spikefab.dse.spec", "spikefab.dse.energy"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
