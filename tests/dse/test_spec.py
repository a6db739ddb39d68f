"""The sweep specification of ``spikefab dse`` (spikefab.dse.spec): defaults, the same
spec from YAML, TOML and a dict, round trips, point expansion counted by hand, and bad specs
whose errors name the source and the key path."""

import copy
import json
import sys

import numpy as np
import pytest

from spikefab.model import HardwareConfig, LayerConfig
from spikefab.dse.spec import (DEFAULT_SPEC, Axes, Point, Spec, SpecError, Synthesis,
                                     Train, load_spec)

FULL_YAML = """\
network: nets/net.npz
dataset: data/set.npz
board: ulx3s
clock_mhz: 50
samples: 200
cycle_samples: 20
axes:
  lanes: [[1, 2, 4], [1, 10]]
  format: [csc, bitmap]
  queue_depth: 8
  density: [0.25, 1]
  steps: 16
  encoder: [rate, latency]
synthesis:
  max_points: 3
  near: 2
  calibration: 0
  timeout_s: 600.5
  lhr: 2
"""

BUILTIN_YAML = """\
network: mnist
train:
  hidden: 64
  seed: 7
axes:
  w_bits: [4, 8]
  lanes:
"""

FULL_TOML = """\
network = "nets/net.npz"
dataset = "data/set.npz"
board = "ulx3s"
clock_mhz = 50
samples = 200
cycle_samples = 20

[axes]
lanes = [[1, 2, 4], [1, 10]]
format = ["csc", "bitmap"]
queue_depth = 8
density = [0.25, 1]
steps = 16
encoder = ["rate", "latency"]

[synthesis]
max_points = 3
near = 2
calibration = 0
timeout_s = 600.5
lhr = 2
"""

BUILTIN_TOML = """\
network = "mnist"
train = {hidden = 64, seed = 7}
axes.w_bits = [4, 8]
"""

FULL_DICT = {
    "network": "nets/net.npz", "dataset": "data/set.npz", "board": "ulx3s", "clock_mhz": 50,
    "samples": 200, "cycle_samples": 20,
    "axes": {"lanes": [[1, 2, 4], [1, 10]], "format": ["csc", "bitmap"], "queue_depth": 8,
             "density": [0.25, 1], "steps": 16, "encoder": ["rate", "latency"]},
    "synthesis": {"max_points": 3, "near": 2, "calibration": 0, "timeout_s": 600.5, "lhr": 2},
}

BUILTIN_DICT = {"network": "mnist", "train": {"hidden": 64, "seed": 7},
                "axes": {"w_bits": [4, 8], "lanes": None}}


def make_files(root):
    """A network file (only its existence is checked) and a data set archive under ``root``."""
    (root / "nets").mkdir(exist_ok=True)
    (root / "nets" / "net.npz").write_bytes(b"not read by the spec")
    (root / "nets" / "net.nir").write_bytes(b"not read by the spec")
    (root / "data").mkdir(exist_ok=True)
    np.savez(root / "data" / "set.npz", x=np.zeros((5, 16), np.uint8), y=np.arange(5))


def test_defaults():
    spec = load_spec(None)
    assert spec == load_spec({}) == load_spec({"axes": None, "synthesis": {}})
    assert spec.to_dict() == DEFAULT_SPEC
    assert spec.network == spec.network_kind == spec.dataset_kind == "digits"
    assert spec.dataset is None and spec.clock_mhz is None and spec.samples is None
    assert spec.board == "icebreaker" and spec.effective_clock_mhz == 12.0
    assert spec.cycle_samples == 100
    assert spec.train == Train(hidden=128, epochs=60, seed=0)
    assert spec.axes == Axes(lanes=(1, 2, 4, 8, 16), format=("csc",), queue_depth=(16,),
                             w_bits=(4,), density=(0.5,), steps=(32,), encoder=("rate",))
    assert not spec.axes.per_layer
    assert spec.synthesis == Synthesis(max_points=12, near=1, calibration=4, timeout_s=1800.0,
                                       lhr=0)
    assert isinstance(spec, Spec) and hash(spec) == hash(load_spec(None))
    # P capped at the output layer's 10 neurons: 16 -> (16, 10)
    assert [p.lanes for p in spec.points((128, 10))] == [(1, 1), (2, 2), (4, 4), (8, 8),
                                                         (16, 10)]
    assert load_spec({"board": "none"}).effective_clock_mhz is None
    assert load_spec({"board": "none", "clock_mhz": 20}).effective_clock_mhz == 20.0


def test_yaml_toml_and_dict_give_the_same_spec(tmp_path, monkeypatch):
    make_files(tmp_path)
    (tmp_path / "spec.yaml").write_text(FULL_YAML)
    (tmp_path / "spec.toml").write_text(FULL_TOML)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)           # file paths resolve against the spec file's folder
    from_yaml = load_spec(tmp_path / "spec.yaml")
    from_toml = load_spec(str(tmp_path / "spec.toml"))
    monkeypatch.chdir(tmp_path)            # a dict's paths resolve against the working directory
    from_dict = load_spec(FULL_DICT)
    assert from_yaml == from_toml == from_dict
    spec = from_yaml
    assert spec.network == str(tmp_path / "nets" / "net.npz")
    assert spec.dataset == str(tmp_path / "data" / "set.npz")
    assert spec.network_kind == "npz" and spec.dataset_kind == "npz" and not spec.builtin
    assert spec.train == Train(128, 60, 0) and spec.to_dict()["train"] is None
    assert spec.clock_mhz == 50.0 and spec.effective_clock_mhz == 50.0
    assert spec.axes.lanes == ((1, 2, 4), (1, 10)) and spec.axes.per_layer
    assert spec.axes.queue_depth == (8,) and spec.axes.steps == (16,)
    assert spec.axes.density == (0.25, 1.0) and spec.axes.w_bits == (None,)
    assert spec.synthesis.timeout_s == 600.5 and spec.synthesis.lhr == 2
    assert from_yaml.source.endswith("spec.yaml") and from_dict.source == "spec"
    (tmp_path / "spec.yml").write_text(FULL_YAML)
    assert load_spec(tmp_path / "spec.yml") == from_yaml


def test_builtin_network_from_yaml_toml_and_dict(tmp_path):
    (tmp_path / "mnist.yaml").write_text(BUILTIN_YAML)
    (tmp_path / "mnist.toml").write_text(BUILTIN_TOML)
    spec = load_spec(tmp_path / "mnist.yaml")
    assert spec == load_spec(tmp_path / "mnist.toml") == load_spec(BUILTIN_DICT)
    assert spec.builtin and spec.network_kind == spec.dataset_kind == "mnist"
    assert spec.train == Train(hidden=64, epochs=60, seed=7)
    assert spec.axes.w_bits == (4, 8) and spec.axes.lanes == (1, 2, 4, 8, 16)   # null: default


def test_network_file_defaults(tmp_path, monkeypatch):
    make_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    spec = load_spec({"network": "nets/net.npz"})
    assert spec.dataset is None and spec.dataset_kind is None   # its input count decides
    assert spec.axes.w_bits == (None,) and spec.axes.density == (1.0,)
    assert spec.to_dict()["axes"]["w_bits"] is None and load_spec(spec.to_dict()) == spec
    points = spec.points((128, 10))
    assert len(points) == 5 and points[-1].w_bits is None
    assert points[-1].label == "d1 T32 rate csc q16 P16-10"
    assert points[-1].network_key() == (None, 1.0)
    assert Point.from_dict(points[-1].to_dict()) == points[-1]


@pytest.mark.parametrize("source", [None, "full"])
def test_round_trip(source, tmp_path, monkeypatch):
    make_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    spec = load_spec(None if source is None else FULL_DICT)
    data = spec.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == list(DEFAULT_SPEC)
    assert load_spec(data) == spec
    assert load_spec(spec) is spec
    # scalars become one-element lists
    if source == "full":
        assert data["axes"]["steps"] == [16] and data["axes"]["queue_depth"] == [8]
        assert data["axes"]["lanes"] == [[1, 2, 4], [1, 10]] and data["train"] is None


def test_point_count_by_hand():
    spec = load_spec({"axes": {"w_bits": [4, 8], "density": [0.25, 0.5, 1], "steps": 16,
                               "encoder": ["rate", "latency"], "format": ["csc", "bitmap"],
                               "queue_depth": [4, 16], "lanes": [1, 16, 32]}})
    points = spec.points((16, 10))
    # lanes 16 and 32 both cap to (16, 10): 2 lane choices, not 3
    assert len(points) == 2 * 3 * 1 * 2 * 2 * 2 * 2 == 96
    assert len(set(points)) == 96
    assert {p.lanes for p in points} == {(1, 1), (16, 10)}
    assert points[0] == Point(4, 0.25, 16, "rate", "csc", 4, (1, 1))
    assert points[1] == Point(4, 0.25, 16, "rate", "csc", 4, (16, 10))
    assert points[2].queue_depth == 16 and points[4].format == "bitmap"
    assert points[8].encoder == "latency" and points[16].density == 0.5
    assert points[48].w_bits == 8 and points[-1] == Point(8, 1.0, 16, "latency", "bitmap", 16,
                                                          (16, 10))
    # the order is the nested product w_bits, density, steps, encoder, format, queue_depth, lanes
    keys = [(p.w_bits, p.density, p.steps, p.encoder, p.format, p.queue_depth, p.lanes)
            for p in points]
    order = {"rate": 0, "latency": 1, "csc": 0, "bitmap": 1}
    assert keys == sorted(keys, key=lambda k: tuple(order.get(v, v) for v in k))
    assert points[1].label == "w4 d0.25 T16 rate csc q4 P16-10"
    assert points[-1].label == "w8 d1 T16 latency bitmap q16 P16-10"
    # one layer larger than every P: no capping
    assert len(spec.points([64, 64])) == 2 * 3 * 2 * 2 * 2 * 3


def test_per_layer_lanes():
    spec = load_spec({"axes": {"lanes": [[1, 2, 4], [1, 10]]}})
    assert [p.lanes for p in spec.points((16, 10))] == [(1, 1), (1, 10), (2, 1), (2, 10),
                                                        (4, 1), (4, 10)]
    # a layer's scalar is its one-element list
    spec = load_spec({"axes": {"lanes": [[8, 16], 10]}})
    assert spec.axes.lanes == ((8, 16), (10,))
    assert [p.lanes for p in spec.points((16, 10))] == [(8, 10), (16, 10)]


def test_point_keys_dict_and_hardware():
    point = Point(4, 0.5, 32, "rate", "csc", 16, [16, 10])
    assert point.lanes == (16, 10) and hash(point) == hash(Point.from_dict(point.to_dict()))
    assert point.to_dict() == {"w_bits": 4, "density": 0.5, "steps": 32, "encoder": "rate",
                               "format": "csc", "queue_depth": 16, "lanes": [16, 10]}
    assert Point.from_dict(json.loads(json.dumps(point.to_dict()))) == point
    assert point.label == "w4 d0.5 T32 rate csc q16 P16-10"
    assert point.network_key() == (4, 0.5)
    assert point.golden_key() == (4, 0.5, 32, "rate")
    assert point.hardware_key() == ("csc", 16, (16, 10))
    assert point.hardware_config() == HardwareConfig((LayerConfig(16, "csc", 16),
                                                      LayerConfig(10, "csc", 16)))
    with pytest.raises(SpecError, match=r"^point: point.lanes\[1\] = 0 is out of range"):
        Point(4, 0.5, 32, "rate", "csc", 16, (16, 0))
    with pytest.raises(SpecError, match=r"^run.json: point misses key 'lanes'"):
        Point.from_dict({k: v for k, v in point.to_dict().items() if k != "lanes"},
                        source="run.json")
    with pytest.raises(SpecError, match=r"unknown key 'lane' in point.*did you mean 'lanes'"):
        Point.from_dict({**point.to_dict(), "lane": 1})


def test_replace(tmp_path, monkeypatch):
    spec = load_spec(None)
    changed = spec.replace(board="ulx3s", axes={"lanes": [4]})
    assert changed.board == "ulx3s" and changed.axes.lanes == (4,)
    assert changed.axes.format == spec.axes.format and changed.train == spec.train
    with pytest.raises(SpecError, match=r"^spec: axes.steps\[0\] = 0 is out of range"):
        spec.replace(axes={"steps": [0]})
    make_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    file_spec = spec.replace(network="nets/net.npz", dataset="digits")
    assert file_spec.network_kind == "npz" and file_spec.axes.w_bits == (None,)
    assert file_spec.to_dict()["train"] is None
    assert file_spec.replace(network="digits", dataset=None).axes.w_bits == (4,)


def test_yaml_needs_the_dse_extra(tmp_path, monkeypatch):
    (tmp_path / "spec.yaml").write_text("board: none\n")
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ModuleNotFoundError, match=r"spikefab\[dse\]"):
        load_spec(tmp_path / "spec.yaml")


def with_axes(**axes):
    return {"axes": axes}


#: (id, source: a dict, or (file name, text), expected fragments of the message)
BAD = [
    ("unknown-top-key", {"netwrok": "digits"},
     ["unknown key 'netwrok' at the top level", "did you mean 'network'"]),
    ("unknown-axes-key", with_axes(lane=[1]),
     ["unknown key 'lane' in axes; allowed keys: lanes, format", "did you mean 'lanes'"]),
    ("unknown-synthesis-key", {"synthesis": {"timeout": 5}},
     ["unknown key 'timeout' in synthesis", "did you mean 'timeout_s'"]),
    ("wrong-type-density", with_axes(density=["x"]),
     ["axes.density[0] = 'x' must be a number in (0, 1]"]),
    ("wrong-type-network", {"network": 3}, ["network = 3 must be 'digits', 'mnist'"]),
    ("wrong-type-axes", {"axes": [1, 2]}, ["axes must be a mapping", "not a list"]),
    ("wrong-type-steps-float", with_axes(steps=[32.0]),
     ["axes.steps[0] = 32.0 must be an integer in [1, 65535]"]),
    ("out-of-range-lanes", with_axes(lanes=[[1], [1, 2, 0]]),
     ["axes.lanes[1][2] = 0 is out of range; allowed range is [1, 4096]"]),
    ("out-of-range-uniform-lanes", with_axes(lanes=5000),
     ["axes.lanes = 5000 is out of range; allowed range is [1, 4096]"]),
    ("out-of-range-density", with_axes(density=[0.5, 0]),
     ["axes.density[1] = 0 is out of range; allowed range is (0, 1]"]),
    ("out-of-range-queue-depth", with_axes(queue_depth=[1]),
     ["axes.queue_depth[0] = 1 is out of range; allowed range is [2, 65536]"]),
    ("out-of-range-w-bits", with_axes(w_bits=[17]),
     ["axes.w_bits[0] = 17 is out of range; allowed range is [2, 16]"]),
    ("out-of-range-clock", {"clock_mhz": 1001},
     ["clock_mhz = 1001 is out of range; allowed range is (0, 1000]"]),
    ("out-of-range-seed", {"train": {"seed": 2**32}},
     ["train.seed = 4294967296 is out of range; allowed range is [0, 4294967295]"]),
    ("out-of-range-near", {"synthesis": {"near": 11}},
     ["synthesis.near = 11 is out of range; allowed range is [1, 10]"]),
    ("out-of-range-lhr", {"synthesis": {"lhr": -1}},
     ["synthesis.lhr = -1 is out of range; allowed range is [0, 1000]"]),
    ("out-of-range-timeout", {"synthesis": {"timeout_s": 0}},
     ["synthesis.timeout_s = 0 is out of range; allowed range is (0, inf)"]),
    ("out-of-range-samples", {"samples": 0}, ["samples = 0 is out of range"]),
    ("bool-for-int", with_axes(steps=[True]),
     ["axes.steps[0] = True must be an integer in [1, 65535], not a bool"]),
    ("bool-for-int-top", {"cycle_samples": False}, ["cycle_samples = False", "not a bool"]),
    ("bool-for-number", {"clock_mhz": True}, ["clock_mhz = True must be a number", "bool"]),
    ("empty-list", with_axes(format=[]), ["axes.format is empty"]),
    ("empty-layer-list", with_axes(lanes=[[1], []]), ["axes.lanes[1] is empty"]),
    ("duplicates", with_axes(w_bits=[4, 8, 4]), ["axes.w_bits[2] = 4 repeats axes.w_bits[0]"]),
    ("duplicates-int-float", with_axes(density=[1, 1.0]),
     ["axes.density[1] = 1.0 repeats axes.density[0]"]),
    ("unknown-board", {"board": "icebraker"},
     ["board = 'icebraker' is not allowed; choose one of icebreaker",
      "did you mean 'icebreaker'"]),
    ("unknown-format", with_axes(format=["csc", "csr"]),
     ["axes.format[1] = 'csr' is not allowed; choose one of dense, csc, bitmap"]),
    ("unknown-encoder", with_axes(encoder="spikes"),
     ["axes.encoder = 'spikes' is not allowed; choose one of rate, latency"]),
    ("unknown-network-name", {"network": "digit"}, ["network = 'digit'", "did you mean 'digits'"]),
    ("missing-network-file", {"network": "nope.nir"}, ["network = 'nope.nir': no such file"]),
    ("network-extension", {"network": "nets/net.onnx"},
     ["network = 'nets/net.onnx' must be", "a path to a .npz or .nir file"]),
    ("train-with-file-network", {"network": "nets/net.npz", "dataset": "digits",
                                 "train": {"epochs": 1}},
     ["train is only for the built-in networks"]),
    ("w-bits-with-file-network", {"network": "nets/net.nir", "axes": {"w_bits": 4}},
     ["axes.w_bits cannot be swept for a network file"]),
    ("missing-dataset-file", {"dataset": "gone.npz"}, ["dataset = 'gone.npz': no such file"]),
    ("dataset-without-y", {"dataset": "data/x_only.npz"},
     ["dataset = 'data/x_only.npz': the archive has no array 'y'"]),
    ("dataset-rows", {"dataset": "data/rows.npz"}, ["x has 5 rows and y 4 labels"]),
    ("dataset-not-npz", {"dataset": "nets/net.npz"}, ["not a readable NumPy .npz archive"]),
    ("bad-extension", ("spec.json", "{}"),
     ["unknown spec file extension '.json'; allowed: .yaml, .yml, .toml"]),
    ("missing-spec-file", ("absent.yaml", None), ["cannot read it"]),
    ("malformed-yaml", ("spec.yaml", "board: ulx3s\naxes: [1, 2\n"),
     ["malformed YAML at line 3"]),
    ("repeated-yaml-key", ("spec.yaml", "board: ulx3s\nboard: none\n"),
     ["malformed YAML at line 2", "key 'board' is given twice"]),
    ("malformed-toml", ("spec.toml", "board = 'ulx3s'\naxes = \n"),
     ["malformed TOML", "line 2"]),
    ("top-level-list", ("spec.yaml", "- board\n- ulx3s\n"),
     ["the top level must be a mapping", "not a list"]),
    ("yaml-key-path", ("spec.yaml", "axes:\n  lanes: [[1], [1, 2, 0]]\n"),
     ["axes.lanes[1][2] = 0 is out of range; allowed range is [1, 4096]"]),
    ("toml-unknown-key", ("spec.toml", "[axes]\nlane = [1]\n"),
     ["unknown key 'lane' in axes", "did you mean 'lanes'"]),
]


@pytest.mark.parametrize("source, fragments", [case[1:] for case in BAD],
                         ids=[case[0] for case in BAD])
def test_bad_specs_name_the_source_and_key(source, fragments, tmp_path, monkeypatch):
    make_files(tmp_path)
    (tmp_path / "nets" / "net.onnx").write_bytes(b"")
    np.savez(tmp_path / "data" / "x_only.npz", x=np.zeros((5, 16)))
    np.savez(tmp_path / "data" / "rows.npz", x=np.zeros((5, 16)), y=np.arange(4))
    monkeypatch.chdir(tmp_path)
    if isinstance(source, tuple):
        name, text = source
        path = tmp_path / name
        if text is not None:
            path.write_text(text)
        prefix, source = f"{path}: ", path
    else:
        prefix = "spec: "
    with pytest.raises(SpecError) as caught:
        load_spec(copy.deepcopy(source))
    message = str(caught.value)
    assert message.startswith(prefix), message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("lanes, sizes, fragments", [
    ([[1, 2], [1]], (16, 10, 4),
     ["axes.lanes has 2 per-layer lists but the network has 3 layers (sizes 16, 10, 4)"]),
    ([[1, 2], [1]], (16,), ["axes.lanes has 2 per-layer lists", "has 1 layers"]),
    ([[1, 16], [1, 5, 12]], (16, 10),
     ["axes.lanes[1][2] = 12 is out of range; allowed range is [1, 10]"]),
], ids=["too-few-lists", "too-many-lists", "lanes-above-layer-size"])
def test_per_layer_lanes_against_the_network(lanes, sizes, fragments, tmp_path):
    path = tmp_path / "sweep.toml"
    path.write_text(f"[axes]\nlanes = {lanes}\n")
    spec = load_spec(path)
    with pytest.raises(SpecError) as caught:
        spec.points(sizes)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message


def test_bad_arguments():
    with pytest.raises(TypeError, match="source must be"):
        load_spec(3)
    with pytest.raises(ValueError, match="layer_sizes"):
        load_spec(None).points(())
    with pytest.raises(TypeError, match="layer_sizes"):
        load_spec(None).points("16")
    assert issubclass(SpecError, ValueError)
