"""``spikefab throughput``'s flags (the study itself: tests/studies/test_link_throughput.py)
and the UART rate ``spikefab run`` opens the port at: ``--baud``, else the rate in the
``design.json`` of the bitstream ``spikefab synth`` built in ``--out``, else the board's."""

import json

import numpy as np
import pytest

from spikefab.cli import main, parser

pytest.importorskip("amaranth_boards")


def test_network_needs_one_demo(tmp_path):
    network = tmp_path / "n.npz"
    network.write_bytes(b"")
    with pytest.raises(SystemExit, match="--network names one demo's network; give one "
                                         "--demo, not digits mnist"):
        main(["throughput", "--network", str(network), "--out", str(tmp_path / "out")])


@pytest.mark.parametrize("flag, value", [("--baud", "300"), ("--baud", "fast"),
                                         ("--images", "0"), ("--board", "arty")])
def test_bad_flags_are_refused(flag, value, capsys):
    with pytest.raises(SystemExit) as exit:
        parser().parse_args(["throughput", flag, value])
    assert exit.value.code == 2
    assert flag in capsys.readouterr().err


def test_a_rate_the_board_clock_cannot_make_is_one_error_line(tmp_path, monkeypatch):
    """3 Mbaud at the ULX3S's 25 MHz (divisor 8: 3.125 Mbaud, 4.2 % off) is refused before
    any Verilator build, naming the rate and the clock."""
    from spikefab.model import HardwareConfig, reference_network
    from spikefab.studies import link_throughput
    network = reference_network((12, 8, 3), w_bits=4)
    config = HardwareConfig.uniform(network, lanes=2)
    trains = np.zeros((1, 2, 12), bool)
    monkeypatch.setattr(link_throughput, "demo_setup", lambda demo, images, **_: (
        network, {"ulx3s": config}, trains))
    with pytest.raises(SystemExit, match=r"baud = 3000000 cannot be made from a 25 MHz clock "
                                         r"within 2 % \(divisor 8\)"):
        main(["throughput", "--demo", "digits", "--board", "ulx3s", "--baud", "3000000",
              "--out", str(tmp_path / "out")])


def test_baud_defaults():
    args = parser().parse_args(["throughput"])
    assert args.baud == [None] and args.demo == ["digits", "mnist"] and args.images == 3
    assert parser().parse_args(["throughput", "--baud", "115200", "default"]).baud == [
        115200, None]


def test_run_opens_the_port_at_the_rate_the_bitstream_was_built_with(tmp_path, monkeypatch,
                                                                    capsys):
    from spikefab.boards import host
    from spikefab.cli.board_options import baud_of
    opened = []

    def fake_open(port, baud, timeout):
        opened.append(baud)
        raise OSError("no such port (test)")

    monkeypatch.setattr(host, "open_serial", fake_open)
    out = tmp_path / "build"
    common = ["run", "--port", "/dev/null-test", "--sizes", "16", "8", "4", "--out", str(out)]
    for board, expected in (("icebreaker", 3_000_000), ("ulx3s", 1_000_000),
                            ("orangecrab", 115_200)):
        with pytest.raises(SystemExit, match="no such port"):
            main(common + ["--board", board])
        assert opened[-1] == expected
        assert f"{expected:,} baud (the {board}'s default)" in capsys.readouterr().out
    (out / "ulx3s").mkdir(parents=True)
    (out / "ulx3s" / "design.json").write_text(json.dumps({"board": "ulx3s", "baud": 1_500_000}))
    with pytest.raises(SystemExit, match="no such port"):
        main(common + ["--board", "ulx3s"])
    assert opened[-1] == 1_500_000
    with pytest.raises(SystemExit, match="no such port"):
        main(common + ["--board", "ulx3s", "--baud", "57600"])
    assert opened[-1] == 57_600
    args = parser().parse_args(["synth", "--board", "ulx3s", "--out", str(out)])
    assert baud_of(args)[0] == 1_500_000          # the bitstream's rate, not the default


def test_events_sends_two_byte_frames_and_the_table_says_so(tmp_path, monkeypatch, capsys):
    """``--events`` reaches the host driver as ``compact=False`` (EVENTS frames and a RESULT
    per image, the way before protocol version 4; measured by tests/boards and
    tests/sim/test_link_verilator), and the table's board cell names it."""
    from spikefab.model import HardwareConfig, reference_network
    from spikefab.studies import link_throughput
    network = reference_network((12, 8, 3), w_bits=4)
    config = HardwareConfig.uniform(network, lanes=2)
    monkeypatch.setattr(link_throughput, "demo_setup", lambda demo, images, **_: (
        network, {"icebreaker": config}, np.zeros((1, 2, 12), bool)))
    seen = []

    def fake_measure(board, network, config, trains, *, compact=None, **options):
        seen.append(compact)
        return link_throughput.LinkThroughput(
            board=board, demo="digits", baud=3_000_000, divisor=4, clock_mhz=12.0, images=1,
            steps=2, configuration="", cycles=1000, up_bytes=10, down_bytes=6, requests=2,
            line_cycles=640, compute_cycles=100, classes=1, counts=1, result_cycles=1,
            load_requests=0, load_seconds=0.0, sim_seconds=0.0, pixels=12,
            events=compact is False)

    monkeypatch.setattr(link_throughput, "measure", fake_measure)
    for flags in ([], ["--events"]):
        main(["throughput", "--demo", "digits", "--board", "icebreaker", "--images", "1",
              "--out", str(tmp_path / "out"), *flags])
    assert seen == [None, False]
    printed = capsys.readouterr().out
    assert printed.count("icebreaker (EVENTS)") == 2               # both tables of the second
    assert "| icebreaker |" in printed                             # the first run: SPIKES


def test_the_code_and_t_come_from_the_network_file(tmp_path, monkeypatch, capsys):
    """``--network`` without ``--encoder`` / ``--steps``: the images are coded as the file
    records (one line says so); given, an option wins; a file recording neither leaves the
    demo's defaults (``None`` to the study, as before)."""
    from spikefab.model import reference_network
    from spikefab.studies import link_throughput
    asked = []

    def study(demos, boards, *, encoder, steps, **_):
        asked.append((encoder, steps))
        return []
    monkeypatch.setattr(link_throughput, "run", study)
    monkeypatch.setattr(link_throughput, "table_rows", lambda runs: (["x"], []))
    monkeypatch.setattr(link_throughput, "plan_rows", lambda runs: (["x"], []))
    network = reference_network((784, 8, 10), w_bits=4)
    network.with_input("latency", 8).save(tmp_path / "coded.npz")
    network.save(tmp_path / "plain.npz")
    base = ["throughput", "--demo", "mnist", "--board", "ulx3s", "--out", str(tmp_path / "o")]
    main([*base, "--network", str(tmp_path / "coded.npz")])
    assert asked.pop() == ("latency", 8)
    assert f"input code: latency, T = 8 (recorded in {tmp_path / 'coded.npz'})" in \
        capsys.readouterr().out
    main([*base, "--network", str(tmp_path / "coded.npz"), "--encoder", "rate"])
    assert asked.pop() == ("rate", 8)
    assert "input code: rate (--encoder; " in capsys.readouterr().out
    main([*base, "--network", str(tmp_path / "plain.npz")])
    assert asked.pop() == (None, None)
    assert "input code" not in capsys.readouterr().out


def test_a_direct_network_needs_pixels(tmp_path, monkeypatch):
    """A direct network's images are values: without --pixels (spikes) one error line."""
    from spikefab.model import Network, reference_network
    spiking = reference_network((64, 12, 10), w_bits=4, density=0.5, seed=2)
    Network((spiking[0].replace(x_bits=8),) + spiking.layers[1:], steps=4).save(
        tmp_path / "net.npz")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match="has a direct first layer: its images go up as "
                                         "values, in PIXELS frames"):
        main(["throughput", "--demo", "digits", "--board", "ulx3s", "--network", "net.npz",
              "--images", "2"])
