"""``spikefab train`` (spikefab.sim.train_cli): trains, writes the network, its NIR graph
and the report, as a user runs it; bad flags are refused naming the flag."""

import json
import subprocess
import sys

import numpy as np
import pytest

from spikefab import cli
from spikefab.model import Network, encode_rate, simulate

pytest.importorskip("torch")
pytest.importorskip("snntorch")
pytest.importorskip("sklearn")

#: The line of ``spikefab.cli.COMMANDS`` that registers the command.
TRAIN = ("spikefab.sim.train_cli", "run",
         "train an SNN with surrogate gradients in the hardware's integer arithmetic: "
         "network.npz, model.nir, report (build/train/)", ())


def spikefab(monkeypatch, *argv):
    monkeypatch.setitem(cli.COMMANDS, "train", TRAIN)
    return cli.main(["train", *argv])


def test_train_digits_writes_network_nir_and_report(monkeypatch, tmp_path, capsys):
    pytest.importorskip("nir")
    out = tmp_path / "train"
    assert spikefab(monkeypatch, "--dataset", "digits", "--hidden", "24", "--steps", "8",
                      "--epochs", "6", "--lr", "5e-3", "--density", "0.5", "--lanes", "4",
                      "--finetune-epochs", "1", "--out", str(out)) == 0
    report = json.loads((out / "report.json").read_text())
    network = Network.load(out / "network.npz")
    assert network.shape == (64, 24, 10) and report["shape"] == [64, 24, 10]
    assert report["config"]["density"] == 0.5 and report["config"]["hidden"] == [24]
    assert len(report["history"]) == 7 and report["history"][-1]["phase"] == "finetune"
    assert report["accuracy"]["test"] > 0.5
    assert "golden accuracy: test" in capsys.readouterr().out
    # the reported accuracy is the golden model's on the digits test split
    from spikefab.sim.train_cli import load_dataset
    _, x_test, _, y_test = load_dataset("digits")
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
    (["--mnist-path", "/no/such/folder"], "argument --mnist-path: /no/such/folder is not an "
                                          "existing folder"),
])
def test_bad_flags_are_refused_naming_the_flag(monkeypatch, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        spikefab(monkeypatch, *argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_bad_combinations_are_refused(monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match="error: --train 4500 \\+ --test 1000 exceed"):
        spikefab(monkeypatch, "--train", "4500", "--out", str(tmp_path))
    with pytest.raises(SystemExit, match="error: --train, --test and --mnist-path are for"):
        spikefab(monkeypatch, "--dataset", "digits", "--train", "100", "--out",
                   str(tmp_path))


def test_module_runs_as_a_script(tmp_path):
    process = subprocess.run([sys.executable, "-m", "spikefab.sim.train_cli", "--help"],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0 and "--finetune-epochs" in process.stdout
