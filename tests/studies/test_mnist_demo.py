"""The MNIST demo's parts (:mod:`spikefab.studies.mnist_demo`): the field-by-field network
comparison of its NIR round trip and its data. The whole demo, as a user runs it, is
tests/cli/test_demo.py."""

import numpy as np
import pytest

from spikefab.model import Network, reference_network
from spikefab.studies import mnist_demo
from spikefab.studies.mnist_demo import MnistDemo, load, same_network
from spikefab.studies.report import pyplot


def test_same_network_names_every_field_that_differs():
    network = reference_network((16, 12, 4), w_bits=4)
    assert same_network(network, network) == []
    assert same_network(network, reference_network((16, 8, 4), w_bits=4)) == [
        "shape (16, 12, 4) vs (16, 8, 4)"]
    weights = network[1].weights.copy()
    weights[0, 0] = 1 - weights[0, 0]
    other = Network((network[0].replace(bias=network[0].bias + 1, theta=network[0].theta + 1),
                     network[1].replace(weights=weights)))
    assert same_network(network, other) == [
        f"layer 1 theta: {network[0].theta} vs {network[0].theta + 1}", "layer 1 bias",
        "layer 2 weights"]


def test_load_gives_8_bit_intensities_of_the_sizes_asked_for():
    x_train, y_train, x_test, y_test = load(MnistDemo(train=60, test=20))
    assert x_train.shape == (60, 784) and x_test.shape == (20, 784)
    assert len(y_train) == 60 and len(y_test) == 20
    assert x_train.dtype.kind in "iu" and 0 <= x_train.min() and x_train.max() <= 255
    assert np.array_equal(x_train, np.round(x_train))


@pytest.fixture
def closes():
    figures = []
    yield figures.append
    for fig in figures:
        pyplot().close(fig)


def test_the_cycles_plot_is_cycles_against_input_spikes_with_the_fit(closes):
    pytest.importorskip("matplotlib")
    spikes = np.array([1000, 2000, 3000, 4000])
    cycles = 2 * spikes + 500 + np.array([10, -10, 10, -10])
    fig = mnist_demo.cycles_figure(spikes, cycles)
    closes(fig)
    ax = fig.axes[0]
    (points,) = ax.collections                                  # a scatter, not a histogram
    assert np.array_equal(points.get_offsets(), np.column_stack([spikes, cycles]))
    assert not ax.patches
    assert "input spikes" in ax.get_xlabel() and "cycles" in ax.get_ylabel()
    r = np.corrcoef(spikes, cycles)[0, 1]
    assert "against its input spikes" in ax.get_title()
    assert f"Pearson r = {r:.2f}" in ax.get_title()
    slope, offset = np.polyfit(spikes, cycles, 1)
    (fit,) = ax.get_lines()
    assert np.allclose(fit.get_ydata(), slope * np.array([1000, 4000]) + offset)
    assert f"{slope:.2f} cycles per spike" in fit.get_label()


def test_the_training_plot_has_integer_epochs(closes):
    pytest.importorskip("matplotlib")
    history = [{"epoch": 1, "phase": "train", "train_accuracy": 0.2},
               {"epoch": 2, "phase": "train", "train_accuracy": 0.35}]
    fig = mnist_demo.training_figure(history)
    closes(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "epoch" and ax.get_ylabel() == "accuracy (%)"
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks)
    assert "Training accuracy per epoch" in ax.get_title()
    (line,) = ax.get_lines()
    assert list(line.get_ydata()) == [20.0, 35.0]


def summary(quick):
    """A report's summary as the MNIST demo writes it (the parts ``render`` and
    ``comparison`` read)."""
    return {
        "config": {"hidden": 128, "steps": 25, "w_bits": 4, "density": 1.0, "lanes": 128,
                   "sweep_lanes": 8, "format": "dense", "quick": quick,
                   "train": {"epochs": 2 if quick else 30}},
        "data": {"train": 600 if quick else 4000, "test": 200, "source": "bundled"},
        "nir": {"table": "| a | b |\n|---|---|\n| 1 | 2 |",
                "snntorch_agreement": {"classes": 0.975, "samples": 200,
                                       "spikes": [0.9859, 0.9973]}},
        "accuracy": {"golden": 0.325, "hardware": 0.3, "hardware_samples": 20,
                     "spiker_plus": 0.9385},
        "spikes_per_image": {"input": 2573.0, "hidden": 389.0, "output": 1.0},
        "cycles": {"latency": 3130.0, "latency_min": 1278, "latency_max": 5800,
                   "throughput": 3120.0},
        "hardware_config": "P = 128, S = 8; then P = S = 10; dense, queue 16",
        "boards": {}, "published": [], "timings_s": {"data": 1.0}, "total_s": 1.0,
        "plots": {"cycles": "cycles.png"},
    }


def test_a_quick_run_says_it_is_under_trained():
    for text in (mnist_demo.render(summary(True)), mnist_demo.comparison(summary(True))):
        assert "--quick trains on 600 images for 2 epochs" in text
        assert "not comparable with Spiker+'s 93.85 %" in text
    for text in (mnist_demo.render(summary(False)), mnist_demo.comparison(summary(False))):
        assert "under-trained" not in text


def test_the_comparison_is_an_aligned_table_with_units():
    lines = mnist_demo.comparison(summary(False)).splitlines()
    assert len({len(line) for line in lines}) == 1            # every row padded alike
    assert [cell.strip() for cell in lines[0].split("|")[2:4]] == ["spikefab (this run)",
                                                                   "Spiker+"]
    row = {line.split("|")[1].strip(): line for line in lines}
    assert "32.5 % (200 images)" in row["accuracy, golden model"]
    assert "93.85 % (10,000 images)" in row["accuracy, golden model"]
    assert "3,130" in row["cycles per image, alone"] and "79,040" in row["cycles per image, alone"]


def test_the_report_puts_the_lif_lut6_count_beside_the_if_row_and_spiker_plus():
    s = summary(False)
    assert "Like with like" not in mnist_demo.render(s)            # no xc7 count: no section
    s["xc7"] = {"status": "built", "vivado_luts": 7017, "ff": 4700, "bram36": 14.5}
    s["published"] = [p for p in mnist_demo.PUBLISHED if p["work"].startswith("TTFS")]
    text = mnist_demo.render(s)
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
            for line in text.splitlines() if line.startswith("|")}
    lif = next(v for k, v in rows.items() if k.startswith("spikefab, this network"))
    assert lif[:2] == ["LIF (leak logic built)", "7,017"]
    assert rows["spikefab, the comparison's row (`make compare`, P = 128, S = 8)"][:2] == [
        "integrate-and-fire (no leak logic)", "6,371"]
    assert rows["Spiker+"][:2] == ["LIF", "7,612"]
    assert "accelerator alone" in text and "without the UART host link" in text
    ttfs = next(v for k, v in rows.items() if k.startswith("TTFS design"))
    assert ttfs[-2:] == ["87.40 %", "0.14 (latency)"]              # not rounded to 0
