"""The examples in the docstrings run as written."""

import doctest
import importlib

import pytest

MODULES = ["spikeforge.model.memory", "spikeforge.model.simulate", "spikeforge.model.encoders",
           "spikeforge.model.quantize", "spikeforge.sim.cosim", "spikeforge.sim.pareto",
           "spikeforge.sim.dse_spec", "spikeforge.sim.energy"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
