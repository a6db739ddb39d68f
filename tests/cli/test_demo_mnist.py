"""``spikefab demo --dataset mnist --quick`` end to end as a user runs it (the console script,
from an empty folder): the rate-coded demo and the latency-coded one with exact early exit,
each checked against the golden model recomputed here from the data. Apart from
``test_demo.py`` (the options and refusals), so ``make test``'s two workers (``--dist
loadfile``) take the two long runs in parallel with the rest."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikefab.model import Network, from_nir, load_mnist, mnist_split, simulate
from spikefab.model.mnist import mnist_spikes

SPIKEFAB = str(Path(sys.executable).parent / "spikefab")


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


@pytest.mark.slow
def test_quick_mnist_latency_demo(tmp_path):
    """``spikefab demo --dataset mnist --encoder latency --exit exact --quick --board none`` as
    a user runs it (a smaller hidden layer and fewer lanes, for the time of the Verilator
    build): the network file records its code and T, the golden accuracy is recomputed here
    from the data with :func:`spikefab.model.encode_latency`, the steps each image ran by the
    exit rule applied by hand, and the hardware agreed with both."""
    pytest.importorskip("torch", reason="the train extra is part of make test")
    from spikefab.model import encode_latency
    from tests.cli.test_train import by_hand
    done = subprocess.run([SPIKEFAB, "demo", "--dataset", "mnist", "--encoder", "latency",
                           "--quick", "--board", "none", "--hidden", "32", "--lanes", "32",
                           "--sweep-lanes", "8", "--samples", "10", "--epochs", "4",
                           "--exit", "exact"],
                          cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "build" / "demo-mnist-latency"
    assert "2. train: 784-32-10 LIF, latency code, T = 8," in done.stdout
    assert "saved as network.npz (with its input code: latency, T = 8)" in done.stdout
    assert "hardware = golden model = cycle model on all 10 images (every spike, count, " \
        "class, result cycle, counter, the steps each ran)" in done.stdout
    assert "--steps 8 --exit exact --spikes" in done.stdout       # the rebuild command
    assert "note: --quick trains on 600 images for 4 epochs: the network is under-trained" \
        in done.stdout
    assert "without --quick the demo trains on the whole training split for 60 epochs" \
        in done.stdout
    network = Network.load(out / "network.npz")
    assert (network.encoder, network.steps, network.shape) == ("latency", 8, (784, 32, 10))
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["encoder"] == "latency" and report["config"]["train"][
        "encoding"] == "latency"
    images, labels = load_mnist()
    _, x_test, _, y_test = mnist_split(images, labels, train=600, test=200)  # --quick
    trains = encode_latency(x_test, 8)
    assert trains.sum(axis=1).max() == 1                 # one spike per pixel at most
    golden = simulate(network, trains)
    assert report["accuracy"]["golden"] == float((golden.predicted == y_test).mean())
    assert report["accuracy"]["hardware"] == float((golden.predicted[:10] == y_test[:10]).mean())
    assert report["spikes_per_image"]["input"] == pytest.approx(trains.sum() / len(trains))
    assert report["accuracy"]["golden"] > 0.3      # 4 epochs on 600 images (chance: 0.1)
    ran, classes = by_hand(golden.spikes[-1])       # exact exit: the full T's classes
    assert np.array_equal(classes, golden.predicted)
    assert report["exit"]["rule"] == "exact" and report["exit"]["same_class_as_full"] == 1.0
    assert report["exit"]["steps_mean"] == pytest.approx(ran.mean()) and ran.mean() < 8
    assert report["exit"]["accuracy_full"] == report["accuracy"]["golden"]
    assert f"early exit exact: {ran.mean():.2f} steps run on average" in done.stdout
    assert f"Early exit exact: {ran.mean():.2f} steps run on average" in \
        (out / "report.md").read_text()
