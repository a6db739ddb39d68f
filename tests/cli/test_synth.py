"""``spikefab synth`` (and the options and network selection it shares with ``prog`` and
``run``, :mod:`spikefab.cli.board_options`). ``make synth`` end to end is in
tests/test_front_door.py."""

from spikefab.cli import parser
from spikefab.cli.board_options import network_and_config


def test_network_file_is_used(tmp_path):
    from spikefab.model import reference_network
    path = tmp_path / "net.npz"
    reference_network((8, 6, 3), w_bits=4).save(path)
    args = parser().parse_args(["synth", "--network", str(path), "--lanes", "2"])
    assert args.sizes == [64, 128, 10]
    network, config = network_and_config(args)
    assert network.shape == (8, 6, 3) and config.layers[0].lanes == 2
