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

import pytest

from spikefab import cli
from spikefab.model import Network, from_nir, load_mnist, mnist_split, simulate
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


@pytest.mark.slow
def test_quick_mnist_demo(tmp_path):
    pytest.importorskip("torch", reason="the train extra is part of make test")
    from tests.model.test_nir_io import assert_same_network
    done = subprocess.run([SPIKEFAB, "demo", "--dataset", "mnist", "--quick", "--lanes",
                           "16", "--sweep-lanes", "4"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "build" / "demo-mnist"
    assert "the imported network equals the trained one" in done.stdout
    assert "hardware = golden model = cycle model on all 20 images" in done.stdout
    for repr_ in ("{'", "[(", "['", "=None"):
        assert repr_ not in done.stdout, repr_
    assert ("note: --quick trains on 600 images for 2 epochs: the network is under-trained, "
            "so this accuracy is not comparable with Spiker+'s 93.85 %") in done.stdout
    assert any(line.strip().startswith("| cycles per image, alone ") and "79,040" in line
               for line in done.stdout.splitlines())
    report = json.loads((out / "report.json").read_text())
    network = Network.load(out / "network.npz")
    assert_same_network(network, from_nir(out / "model.nir"))
    assert network.shape == (784, 128, 10) and network[0].w_bits == 4

    images, labels = load_mnist()
    _, x_test, _, y_test = mnist_split(images, labels, train=600, test=200)  # --quick
    golden = simulate(network, mnist_spikes(x_test, 25))
    assert report["accuracy"]["golden"] == float((golden.predicted == y_test).mean())
    assert report["accuracy"]["hardware"] == float((golden.predicted[:20] == y_test[:20]).mean())
    assert report["accuracy"]["golden"] > 0.2      # 2 epochs on 600 images: well above chance
    for name in ("report.md", "training.png", "activity.png", "raster.png", "cycles.png"):
        assert (out / name).stat().st_size > 0


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
    for shown in ("(default digits)", "(default rate; mnist: always rate)",
                  "(default 30; 2 with --quick)", "(default: the 5,000 images bundled",
                  "under-trained network (default off: the full demo)"):
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
