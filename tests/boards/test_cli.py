"""The board command line (``spikefab synth|prog|run``): options and network selection.
``make synth`` end to end is in tests/test_front_door.py."""


import pytest

from spikefab.boards import cli


def test_run_without_port_says_so():
    with pytest.raises(SystemExit, match="no serial port given"):
        cli.main(["run", "--board", "icebreaker"])


def test_network_file_is_used(tmp_path):
    from spikefab.model import reference_network
    path = tmp_path / "net.npz"
    reference_network((8, 6, 3), w_bits=4).save(path)
    args = cli.parser().parse_args(["synth", "--network", str(path), "--lanes", "2"])
    assert args.sizes == [64, 128, 10]
    network, config = cli.network_and_config(args)
    assert network.shape == (8, 6, 3) and config.layers[0].lanes == 2
