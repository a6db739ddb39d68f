"""On a real board (set SPIKEFAB_BOARD_PORT to its serial port, and SPIKEFAB_BOARD to its
name, after `make synth` and `make prog`): identify, load and infer, checked against the
golden model. Skipped, with that reason, when no board is attached."""

import os

import numpy as np
import pytest

from spikefab.boards.host import typical_inputs
from spikefab.cli import parser
from spikefab.cli.board_options import network_and_config
from spikefab.model import simulate

PORT = os.environ.get("SPIKEFAB_BOARD_PORT")

pytestmark = pytest.mark.skipif(
    not PORT, reason="no FPGA board attached (set SPIKEFAB_BOARD_PORT=/dev/ttyUSB1 and "
                     "SPIKEFAB_BOARD=icebreaker after make synth and make prog)")


def test_board_matches_golden():
    from spikefab.boards.host import Device, open_serial
    board = os.environ.get("SPIKEFAB_BOARD", "icebreaker")
    args = parser().parse_args(["run", "--board", board])
    network, config = network_and_config(args)
    device = Device(open_serial(PORT, args.baud, timeout=2.0, board=board))
    device.check(network, config)
    device.load(network)
    trains = typical_inputs(network, samples=20)
    results = device.infer(trains)
    golden = simulate(network, trains)
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert np.array_equal([r.counts for r in results], golden.counts)
