"""``spikefab demo`` as a user runs it: the flags become the digits or the MNIST demo's
settings (their own defaults filled in), a study's mismatch or failed step ends in one line,
and ``--dataset mnist --quick`` checked from outside: the network it writes is the one in
model.nir, and its golden accuracy and the hardware's are recomputed here from the data and
the golden model. The studies themselves are tests/studies/test_digits_demo.py and
test_mnist_demo.py; ``make demo`` is tests/test_front_door.py."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikefab import cli
from spikefab.model import Network, load_mnist, mnist_split, simulate
from spikefab.model.mnist import mnist_spikes
from spikefab.studies import digits_demo, mnist_demo
from spikefab.studies.digits_demo import DigitsDemo
from spikefab.studies.mnist_demo import MnistDemo
from spikefab.studies.report import Mismatch, StudyError

SPIKEFAB = str(Path(sys.executable).parent / "spikefab")


@pytest.fixture
def given(monkeypatch):
    """What ``spikefab demo`` hands to the studies (which do not run)."""
    calls = []
    monkeypatch.setattr(digits_demo, "run",
                        lambda settings, *, options: calls.append((settings, options)) or {})
    monkeypatch.setattr(mnist_demo, "run", lambda settings: calls.append((settings, None)) or {})
    return calls


def test_the_digits_demo_takes_its_own_defaults(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo"]) == 0
    ((settings, options),) = given
    assert settings == DigitsDemo(out=tmp_path / "build" / "demo")
    assert (tmp_path / "build" / "demo").is_dir()
    # the report records every option as given or filled in, and the command line
    assert options["hidden"] == 128 and options["board"] == "icebreaker"
    assert options["command"] == "demo" and options["argv"] == []


def test_digits_flags_and_no_board(given, tmp_path):
    assert cli.main(["demo", "--hidden", "32", "--steps", "8", "--encoder", "latency",
                     "--format", "bitmap", "--board", "none", "--quick", "--samples", "5",
                     "--out", str(tmp_path)]) == 0
    ((settings, _),) = given
    assert settings == DigitsDemo(hidden=32, steps=8, encoder="latency", format="bitmap",
                                  board=None, quick=True, samples=5, out=tmp_path)


def test_the_mnist_demo_takes_its_own_defaults(given, tmp_path):
    assert cli.main(["demo", "--dataset", "mnist", "--out", str(tmp_path)]) == 0
    assert given == [(MnistDemo(out=tmp_path), None)]


def test_mnist_quick_is_smaller_and_builds_no_board(given, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--dataset", "mnist", "--quick", "--samples", "50"]) == 0
    ((settings, _),) = given
    assert settings == MnistDemo(samples=20, epochs=2, train=600, test=200, boards=(),
                                 out=tmp_path / "build" / "demo-mnist", quick=True)
    given.clear()
    assert cli.main(["demo", "--dataset", "mnist", "--quick", "--board", "ulx3s",
                     "--epochs", "4"]) == 0
    assert given[0][0].boards == ("ulx3s",) and given[0][0].epochs == 4


def test_mnist_latency_takes_the_latency_pages_defaults(given, tmp_path, monkeypatch):
    """``--dataset mnist --encoder latency``: the network of docs/results/latency-code.md
    (784-256-10, T = 8, 60 epochs, P = 256 and S = 16, the ULX3S), in its own folder; the
    flags a user gives still win, and ``--quick`` is as small as the rate demo's."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--dataset", "mnist", "--encoder", "latency"]) == 0
    ((settings, _),) = given
    assert settings == MnistDemo(encoder="latency", hidden=256, steps=8, lanes=256,
                                 sweep_lanes=16, epochs=60, boards=("ulx3s",),
                                 out=tmp_path / "build" / "demo-mnist-latency")
    page = (Path(__file__).parents[2] / "docs" / "results" / "latency-code.md").read_text()
    assert ("spikefab train --encoder latency --steps 8 --hidden 256 --epochs 60" in page
            and "--lanes 256 10 --sweep-lanes 16 10 --format dense" in page)
    given.clear()
    assert cli.main(["demo", "--dataset", "mnist", "--encoder", "latency", "--quick",
                     "--steps", "6", "--board", "icebreaker"]) == 0
    ((settings, _),) = given
    assert settings == MnistDemo(encoder="latency", hidden=256, steps=6, lanes=256,
                                 sweep_lanes=16, epochs=2, samples=20, train=600, test=200,
                                 boards=("icebreaker",), quick=True,
                                 out=tmp_path / "build" / "demo-mnist-latency")
    for flag, rule in (("exact", "exact"), ("margin:3", ("margin", 3)), ("none", None)):
        given.clear()
        assert cli.main(["demo", "--dataset", "mnist", "--exit", flag]) == 0
        assert given[0][0] == MnistDemo(exit=rule, out=tmp_path / "build" / "demo-mnist")


@pytest.mark.parametrize("argv, line", [
    (["--exit", "exact"], "error: --exit exact is an option of --dataset mnist (allowed with "
                          "--dataset digits: none)"),
    (["--dataset", "mnist", "--conv", "default", "--exit", "margin:2"],
     "error: --exit margin:2 is not an option of --conv: early exit runs on the fully "
     "connected layer cores (allowed with --conv: none)"),
])
def test_exit_is_refused_where_the_demo_has_none(given, tmp_path, argv, line):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", *argv, "--out", str(tmp_path / "out")])
    assert exit_.value.code == line and not given


@pytest.mark.parametrize("raised, line", [
    (Mismatch("MISMATCH between hardware and golden model in samples 0..19: classes differ"),
     "MISMATCH between hardware and golden model in samples 0..19: classes differ"),
    (StudyError("step 6 (synthesis) failed: nextpnr failed"),
     "error: step 6 (synthesis) failed: nextpnr failed"),
])
def test_a_mismatch_or_a_failed_step_is_one_line(monkeypatch, tmp_path, raised, line):
    def fails(settings, **_):
        raise raised
    monkeypatch.setattr(digits_demo, "run", fails)
    monkeypatch.setattr(mnist_demo, "run", fails)
    for dataset in ("digits", "mnist"):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["demo", "--dataset", dataset, "--out", str(tmp_path)])
        assert exit_.value.code == line                  # printed on stderr, exit status 1


def test_an_output_folder_that_cannot_be_made(tmp_path, given):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match=r"^error: cannot create --out .*file/sub"):
        cli.main(["demo", "--out", str(tmp_path / "file" / "sub")])
    assert not given


def test_bad_lane_configuration_is_refused_before_training(tmp_path):
    done = subprocess.run([SPIKEFAB, "demo", "--dataset", "mnist", "--lanes", "128",
                           "--sweep-lanes", "7"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: --lanes 128 / --sweep-lanes 7: sweep_lanes = 7 must divide lanes = 128 "
        "(allowed: 1, 2, 4, 8, 16, 32, 64, 128)")
    assert "1. data" not in done.stdout


def options_without_a_default(help_text):
    """The options of a ``--help`` text whose help does not name a default."""
    text = help_text.split("options:", 1)[1]
    blocks = re.split(r"\n  (?=-)", text)
    return [block.split()[0] for block in blocks[1:]
            if not block.startswith("-h") and "default" not in " ".join(block.split())]


def test_every_option_shows_its_help_and_default(tmp_path):
    done = subprocess.run([SPIKEFAB, "demo", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0
    assert options_without_a_default(done.stdout) == []
    flat = " ".join(done.stdout.split())
    for shown in ("(default digits)", "(--conv: rate only) (default rate)",
                  "(default 30; 60 with --encoder latency; 2 with --quick)", "(default: the 5,000 images bundled",
                  "under-trained network, with --conv too (default off: the full demo)"):
        assert shown in flat, shown


@pytest.mark.slow
def test_the_quick_digits_demo_prints_tables_not_python_reprs(tmp_path):
    """``spikefab demo --quick`` as a user runs it (small: 8 images, T = 8, no board), from
    another folder with a relative ``--out``: what it prints is for a person."""
    from tests.studies.test_digits_demo import assert_readable
    done = subprocess.run([SPIKEFAB, "demo", "--quick", "--board", "none", "--samples", "8",
                           "--steps", "8", "--out", "out"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert_readable(done.stdout)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    accuracy = report["accuracy"]
    assert f"quantized SNN accuracy {100 * accuracy['snn_golden']:.1f} %" in done.stdout
    for bits, value in report["sweeps"]["weight bits"]:
        assert any(line.strip().startswith(f"| {bits:>6} bits | {100 * value:>6.1f} % |")
                   for line in done.stdout.splitlines()), bits
    for fmt, bits in report["memory_bits"].items():
        assert re.search(rf"\| {fmt} +\| +{bits:,} bits \|", done.stdout), fmt


# --- ``--dataset mnist --conv``: the conv option ---------------------------------------------

def conv_settings(*argv):
    from spikefab.cli.demo import settle_conv
    return settle_conv(cli.parser().parse_args(["demo", "--dataset", "mnist", *argv]))


def test_conv_default_is_the_documented_network(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = conv_settings("--conv", "default")
    assert settings["conv"] == ((8, 4, 2, 1, 1), (16, 3, 2, 1, 1))
    assert (settings["hidden"], settings["w_bits"], settings["steps"], settings["lanes"],
            settings["samples"], settings["board"], settings["epochs"]) == \
        (64, 6, 25, 8, 20, "ulx3s", None)
    assert settings["out"] == tmp_path / "build" / "demo-mnist"    # the MNIST demo's folder
    assert conv_settings("--conv", "8:4:2:1:1", "16:3:2:1:1")["conv"] == settings["conv"]
    quick = conv_settings("--conv", "4:3:2:1:2", "--quick", "--samples", "50")
    assert quick["conv"] == ((4, 3, 2, 1, 2),) and quick["samples"] == 20
    assert quick["board"] is None and quick["epochs"] == 2 and quick["quick"]
    assert conv_settings("--conv", "default", "--quick", "--board", "ulx3s")["board"] == "ulx3s"


@pytest.mark.parametrize("argv, line", [
    (["--dataset", "digits", "--conv", "default"],
     "error: --conv is an option of --dataset mnist, not --dataset digits"),
    (["--dataset", "mnist", "--conv", "default", "--format", "csc"],
     "error: --format is not an option of --conv"),
    (["--dataset", "mnist", "--conv", "default", "--sweep-lanes", "2"],
     "error: --sweep-lanes is not an option of --conv"),
    (["--dataset", "mnist", "--conv", "default", "8:3:1:1:1"],
     "error: --conv default stands alone"),
    (["--dataset", "mnist", "--conv", "default", "--encoder", "latency"],
     "error: --encoder latency is not an option of --conv: the conv demo is rate coded"),
])
def test_conv_refuses_what_it_does_not_take(tmp_path, argv, line):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", *argv, "--out", str(tmp_path / "out")])
    assert str(exit_.value.code).startswith(line)
    assert not (tmp_path / "out" / "conv").exists()        # refused before any work


def test_a_bad_conv_layer_names_its_range(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--dataset", "mnist", "--conv", "8:3:1:5:1"])
    assert exit_.value.code == 2
    assert "8:3:1:5:1: padding 5 is out of range; allowed range is [0, 2]" in \
        capsys.readouterr().err


def fc_report(quick):
    """A report.json as the fully connected MNIST demo writes it (the fields the conv option
    reads)."""
    return {"config": {"hidden": 128, "w_bits": 4, "steps": 25, "quick": quick},
            "data": {"test": 200 if quick else 1000},
            "accuracy": {"golden": 0.5, "hardware": 0.55, "hardware_samples": 20},
            "cycles": {"latency": 2500.0},
            "boards": {} if quick else {"ulx3s": {
                "status": "built", "used": {"LUT": 12000, "FF": 6000, "BRAM": 30},
                "fmax_mhz": 60.0, "us_per_image": 41.7}}}


def test_the_fully_connected_figures_come_from_this_folder_or_the_docs(tmp_path):
    assert mnist_demo.fc_figures(tmp_path) == mnist_demo.FC_DOCUMENTED
    assert "docs/results/mnist-demo.md" in mnist_demo.FC_DOCUMENTED["source"]
    results = (Path(__file__).parents[2] / "docs" / "results" / "mnist-demo.md").read_text()
    for shown in ("95.10 %", "3,158", "13,655 LUT4, 6,742 FF, 32 BRAM", "88.6 MHz", "35.6 µs"):
        assert shown in results, shown                    # FC_DOCUMENTED is what it says
    (tmp_path / "report.json").write_text(json.dumps(fc_report(quick=False)))
    fc = mnist_demo.fc_figures(tmp_path)
    assert (fc["accuracy"], fc["cycles"], fc["lut"], fc["ff"], fc["bram"], fc["fmax_mhz"],
            fc["us_per_image"], fc["test_images"]) == (0.5, 2500.0, 12000, 6000, 30, 60.0,
                                                       41.7, 1000)
    assert fc["source"].startswith(str(tmp_path / "report.json")) and not fc["quick"]
    (tmp_path / "report.json").write_text(json.dumps(fc_report(quick=True)))
    fc = mnist_demo.fc_figures(tmp_path)
    assert fc["quick"] and fc["lut"] is None and "--quick" in fc["source"]


@pytest.mark.slow
def test_quick_conv_demo(tmp_path):
    """``spikefab demo --dataset mnist --conv … --quick --board none`` as a user runs it, on a
    small conv net (one 2-channel layer, 8 hidden, 1 epoch, 4 co-simulated images); its
    report checked against the golden model and the cycle model recomputed here."""
    pytest.importorskip("torch", reason="the train extra is part of make test")
    from spikefab.model import HardwareConfig, cycle_model
    from spikefab.model.conv import ConvLayer
    done = subprocess.run([SPIKEFAB, "demo", "--dataset", "mnist", "--conv", "2:4:4:0:1",
                           "--hidden", "8", "--epochs", "1", "--samples", "4", "--quick",
                           "--board", "none"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "build" / "demo-mnist" / "conv"
    report = json.loads((out / "report.json").read_text())
    assert "hardware = golden model = cycle model on all 4 samples" in done.stdout
    assert report["commands"]["train"] == (
        "spikefab train --dataset mnist --conv 2:4:4:0:1 --hidden 8 --w-bits 6 --epochs 1 "
        "--train 600 --test 200 --out build/demo-mnist/conv/train")
    network = Network.load(out / "train" / "network.npz")
    assert isinstance(network[0], ConvLayer) and network.shape == (784, 98, 8, 10)

    images, labels = load_mnist()
    _, x_test, _, y_test = mnist_split(images, labels, train=600, test=200)  # --quick
    trains = mnist_spikes(x_test, 25)
    golden = simulate(network, trains)
    a = report["accuracy"]
    assert a["golden"] == float((golden.predicted == y_test).mean()) and a["test_images"] == 200
    assert a["hardware"] == float((golden.predicted[:4] == y_test[:4]).mean())

    sparse = HardwareConfig.uniform(network, lanes=8, format="csc")
    alone = [int(cycle_model(network, simulate(network, t), sparse).latency[0])
             for t in trains[:4]]
    c = report["cosim"]
    assert (c["samples"], c["cycles_alone_mean"], c["cycles_alone_min"],
            c["cycles_alone_max"]) == (4, np.mean(alone), min(alone), max(alone))
    first = simulate(network, trains[:4])
    assert c["spikes"] == sum(int(s.sum()) for s in first.spikes)
    g = report["sparsity"]
    dense = cycle_model(network, first, HardwareConfig.uniform(network, lanes=8, mode="dense"))
    back = cycle_model(network, first, sparse)
    assert g["images"] == 4 and g["cycles"] == back.total / 4
    assert g["baseline"] == dense.total / 4 and g["achieved"] == dense.total / back.total
    assert g["achieved"] > 1 and 0 < g["fraction"] == g["achieved"] / g["theoretical"]
    assert report["board"] is None and report["fc"] == mnist_demo.FC_DOCUMENTED

    text = (out / "report.md").read_text()
    for shown in ("## Side by side", "| dense conv baseline", f"{g['baseline']:,.0f}",
                  f"**{g['achieved']:.1f}x** of {g['theoretical']:.1f}x theoretical",
                  "13,655 / 6,742 / 32", report["commands"]["train"],
                  report["commands"]["cosim"], "Skydiver", "FireFly", "SyncNN", "Spiker+",
                  "what it measures", "under-trained"):
        assert shown in text, shown


def test_conv_reuses_only_a_network_trained_the_same_way(tmp_path):
    """A ``spikefab train`` folder is reused when its report's configuration, data set and
    split are the demo's and its network is there; anything else trains again."""
    from spikefab.cli import train
    from spikefab.cli.demo import _trained_before
    settings = conv_settings("--conv", "2:4:4:0:1", "--hidden", "8", "--quick")
    argv = ["--conv", "2:4:4:0:1", "--hidden", "8", "--w-bits", "6", "--epochs", "2",
            "--train", "600", "--test", "200"]
    config = train.train_config(train.parser().parse_args(argv))
    report = {"dataset": "mnist", "config": json.loads(json.dumps(config.as_dict())),
              "train_images": 600, "test_images": 200}
    (tmp_path / "report.json").write_text(json.dumps(report))
    assert _trained_before(config, settings, tmp_path) is None          # no network.npz yet
    (tmp_path / "network.npz").write_bytes(b"")
    assert _trained_before(config, settings, tmp_path) == report
    other = train.train_config(train.parser().parse_args(argv[:-6] + ["--w-bits", "5"]))
    assert _trained_before(other, settings, tmp_path) is None           # another config
    full = conv_settings("--conv", "2:4:4:0:1", "--hidden", "8")
    assert _trained_before(config, full, tmp_path) is None              # 4,000 / 1,000 split
    (tmp_path / "report.json").write_text(json.dumps({**report, "dataset": "digits"}))
    assert _trained_before(config, settings, tmp_path) is None
