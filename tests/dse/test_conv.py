"""Design-space exploration of convolutional networks (issue 22): a saved conv network runs
through ``spikefab dse``; every point's cycles are the cycle model's for a configuration
written here by hand (conv layer on the convolution core or unrolled); lanes of a conv layer
on the core are capped at its output channels; the conv axis; bad lanes and mismatched data
sets are refused naming the range; the memory bits and the resource estimator's memories are
those of the kernel image; the LHR study's uniform points on a conv network; the event data
set's trains are load_events'."""

import numpy as np
import pytest

from spikefab.dse.resources import design_features, design_memories
from spikefab.dse.spec import LayerShape, SpecError, load_spec
from spikefab.dse.sweep import lhr_study, load_workload, run_sweep
from spikefab.model import (HardwareConfig, Layer, LayerConfig, Network, compile_weights,
                            cycle_model, encode_images, load_dataset, simulate)
from spikefab.model.conv import Conv2dGeometry, ConvLayer
from spikefab.model.kernel_image import compile_kernel


def conv_network(in_map=(1, 8, 8), c_out=3, seed=5):
    """``C×H×W`` input → conv ``c_out`` channels, 3×3, stride 2, padding 1 → 10 (fully
    connected): for the 1×8×8 digits, a 3×4×4 map of 48 neurons."""
    rng = np.random.default_rng(seed)
    c, h, w = in_map
    geometry = Conv2dGeometry(c, h, w, c_out, 3, 2, 1)
    conv = ConvLayer(kernel=rng.integers(-2, 8, (c_out, c, 3, 3)), geometry=geometry,
                     theta=12, w_bits=4, v_bits=10, leak="shift", k=2)
    readout = Layer(weights=rng.integers(-3, 8, (10, conv.neurons)), theta=10, w_bits=4,
                    v_bits=10, leak="shift", k=2)
    return Network([conv, readout])


@pytest.fixture
def conv_file(tmp_path):
    network = conv_network()
    network.save(tmp_path / "cnn.npz")
    return network, tmp_path / "cnn.npz"


def test_conv_network_sweep_equals_the_cycle_model(conv_file):
    """board none: the points (lanes capped at C_out = 3 on the core, at 48 neurons
    unrolled; both conv modes; csc / dense for the readout), and each point's cycles, accuracy
    and memory bits recomputed here from the golden model, the cycle model and the weight
    images of a configuration built by hand."""
    network, path = conv_file
    spec = {"network": str(path), "board": "none", "samples": 20, "cycle_samples": 4,
            "axes": {"lanes": [1, 2, 8, 64], "conv": ["kernel", "unrolled"],
                     "format": ["csc", "dense"], "steps": [6]},
            "synthesis": {"max_points": 0}}
    result = run_sweep(spec, scheduler="serial", out=None, cache=None, progress=False)
    got = {(r["conv"], r["format"], tuple(r["lanes"])): r for r in result.rows}
    # kernel: layer 0 capped at its 3 output channels; unrolled: at its 48 neurons.
    expected = [(conv, fmt, lanes) for conv, caps in (("kernel", (3, 10)), ("unrolled", (48, 10)))
                for fmt in ("csc", "dense")
                for lanes in dict.fromkeys(tuple(min(p, c) for c in caps) for p in (1, 2, 8, 64))]
    assert list(got) == expected
    assert ("kernel", "csc", (3, 10)) in got and ("unrolled", "csc", (48, 10)) in got

    _, x_test, _, y_test = load_dataset("digits")          # 1x8x8 = 64: the digits, matched
    spikes = encode_images(x_test[:20], 6, "rate")
    golden = simulate(network, spikes)
    accuracy = np.mean(golden.predicted == y_test[:20])
    short = simulate(network, spikes[:4])
    for (conv, fmt, (p0, p1)), row in got.items():
        first = LayerConfig(p0, "kernel" if conv == "kernel" else fmt, 16)
        config = HardwareConfig((first, LayerConfig(p1, fmt, 16)))
        report = cycle_model(network, short, config)
        assert row["cycles_per_image"] == report.total / 4, row["label"]
        assert row["accuracy"] == accuracy
        image = compile_kernel(network[0], p0) if conv == "kernel" \
            else compile_weights(network[0], p0, fmt)
        assert row["weight_bits"] == image.size_bits + compile_weights(
            network[1], p1, fmt).size_bits, row["label"]
    # The core stores each kernel weight once: fewer memory bits than the unrolled matrix.
    assert got[("kernel", "csc", (2, 2))]["weight_bits"] < \
        got[("unrolled", "csc", (2, 2))]["weight_bits"]
    assert got[("kernel", "csc", (1, 1))]["label"] == "d1 T6 rate kernel csc q16 P1-1"


def test_lanes_of_conv_layers_are_checked_per_layer(conv_file):
    network, path = conv_file
    kernel = load_spec({"network": str(path), "axes": {"lanes": [[1, 4], [1, 10]]}})
    with pytest.raises(SpecError, match=r"axes.lanes\[0\]\[1\] = 4 is out of range; allowed "
                                        r"range is \[1, 3\] \(layer 0 is convolutional, on the "
                                        r"convolution core .* its 3 output channels\)"):
        kernel.points(network)
    # Only unrolled: the conv layer's 48 neurons bound it.
    unrolled = kernel.replace(axes={"conv": ["unrolled"], "lanes": [[1, 4, 49], [1, 10]]})
    with pytest.raises(SpecError, match=r"axes.lanes\[0\]\[2\] = 49 is out of range; allowed "
                                        r"range is \[1, 48\] \(layer 0 is convolutional, "
                                        r"unrolled, with 48 neurons\)"):
        unrolled.points(network)
    points = unrolled.replace(axes={"lanes": [[1, 4], [10]]}).points(network)
    assert [(p.conv, p.lanes) for p in points] == [("unrolled", (1, 10)), ("unrolled", (4, 10))]
    points = kernel.replace(axes={"lanes": [[1, 3], [10]]}).points(network)
    assert [p.hardware_config(network) for p in points] == [
        HardwareConfig((LayerConfig(p, "kernel", 16), LayerConfig(10, "csc", 16)))
        for p in (1, 3)]
    # The same from layer shapes; a conv axis for a network without conv layers is refused.
    assert kernel.replace(axes={"lanes": [2, 8]}).points(
        [LayerShape(48, 3), 10]) == kernel.replace(axes={"lanes": [2, 8]}).points(network)
    with pytest.raises(SpecError, match=r"axes.conv = \['unrolled'\] needs convolutional "
                                        r"layers; the network has none"):
        unrolled.replace(axes={"lanes": [1]}).points((48, 10))
    with pytest.raises(SpecError, match=r"axes.conv\[0\] = 'core' is not allowed; choose one of "
                                        r"kernel, unrolled"):
        load_spec({"axes": {"conv": ["core"]}})


def test_every_layer_on_the_core_keeps_one_format():
    """A network of conv layers only: no layer uses the weight format on the core, so the
    format axis does not multiply the kernel points (it does the unrolled ones)."""
    spec = load_spec({"axes": {"lanes": [1, 2], "format": ["csc", "dense"],
                               "conv": ["kernel", "unrolled"]}})
    points = spec.points([LayerShape(48, 3), LayerShape(12, 3)])
    assert [p.label for p in points] == [
        "w4 d0.5 T32 rate kernel csc q16 P1-1", "w4 d0.5 T32 rate kernel csc q16 P2-2",
        "w4 d0.5 T32 rate unrolled csc q16 P1-1", "w4 d0.5 T32 rate unrolled csc q16 P2-2",
        "w4 d0.5 T32 rate unrolled dense q16 P1-1", "w4 d0.5 T32 rate unrolled dense q16 P2-2"]


def test_data_set_must_match_the_conv_input_map(tmp_path):
    """64 inputs as 4×4×4 maps are not the digits' 1×8×8: refused naming both; 100 inputs
    match no built-in set."""
    conv_network(in_map=(4, 4, 4)).save(tmp_path / "maps.npz")
    with pytest.raises(SpecError, match=r"digits images are 1x8x8 maps; the network maps.npz's "
                                        r"first conv layer reads 4x4x4 maps"):
        load_workload(load_spec({"network": str(tmp_path / "maps.npz")}))
    conv_network(in_map=(1, 10, 10)).save(tmp_path / "odd.npz")
    with pytest.raises(SpecError, match=r"has 100 inputs, none of the built-in data sets' "
                                        r"\(digits 64 = 1x8x8, mnist 784 = 1x28x28, "
                                        r"fashion-mnist 784 = 1x28x28, "
                                        r"mnist-saccades 2312 = 2x34x34\)"):
        load_workload(load_spec({"network": str(tmp_path / "odd.npz")}))


def test_a_784_input_network_is_mnists_unless_the_spec_names_fashion_mnist(tmp_path,
                                                                          monkeypatch):
    """784 inputs pick MNIST (the first that fits); ``dataset: fashion-mnist`` tests on the
    IDX files of its default folder, and names the missing files when they are not there."""
    from spikefab.model import load_dataset, reference_network
    from spikefab.model.datasets import DATA_ENV, DEFAULT_FOLDERS
    from tests.model.test_full_sets import write_set
    monkeypatch.delenv(DATA_ENV, raising=False)
    reference_network((784, 8, 10), w_bits=4, density=0.5, seed=1).save(tmp_path / "fc.npz")
    assert len(load_workload(load_spec({"network": str(tmp_path / "fc.npz")})).x_test) == 1000
    write_set(tmp_path / "fashion", train=10, test=11)
    monkeypatch.setitem(DEFAULT_FOLDERS, "fashion-mnist", tmp_path / "fashion")
    spec = load_spec({"network": str(tmp_path / "fc.npz"), "dataset": "fashion-mnist"})
    workload = load_workload(spec)
    assert np.array_equal(workload.x_test, load_dataset("fashion-mnist").x_test)
    assert len(workload.x_test) == 11
    monkeypatch.setitem(DEFAULT_FOLDERS, "fashion-mnist", tmp_path / "absent")
    with pytest.raises(SpecError, match=r"dataset: fashion-mnist needs its IDX files .*"
                                        r"apt-get install dataset-fashion-mnist"):
        load_workload(spec)


def test_event_data_set_trains_are_load_events(tmp_path):
    """A 2×34×34 conv network is tested on mnist-saccades; its inputs are the events of
    load_events (encoder events, the only one the spec allows with it)."""
    from spikefab.dse.tasks import workload_trains
    from spikefab.model.datasets import load_events
    conv_network(in_map=(2, 34, 34)).save(tmp_path / "dvs.npz")
    spec = load_spec({"network": str(tmp_path / "dvs.npz")})
    workload = load_workload(spec)
    assert workload.events == "mnist-saccades"
    assert {p.encoder for p in spec.points(workload.network, events=True)} == {"events"}
    reference = load_events("mnist-saccades", 2).x_test[:3]
    assert np.array_equal(workload_trains(workload, 3, 2, "events"), reference)
    given = load_spec({"network": str(tmp_path / "dvs.npz"), "dataset": "mnist-saccades"})
    assert given.axes.encoder == ("events",)
    with pytest.raises(SpecError, match=r"axes.encoder = \['rate'\]: dataset = 'mnist-saccades' "
                                        r"is an event data set"):
        load_spec({"network": str(tmp_path / "dvs.npz"), "dataset": "mnist-saccades",
                   "axes": {"encoder": ["rate"]}})
    with pytest.raises(SpecError, match=r"axes.encoder = events needs an event data set"):
        load_spec({"axes": {"encoder": ["events"]}})


def test_resources_use_the_kernel_image():
    """On the core the estimator's memories are the kernel ROM (P·w_bits × G·C_in·taps) and
    the decode table (decode_bits × fan_in), not a weight matrix; the PEs hold G·HW rows."""
    network = conv_network()
    config = HardwareConfig.uniform(network, lanes=2)           # conv layer: P = 2, G = 2
    memories = {m.name: m for m in design_memories(network, config)}
    image = compile_kernel(network[0], 2)
    assert (memories["layer1.kernel"].width, memories["layer1.kernel"].depth) == (2 * 4, 2 * 9)
    assert memories["layer1.kernel"].rom and memories["layer1.decode"].rom
    assert (memories["layer1.decode"].width, memories["layer1.decode"].depth) == \
        (image.decode_bits, 64)
    assert "layer1.weights" not in memories and "layer2.weights" in memories
    assert memories["layer1.pe0"].depth == memories["layer1.pe1"].depth == 2 * 16   # G · HW
    assert "layer1.pe2" not in memories
    assert memories["layer1.membranes"].depth == 2 * 16 * 2 // 2      # rows · P / S chunks
    core = design_features(network, config, "ulx3s")
    unrolled = design_features(network, HardwareConfig.uniform(network, lanes=2,
                                                               conv="unrolled"), "ulx3s")
    assert core["conv_datapath_bits"] > 0 and unrolled["conv_datapath_bits"] == 0
    assert core["word_bits"] == 2 * 4 + unrolled["word_bits"] - compile_weights(
        network[0], 2, "csc").memories["weights"].width


def row(lanes, lut, cycles, conv="kernel"):
    return {"w_bits": None, "density": 1.0, "steps": 8, "encoder": "rate", "conv": conv,
            "format": "csc", "queue_depth": 16, "lanes": lanes, "LUT": lut,
            "cycles_per_image": cycles, "resource_source": "synthesis", "fits": True}


def test_lhr_study_on_a_conv_network():
    """Uniform P on a conv network is min(P, C_out) for the conv layer on the core: (3, 4)
    is uniform P = 4 (C_out = 3), (4, 4) could not exist; the unrolled rows are another
    context."""
    spec = load_spec({"axes": {"w_bits": 4, "density": 0.5, "steps": 8}})
    sizes = (LayerShape(48, 3), LayerShape(10))
    rows = [row((1, 1), 1000, 900), row((3, 4), 1500, 300), row((3, 1), 1200, 400),
            row((1, 4), 1400, 700), row((4, 4), 100, 10, "unrolled")]
    study = lhr_study(rows, spec, sizes)
    entries = {e["uniform_lanes"]: e for e in study["entries"]}
    assert set(entries) == {(1, 1), (3, 4)}
    assert entries[(3, 4)]["best_lanes"] == (3, 4)
    assert entries[(1, 1)]["best_lanes"] == (1, 1)
    assert study["context"]["conv"] == "kernel"
