"""The weight-store mapping rule (block RAM or SPRAM) and the yosys script that lets a
run-time loaded store reach SPRAM."""

import json
import subprocess

import numpy as np
import pytest

from spikefab.boards.registry import runtime_weight_layers, spram_blocks
from spikefab.boards.synth import runtime_store_script
from spikefab.model import Layer, compile_weights


def images(sizes, lanes, fmt="dense"):
    rng = np.random.default_rng(0)
    return [compile_weights(Layer(rng.integers(-8, 8, size=(n, fan_in)), theta=9, w_bits=4,
                                  v_bits=12), min(lanes, n), fmt)
            for fan_in, n in zip(sizes, sizes[1:])]


def test_spram_blocks_by_hand():
    assert spram_blocks(16, 16384) == 1
    assert spram_blocks(32, 12544) == 2        # 784 x 16 words of 8 lanes x 4 bits
    assert spram_blocks(17, 16385) == 4
    assert spram_blocks(64, 100) == 4


def test_mnist_weights_go_to_spram_on_the_icebreaker_only():
    mnist = images((784, 128, 10), 8)          # 401,408 bits > half of 30 x 4 kbit
    assert mnist[0].memories["weights"].width * mnist[0].memories["weights"].depth == 401_408
    assert runtime_weight_layers("icebreaker", mnist) == [True, False]
    assert runtime_weight_layers("ulx3s", mnist) == [False, False]
    assert runtime_weight_layers("icebreaker", images((64, 128, 10), 2)) == [False, False]
    # 128 lanes x 4 bits = 512 bits wide: 32 SPRAMs, more than the UP5K's 4 -> block RAM.
    assert runtime_weight_layers("icebreaker", images((784, 128, 10), 128)) == [False, False]


def test_script_clears_the_initializer_of_each_store_size():
    assert runtime_store_script([]) == []
    script = runtime_store_script([401_408, 8_192, 401_408])
    assert script[:2] == ["proc", "memory_collect"]
    assert script[2:] == [
        "setparam -set INIT 8192'bx t:$mem_v2 a:spikefab_runtime_store=8192 %i",
        "setparam -set INIT 401408'bx t:$mem_v2 a:spikefab_runtime_store=401408 %i"]


@pytest.mark.slow
def test_a_runtime_store_becomes_spram(tmp_path):
    # The 784-128-10 first layer at P = 8, dense: 12,544 words of 32 bits. With the script,
    # synth_ice40 -spram maps it to 2 SB_SPRAM256KA (16 bits wide each) and no block RAM.
    from amaranth.back import rtlil

    from spikefab.hw.verilog import ports
    from spikefab.hw.weight_memory import WeightMemory
    from spikefab.toolchain import yowasp_env

    (image,) = images((784, 128), 8)
    store = WeightMemory(image, runtime=True)
    (tmp_path / "store.il").write_text(rtlil.convert(store, name="store", ports=ports(store)))
    script = (["read_rtlil store.il"] + runtime_store_script([32 * 12544])
              + ["synth_ice40 -top store -spram", "tee -q -o stat.json stat -json"])
    (tmp_path / "store.ys").write_text("\n".join(script) + "\n")
    env = yowasp_env()
    subprocess.run([env["YOSYS"], "-q", "store.ys"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=900)
    cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\store"]["num_cells_by_type"]
    assert cells.get("SB_SPRAM256KA") == spram_blocks(32, 12544) == 2
    assert "SB_RAM40_4K" not in cells
