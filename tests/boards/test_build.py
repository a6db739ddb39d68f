"""spikefab.boards.build, the one board build: the memory rule decides where weights live (as
boards.registry states it, checked against the rule applied by hand), a refused configuration
is a record, not an exception, and every record says which design it describes. Real builds:
tests/boards/test_synth.py (the flow), tests/studies/test_compare.py (a design that does not
fit), tests/cli/test_synth.py (the command)."""

import gc
import warnings

import pytest

from spikefab.boards.build import board_top, build_board, runtime_layers
from spikefab.boards.registry import BRAM_BITS, get_board
from spikefab.boards.report import SynthesisError
from spikefab.hw.elaboration import never_elaborated
from spikefab.model import HardwareConfig, compile_weights, reference_network

pytest.importorskip("amaranth_boards")

BIG = reference_network((784, 128, 10), w_bits=4)        # 784 x 128 x 4 bits of weights
BIG_CONFIG = HardwareConfig.uniform(BIG, lanes=[8, 10], sweep_lanes=[2, 10], format="dense")
SMALL = reference_network((16, 12, 4), w_bits=4)
SMALL_CONFIG = HardwareConfig.uniform(SMALL, lanes=2)


def test_large_weight_stores_go_to_spram_on_the_icebreaker_only():
    icebreaker = get_board("icebreaker")
    limit = icebreaker.resources["BRAM"] * BRAM_BITS["ice40"] // 2
    sizes = [compile_weights(layer, c.lanes, c.format).memories["weights"]
             for layer, c in zip(BIG, BIG_CONFIG.layers)]
    expected = [memory.width * memory.depth > limit for memory in sizes]
    assert expected == [True, False]                 # the rule, by hand: only layer 1 is big
    assert runtime_layers("icebreaker", BIG, BIG_CONFIG) == expected
    assert runtime_layers("ulx3s", BIG, BIG_CONFIG) == [False, False]   # no SPRAM
    top = board_top("icebreaker", BIG, BIG_CONFIG, max_steps=25)
    assert list(top.runtime_weights) == expected
    assert top.max_steps == 25
    other = board_top("icebreaker", BIG, BIG_CONFIG, runtime_weights=[False, False])
    assert list(other.runtime_weights) == [False, False]
    never_elaborated([top, other])               # built to be inspected, not elaborated


def test_a_refused_top_raises_and_leaves_no_unused_warning():
    gc.collect()                                  # only this test's objects below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ValueError, match="divisor"):      # the UART divisor at that baud
            board_top("icebreaker", SMALL, SMALL_CONFIG, baud=12_000_000)
        gc.collect()
    assert not [w for w in caught if "never used" in str(w.message)]


def _never_called(board, top, *, build_dir):
    raise AssertionError("a refused design must not reach the flow")


def test_build_records_say_what_happened_and_which_design(tmp_path):
    refused = build_board("icebreaker", SMALL, SMALL_CONFIG, tmp_path, max_steps=15,
                          baud=12_000_000, synthesize=_never_called)
    assert refused["status"] == "cannot be generated" and "divisor" in refused["error"]
    assert refused["config"] == SMALL_CONFIG.to_json()
    assert refused["configuration"] == SMALL_CONFIG.describe()
    assert refused["weights_in_spram"] == [False, False]

    def tool_fails(board, top, *, build_dir):
        never_elaborated(top)                     # a stand-in for a flow that failed early
        raise SynthesisError("nextpnr-ice40 failed: routing")
    failed = build_board("icebreaker", SMALL, SMALL_CONFIG, tmp_path, max_steps=15,
                         synthesize=tool_fails)
    assert failed["status"] == "failed" and failed["error"] == "nextpnr-ice40 failed: routing"
    assert failed["board"] == "icebreaker" and failed["clock_mhz"] == 12


def test_the_configuration_describes_itself():
    assert BIG_CONFIG.describe() == "P = 8, S = 2; then P = S = 10; dense, queue 16"
    assert BIG_CONFIG.to_json()["layers"][0] == {"lanes": 8, "sweep_lanes": 2,
                                                 "format": "dense", "queue_depth": 16}
