"""`make synth` end to end for the iCEBreaker: bitstream, report files with resources, Fmax
and latency, the default network fitting the UP5K."""

import json

import pytest

from spikeforge.boards import cli
from spikeforge.boards.registry import BOARDS


@pytest.mark.slow
def test_synth_icebreaker_writes_bitstream_and_report(tmp_path, capsys):
    cli.main(["synth", "--board", "icebreaker", "--out", str(tmp_path)])   # P = 2 default
    folder = tmp_path / "icebreaker"
    assert (folder / "top.bin").stat().st_size > 100_000
    report = json.loads((folder / "report.json").read_text())
    up5k = BOARDS["icebreaker"].resources
    for name in ("LUT", "FF", "BRAM", "DSP", "SPRAM"):
        used = report["resources"][name]["used"]
        assert 0 <= used <= up5k[name] == report["resources"][name]["available"]
    assert report["resources"]["BRAM"]["used"] > 0
    assert report["clock"]["fmax_mhz"] > report["clock"]["board_mhz"] == 12.0
    latency = report["latency"]
    assert latency["us_at_board_clock"] == pytest.approx(latency["cycles_per_inference"] / 12.0)
    assert report["network"]["shape"] == [64, 128, 10]
    text = (folder / "report.md").read_text()
    assert "| LUT" in text and "µs at the 12 MHz board clock" in text
    assert "bitstream:" in capsys.readouterr().out


def test_run_without_port_says_so():
    with pytest.raises(SystemExit, match="no serial port given"):
        cli.main(["run", "--board", "icebreaker"])


def test_network_file_is_used(tmp_path):
    from spikeforge.model import reference_network
    path = tmp_path / "net.npz"
    reference_network((8, 6, 3), w_bits=4).save(path)
    args = cli.parser().parse_args(["synth", "--network", str(path), "--lanes", "2"])
    assert args.sizes == [64, 128, 10]
    network, config = cli.network_and_config(args)
    assert network.shape == (8, 6, 3) and config.layers[0].lanes == 2
