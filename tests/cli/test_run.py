"""``spikefab run`` (the board commands' shared options and network selection are in
tests/cli/test_synth.py)."""

import re
from types import SimpleNamespace

import pytest

from spikefab.cli import main


def test_run_without_port_says_so():
    with pytest.raises(SystemExit, match="no serial port given"):
        main(["run", "--board", "icebreaker"])


class FakeDevice:
    """A board that answers like the golden model (or, ``wrong``, with one class off)."""

    identity = SimpleNamespace(exit=None, exit_margin=0, exit_steps=0)   # built without exit

    def __init__(self, link, wrong=False):
        self.wrong = wrong

    def check(self, network, config):
        self.network = network
        return [None] * len(network)                 # the placements: every layer identity

    def load(self, network, placements=None, progress=False):
        assert placements == [None] * len(network)

    def infer(self, trains, progress=False):
        from spikefab.boards.host import Result
        from spikefab.model import simulate
        golden = simulate(self.network, trains)
        return [Result(int(c) + (1 if self.wrong and i == 0 else 0), tuple(map(int, k)), 100)
                for i, (c, k) in enumerate(zip(golden.predicted, golden.counts))]

    def counters(self):
        layers = [dict(events=1234, words=5678, synaptic_updates=91011, busy=1213, stall=14)
                  for _ in range(2)]
        return {"layers": layers, "high_water": [3, 2], "error": False, "idle": True,
                "sample_open": False, "state": None}


@pytest.mark.parametrize("wrong", [False, True])
def test_run_reads_a_reports_samples_file_and_prints_tables(tmp_path, monkeypatch, capsys,
                                                           wrong):
    """``--spikes`` takes the ``.npz`` samples file a report writes (as ``synth`` does), and
    the answer is printed for a person: classes as numbers, the counters as a table."""
    import numpy as np

    from spikefab.boards import host
    from spikefab.boards.rebuild import save_samples
    monkeypatch.setattr(host, "open_serial", lambda port, baud, timeout: None)
    monkeypatch.setattr(host, "Device", lambda link: FakeDevice(link, wrong))
    rng = np.random.default_rng(5)
    save_samples(tmp_path, "samples-T8", rng.random((3, 8, 16)) < 0.3)
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--board", "icebreaker", "--port", "fake", "--sizes", "16", "8", "4",
            "--steps", "8", "--spikes", "samples-T8.npz"]
    if wrong:
        with pytest.raises(SystemExit, match="the board disagrees with the golden model"):
            main(argv)
    else:
        main(argv)
    out = capsys.readouterr().out
    assert f"agreement with the golden model (class and every count): {2 if wrong else 3}/3" \
        in out
    assert "3 samples; classes: " in out
    rows = [[cell.strip() for cell in line.strip("| ").split("|")]
            for line in out.splitlines() if line.startswith("|")]
    assert rows[0][:4] == ["layer", "events", "weight words", "synaptic updates"]
    assert rows[2][:4] == ["1", "1,234", "5,678", "91,011"]
    assert "error flag clear; idle; a sample is not open" in out
    for python in ("{'", "[(", "': ", "True", "False"):
        assert python not in out


class ExitDevice(FakeDevice):
    """A bitstream built with ``--exit margin:2`` for samples of 8 steps: its identity says
    so and it answers like the golden model with that rule (``steps`` the steps run; with
    ``wrong``, one sample's steps off by one)."""

    identity = SimpleNamespace(exit="margin", exit_margin=2, exit_steps=8)

    def infer(self, trains, progress=False):
        from spikefab.boards.host import Result
        from spikefab.model import simulate
        golden = simulate(self.network, trains, exit=("margin", 2))
        return [Result(int(c), tuple(map(int, k)), 100, int(s) + (self.wrong and i == 1))
                for i, (c, k, s) in enumerate(zip(golden.predicted, golden.counts, golden.ran))]


@pytest.mark.parametrize("given, wrong, error", [
    (None, False, None), (["--exit", "margin:2"], False, None),
    (None, True, "the board disagrees with the golden model"),
    (["--exit", "exact"], False, "--exit exact: the device was built with early exit margin:2; "
                                 "give --exit margin:2 or leave it out"),
    (["--exit", "none"], False, "--exit none: the device was built with early exit margin:2")])
def test_run_takes_or_checks_the_early_exit_of_the_device(monkeypatch, capsys, given, wrong,
                                                          error):
    """Without ``--exit`` the rule (and T) come from the device's identity; a given one must
    agree; the golden model runs with the rule and the steps each sample ran are compared."""
    from spikefab.boards import host
    from spikefab.model import simulate, reference_network
    monkeypatch.setattr(host, "open_serial", lambda port, baud, timeout: None)
    monkeypatch.setattr(host, "Device", lambda link: ExitDevice(link, wrong))
    argv = ["run", "--board", "icebreaker", "--port", "fake", "--sizes", "16", "8", "4",
            "--samples", "6", *(given or [])]
    if error:
        with pytest.raises(SystemExit, match=re.escape(error)):
            main(argv)
        return
    main(argv)
    out = capsys.readouterr().out
    network = reference_network((16, 8, 4), w_bits=4, density=0.5, lanes=2)
    trains = host.typical_inputs(network, samples=6, steps=8)          # the device's T
    golden = simulate(network, trains, exit=("margin", 2))
    assert (golden.ran < 8).any()
    assert (f"agreement with the golden model (class and every count; early exit margin:2: "
            f"the steps run, mean {golden.ran.mean():.2f} of 8): 6/6") in out


def test_the_counters_table_shows_dropped_events_of_an_exit_build():
    """``counters_table``: the ``dropped`` counter (early exit) gets its column, and only
    where the device reports it."""
    from spikefab.cli.run import counters_table
    layer = {"events": 1200, "words": 30, "synaptic_updates": 45, "busy": 7, "stall": 0}
    counters = {"layers": [layer, dict(layer, events=3)], "high_water": [5, 2],
                "error": False, "idle": True, "sample_open": False}
    plain = counters_table(counters)
    assert "dropped" not in plain and "1,200" in plain
    exit_counters = dict(counters, layers=[dict(layer, dropped=321), dict(layer, dropped=4)])
    text = counters_table(exit_counters).splitlines()
    assert "dropped events" in text[1]
    header = [c.strip() for c in text[1].strip("|").split("|")]
    first = [c.strip() for c in text[3].strip("|").split("|")]
    assert first[header.index("dropped events")] == "321"
    assert first[header.index("queue high-water")] == "5"


def _on_simulated_link(monkeypatch, folder, link):
    """``spikefab run``'s arguments for ``folder/net.npz`` on a device that is ``link`` in the
    Amaranth simulator (the serial port opened by the host driver), run from ``folder``."""
    from spikefab.boards import host
    from spikefab.boards.simulated import SimulatedSerial
    monkeypatch.setattr(host, "open_serial", lambda port, baud, timeout: SimulatedSerial(link))
    monkeypatch.chdir(folder)
    return ["run", "--board", "icebreaker", "--port", "sim", "--network", "net.npz",
            "--lanes", "2", "--steps", "20", "--samples", "3"]


@pytest.mark.parametrize("given", [False, True])
def test_a_device_with_the_on_chip_encoder_gets_images(tmp_path, monkeypatch, capsys, given):
    """Against the simulated host link built with the rate encoder: ``spikefab run`` sends
    images as PIXELS (``--pixels``, or random ones) and compares each answer with the golden
    model fed the device's own code of them (its T and seed, from its identity)."""
    import numpy as np

    from spikefab.boards.link import HostLink
    from spikefab.model import HardwareConfig, Network, reference_network
    network = reference_network((16, 8, 4), w_bits=4, density=0.6, seed=1)
    network.save(tmp_path / "net.npz")
    config = HardwareConfig.uniform(Network.load(tmp_path / "net.npz"), lanes=2, queue_depth=4)
    link = HostLink(network, config, divisor=4, timeout=400, max_steps=20,
                    encoder=dict(kind="rate", steps=6, scan=4, seed=12345))
    argv = _on_simulated_link(monkeypatch, tmp_path, link)
    if given:
        np.save(tmp_path / "images.npy", np.arange(2 * 16).reshape(2, 16) * 8)
        argv += ["--pixels", "images.npy"]
    main(argv)
    out = capsys.readouterr().out
    images = 2 if given else 3
    assert f"{images} images as PIXELS through the device's rate encoder (T = 6, k = 4)" in out
    assert f"agreement with the golden model (class and every count): {images}/{images}" in out
    np.save(tmp_path / "bad.npy", np.full((1, 16), 256))
    with pytest.raises(SystemExit, match=r"allowed: \[B, 16\] integers in \[0, 255\]"):
        main(argv[:-2] + ["--pixels", "bad.npy"] if given else argv + ["--pixels", "bad.npy"])


def test_a_device_with_a_direct_network_gets_images(tmp_path, monkeypatch, capsys):
    """A direct network (docs/design.md §13) behind the encoder's direct kind: ``spikefab
    run`` sends images as PIXELS and compares with the golden model of their values; spikes
    are refused (they cannot carry values)."""
    import numpy as np

    from spikefab.boards.link import HostLink
    from spikefab.model import HardwareConfig, Network, reference_network
    spiking = reference_network((16, 8, 4), w_bits=4, density=0.6, seed=1)
    network = Network((spiking[0].replace(x_bits=8, x_shift=6),) + spiking.layers[1:])
    network.save(tmp_path / "net.npz")
    config = HardwareConfig.uniform(network, lanes=2, queue_depth=4)
    link = HostLink(network, config, divisor=4, timeout=400, max_steps=20,
                    encoder=dict(kind="direct", steps=6, scan=4))
    argv = _on_simulated_link(monkeypatch, tmp_path, link)
    main(argv)
    out = capsys.readouterr().out
    assert "3 images as PIXELS through the device's direct encoder (T = 6, k = 4)" in out
    assert "agreement with the golden model (class and every count): 3/3" in out
    np.save(tmp_path / "trains.npy", np.ones((1, 6, 16), dtype=bool))
    with pytest.raises(SystemExit, match="runs a direct network, whose samples are images"):
        main(argv + ["--spikes", "trains.npy"])
