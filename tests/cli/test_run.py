"""``spikefab run`` (the board commands' shared options and network selection are in
tests/cli/test_synth.py)."""

import pytest

from spikefab.cli import main


def test_run_without_port_says_so():
    with pytest.raises(SystemExit, match="no serial port given"):
        main(["run", "--board", "icebreaker"])
