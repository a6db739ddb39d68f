"""The command a report prints rebuilds exactly its design (:mod:`spikefab.boards.rebuild`):
the printed ``spikefab synth`` line, run as a user types it from the report's folder, makes
the same RTLIL the board flow hands to yosys as the design built through the Python API."""

import json

import numpy as np
import pytest

from spikefab.boards.rebuild import save_design, save_samples, synth_command, user_path
from spikefab.hw.accelerator import HARDWARE_TIMING
from spikefab.model import HardwareConfig, cycle_model, reference_network, simulate
from tests.boards.rebuild_check import dry_run, reference_rtlil

DESIGNS = [
    # board, sizes, per-layer lanes, per-layer sweep lanes, format, queue depth, max steps
    ("ulx3s", (20, 12, 6), [12, 6], [4, 3], "dense", 16, 30),
    ("ulx3s", (16, 10, 4), [5, 2], [5, 1], "csc", 8, 16),
    ("icebreaker", (24, 16, 4), [8, 4], [2, 2], "bitmap", 16, 100),
]


@pytest.mark.parametrize("board, sizes, lanes, sweep, fmt, depth, steps", DESIGNS,
                         ids=[f"{d[0]}-{d[4]}" for d in DESIGNS])
def test_the_printed_command_builds_the_same_top(tmp_path, monkeypatch, board, sizes, lanes,
                                                  sweep, fmt, depth, steps):
    monkeypatch.chdir(tmp_path)
    network = reference_network(sizes, w_bits=4, density=0.5, seed=3)
    config = HardwareConfig.uniform(network, lanes=lanes, sweep_lanes=sweep, format=fmt,
                                    queue_depth=depth, timing=HARDWARE_TIMING)
    path = save_design(tmp_path / "report", "design", network)
    trains = np.random.default_rng(1).random((5, steps // 2, sizes[0])) < 0.2
    samples = save_samples(tmp_path / "report", "samples", trains)
    command = synth_command(board, path, config, steps=steps, spikes=samples)
    assert "report/design.npz" in command and str(tmp_path) not in command  # relative paths
    process, rtlil, design = dry_run(tmp_path, command)
    assert rtlil == reference_rtlil(board, network, config, max_steps=steps)
    assert design["config"] == config.to_json() and design["max_steps"] == steps
    # The latency names its samples and is theirs, each alone.
    alone = [int(cycle_model(network, simulate(network, t), config).latency[0]) for t in trains]
    assert design["latency"]["cycles_per_inference"] == pytest.approx(np.mean(alone))
    assert "the 5 samples in report/samples.npz" in process.stdout


@pytest.mark.parametrize("board, clock_mhz, baud", [("ulx3s", 75, None),
                                                    ("icebreaker", 24, 3_000_000)])
def test_a_pll_clock_is_in_the_printed_command(tmp_path, monkeypatch, board, clock_mhz, baud):
    """A design built at a PLL clock (and a baud rate other than that clock's default) is
    rebuilt by a command that says so: the same top, PLL and UART divisor included."""
    monkeypatch.chdir(tmp_path)
    network = reference_network((12, 6, 3), w_bits=4, density=0.5, seed=4)
    config = HardwareConfig.uniform(network, lanes=[3, 3], timing=HARDWARE_TIMING)
    path = save_design(tmp_path / "report", "design", network)
    command = synth_command(board, path, config, steps=8, clock_mhz=clock_mhz, baud=baud)
    assert f"--clock-mhz {clock_mhz}" in command
    assert ("--baud" in command) == (baud is not None)
    _, rtlil, _ = dry_run(tmp_path, command)
    assert rtlil == reference_rtlil(board, network, config, max_steps=8, baud=baud,
                                    clock_mhz=clock_mhz)
    assert rtlil != reference_rtlil(board, network, config, max_steps=8, baud=baud)


def test_an_on_chip_encoder_is_in_the_printed_command(tmp_path, monkeypatch):
    """A design with the on-chip input encoder (PIXELS) is rebuilt by a command that builds
    the same encoder (kind, T = --steps, k = --scan) into the same top."""
    monkeypatch.chdir(tmp_path)
    network = reference_network((12, 6, 3), w_bits=4, density=0.5, seed=4)
    config = HardwareConfig.uniform(network, lanes=[3, 3], timing=HARDWARE_TIMING)
    path = save_design(tmp_path / "report", "design", network)
    encoder = dict(kind="latency", steps=8, scan=4)
    command = synth_command("ulx3s", path, config, steps=8, encoder=encoder)
    assert "--encoder latency --scan 4" in command
    _, rtlil, design = dry_run(tmp_path, command)
    assert design["encoder"] == encoder
    assert rtlil == reference_rtlil("ulx3s", network, config, max_steps=8, encoder=encoder)
    assert rtlil != reference_rtlil("ulx3s", network, config, max_steps=8,
                                    encoder=dict(encoder, scan=2))


def test_a_different_design_gives_a_different_top(tmp_path, monkeypatch):
    """The comparison above can fail: one sweep lane more is another top."""
    monkeypatch.chdir(tmp_path)
    network = reference_network((16, 10, 4), w_bits=4, seed=3)
    config = HardwareConfig.uniform(network, lanes=[5, 2], sweep_lanes=[5, 1])
    other = HardwareConfig.uniform(network, lanes=[5, 2], sweep_lanes=[5, 2])
    command = synth_command("ulx3s", save_design(tmp_path, "n", network), config, steps=16)
    _, rtlil, _ = dry_run(tmp_path, command)
    assert rtlil != reference_rtlil("ulx3s", network, other, max_steps=16)


def test_a_configuration_synth_cannot_express_is_refused():
    network = reference_network((16, 10, 4), w_bits=4)
    mixed = HardwareConfig.uniform(network, lanes=2, format=["csc", "dense"])
    with pytest.raises(ValueError, match="mixes them"):
        synth_command("ulx3s", "n.npz", mixed, steps=16)
    dense = HardwareConfig.uniform(network, lanes=2, mode="dense")
    with pytest.raises(ValueError, match="dense baseline"):
        synth_command("ulx3s", "n.npz", dense, steps=16)


def test_paths_outside_the_working_directory_stay_absolute(tmp_path, monkeypatch):
    (tmp_path / "here").mkdir()
    monkeypatch.chdir(tmp_path / "here")
    assert user_path(tmp_path / "here" / "a" / "b.npz") == "a/b.npz"
    assert user_path(tmp_path / "elsewhere.npz") == str(tmp_path / "elsewhere.npz")


def _recording_cosimulate(calls):
    """A stand-in for the co-simulation (Verilator is not what these tests check): records
    the network and configuration a demo names and answers with the golden model."""
    from types import SimpleNamespace

    def cosimulate(network, config, trains, **_):
        calls.append((network, config))
        return SimpleNamespace(agree=True, mismatches=[], chunk_speeds=[1.0],
                               classes=simulate(network, trains).predicted)
    return cosimulate


def test_the_digits_demo_prints_the_command_of_its_design(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    from spikefab.studies import digits_demo
    from tests.boards.rebuild_check import printed_commands
    calls = []
    monkeypatch.setattr(digits_demo, "cosimulate", _recording_cosimulate(calls))
    monkeypatch.chdir(tmp_path)
    summary = digits_demo.run(digits_demo.DigitsDemo(quick=True, samples=8, steps=8,
                                                     board=None, out=Path("report")))
    commands = printed_commands(capsys.readouterr().out)
    assert len(commands) == 1 and "--board icebreaker" in commands[0]
    assert "--network report/spikefab-64-" in commands[0]
    assert f"`{commands[0]}`" in (tmp_path / "report" / "report.md").read_text()
    (network, config), = calls
    process, rtlil, design = dry_run(tmp_path, commands[0])
    assert rtlil == reference_rtlil("icebreaker", network, config, max_steps=8)
    assert "the 60 samples in report/samples-T8.npz" in process.stdout
    assert design["latency"]["cycles_per_inference"] == pytest.approx(
        summary["cycles"]["single_image_latency_mean"])
    from spikefab.model import Network                  # the file records the code and T
    written = Network.load(tmp_path / commands[0].split("--network ")[1].split()[0])
    assert (written.encoder, written.steps) == ("rate", 8)


def test_the_mnist_demo_prints_the_command_of_its_design(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch", reason="the train extra is part of make test")
    from pathlib import Path

    from spikefab.studies import mnist_demo
    from tests.boards.rebuild_check import printed_commands
    calls = []
    monkeypatch.setattr(mnist_demo, "cosimulate", _recording_cosimulate(calls))
    monkeypatch.chdir(tmp_path)
    summary = mnist_demo.run(mnist_demo.MnistDemo(
        hidden=32, lanes=16, sweep_lanes=4, steps=10, samples=5, epochs=1, train=300,
        test=40, boards=(), out=Path("report")))
    commands = printed_commands(capsys.readouterr().out)
    assert commands == [
        "spikefab synth --board ulx3s --network report/spikefab-784-32-10.npz --lanes 16 10 "
        "--sweep-lanes 4 10 --format dense --queue-depth 16 --steps 10 "
        "--spikes report/samples-T10.npz"]
    (network, config), = calls
    process, rtlil, design = dry_run(tmp_path, commands[0])
    assert rtlil == reference_rtlil("ulx3s", network, config, max_steps=10)
    assert design["latency"]["cycles_per_inference"] == pytest.approx(
        summary["cycles"]["latency"])
    assert json.loads((tmp_path / "report" / "report.json").read_text())["rebuild"][0][
        "command"] == commands[0]


@pytest.mark.parametrize("conv", ["kernel", "unrolled"])
def test_a_conv_network_rebuilds_on_the_convolution_core_or_unrolled(tmp_path, monkeypatch,
                                                                    conv):
    """A conv network's command: its conv layers on the convolution core (the default: the
    fully connected layers' format goes to --format) or unrolled (--conv unrolled)."""
    from spikefab.sim.random_networks import random_conv_network
    monkeypatch.chdir(tmp_path)
    network = random_conv_network(np.random.default_rng(4), conv_layers=(2, 2))
    config = HardwareConfig.uniform(network, lanes=3, format="csc", queue_depth=8,
                                    timing=HARDWARE_TIMING, conv=conv)
    path = save_design(tmp_path / "report", "design", network)
    command = synth_command("ulx3s", path, config, steps=12)
    assert ("--conv unrolled" in command) == (conv == "unrolled") and "--format csc" in command
    _, rtlil, design = dry_run(tmp_path, command)
    assert rtlil == reference_rtlil("ulx3s", network, config, max_steps=12)
    assert design["config"] == config.to_json()


def test_a_balanced_placement_is_rebuilt_by_the_printed_command(tmp_path, monkeypatch):
    """``--placement balanced`` in the printed command: the same top (with its user-address
    tables), and a different one from the identity's."""
    monkeypatch.chdir(tmp_path)
    network = reference_network((16, 12, 4), w_bits=4, density=0.3, seed=3)
    config = HardwareConfig.uniform(network, lanes=[4, 2], sweep_lanes=[2, 2], format="csc",
                                    timing=HARDWARE_TIMING, placement="balanced")
    command = synth_command("ulx3s", save_design(tmp_path, "n", network), config, steps=16)
    assert "--placement balanced" in command
    _, rtlil, design = dry_run(tmp_path, command)
    assert rtlil == reference_rtlil("ulx3s", network, config, max_steps=16)
    assert design["config"] == config.to_json()
    identity = HardwareConfig.uniform(network, lanes=[4, 2], sweep_lanes=[2, 2], format="csc",
                                      timing=HARDWARE_TIMING)
    assert rtlil != reference_rtlil("ulx3s", network, identity, max_steps=16)


def test_an_early_exit_design_is_rebuilt_by_the_printed_command(tmp_path, monkeypatch):
    """``--exit margin:3`` in the printed command: the same board top as ``board_top(...,
    exit=("margin", 3))`` (the host link's identity and the readout's rule), a different one
    from the top without exit; the latency is the exit cycle model's on the samples."""
    monkeypatch.chdir(tmp_path)
    network = reference_network((16, 12, 4), w_bits=4, density=0.5, seed=3)
    config = HardwareConfig.uniform(network, lanes=[4, 2], format="csc",
                                    timing=HARDWARE_TIMING)
    path = save_design(tmp_path, "n", network)
    assert "--exit exact" in synth_command("ulx3s", path, config, steps=10, exit="exact")
    trains = np.random.default_rng(2).random((4, 10, 16)) < 0.4
    samples = save_samples(tmp_path, "samples", trains)
    command = synth_command("ulx3s", path, config, steps=10, spikes=samples,
                            exit=("margin", 3))
    assert "--exit margin:3" in command
    _, rtlil, design = dry_run(tmp_path, command)
    assert rtlil == reference_rtlil("ulx3s", network, config, max_steps=10, exit=("margin", 3))
    assert rtlil != reference_rtlil("ulx3s", network, config, max_steps=10)
    assert design["exit"] == "margin:3" and design["max_steps"] == 10
    alone = [int(cycle_model(network, simulate(network, t, exit=("margin", 3)),
                             config).latency[0]) for t in trains]
    assert design["latency"]["cycles_per_inference"] == pytest.approx(np.mean(alone))
