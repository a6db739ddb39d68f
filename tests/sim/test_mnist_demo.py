"""``spikefab demo --dataset mnist --quick`` as a user runs it, checked from outside: the
network it writes is the one in model.nir, and its golden accuracy and the hardware's are
recomputed here from the data and the golden model."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the train extra is part of make test")

from spikefab.model import Network, from_nir, load_mnist, mnist_split, simulate  # noqa: E402
from spikefab.model.mnist import mnist_spikes  # noqa: E402
from tests.model.test_nir_io import assert_same_network  # noqa: E402

SPIKEFAB = str(Path(sys.executable).parent / "spikefab")


@pytest.mark.slow
def test_quick_mnist_demo(tmp_path):
    done = subprocess.run([SPIKEFAB, "demo", "--dataset", "mnist", "--quick", "--lanes",
                           "16", "--sweep-lanes", "4"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "build" / "demo-mnist"
    assert "the imported network equals the trained one" in done.stdout
    assert "hardware = golden model = cycle model on all 20 images" in done.stdout
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
