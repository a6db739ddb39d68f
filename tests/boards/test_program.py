"""`make prog` without a board: the error says why (no board, or the missing system library
and which package provides it), never a bare tool failure."""

import pytest

from spikefab.boards.program import ProgramError, program


def test_missing_bitstream_and_unknown_board(tmp_path):
    with pytest.raises(ProgramError, match="no bitstream at .*run 'make synth BOARD=icebreaker'"):
        program("icebreaker", tmp_path / "top.bin")
    with pytest.raises(ProgramError, match="board = 'arty' is not allowed; choose one of "
                                           "icebreaker, ulx3s, orangecrab"):
        program("arty", tmp_path / "top.bin")


def test_no_board_connected_is_explained(tmp_path):
    bitstream = tmp_path / "top.bin"
    bitstream.write_bytes(bytes(1024))
    with pytest.raises(ProgramError) as error:
        program("icebreaker", bitstream, timeout=60)
    message = str(error.value)
    # This machine has no board; depending on whether libusb is installed the tool cannot
    # start or finds no device. Either way the message names the cause and the remedy.
    assert ("libusb-1.0-0" in message) or ("no icebreaker board found" in message), message
