"""The synthesis sweep builds the board top ``spikefab synth`` builds: the ULX3S's default
baud (issue 23: it was still 115,200), or the rate the caller asks for."""

import pytest

pytest.importorskip("amaranth_boards")

from spikefab.boards.build import board_top                     # noqa: E402
from spikefab.boards.registry import get_board                  # noqa: E402
from spikefab.model import HardwareConfig, reference_network    # noqa: E402
from spikefab.studies import synth_sweep                        # noqa: E402

SIZES, LANES, FORMAT = (8, 4, 2), 2, "csc"


def direct_rtlil(baud):
    """The RTLIL of ``board_top("ulx3s", ...)`` at ``baud`` (as spikefab synth builds it)."""
    network = reference_network(SIZES, w_bits=4, density=0.5, lanes=LANES)
    config = HardwareConfig.uniform(network, lanes=LANES, format=FORMAT, queue_depth=16)
    board = get_board("ulx3s")
    top = board_top(board, network, config, baud=baud, max_steps=16)
    return board.platform().prepare(top, name="top").files["top.il"]


def test_the_sweep_builds_at_the_board_default_baud_unless_asked():
    assert get_board("ulx3s").default_baud == 1_000_000
    default = synth_sweep.board_rtlil(SIZES, LANES, FORMAT)
    assert default == direct_rtlil(1_000_000)
    slow = synth_sweep.board_rtlil(SIZES, LANES, FORMAT, baud=115_200)
    assert slow == direct_rtlil(115_200) and slow != default


def test_a_sweep_point_records_its_baud_and_a_refused_one(tmp_path):
    record = synth_sweep.sweep_point(SIZES, LANES, FORMAT, tmp_path, baud=7)
    assert record["baud"] == 7 and not record["built"]
    assert record["stage"] == "elaboration" and "baud" in record["error"]
