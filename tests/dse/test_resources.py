"""The resource estimator: structural features counted by hand on a tiny network, the analytic
block-RAM mapping of memory shapes by hand, exact recovery of non-negative coefficients,
leave-one-out errors by hand, the prior with one or two samples, and bad input."""

import json
import math

import numpy as np
import pytest

from spikefab.model import HardwareConfig, Layer, LayerConfig, Network
from spikefab.dse.resources import (DEFAULT_TERMS, FEATURES, ResourceModel, design_features,
                                      design_memories, map_memory)


def tiny_network():
    """5 inputs -> 6 neurons (w 4, v 8, a bias) -> 3 neurons (w 3, v 6, mul leak, delayed)."""
    rng = np.random.default_rng(1)
    w1 = rng.integers(-7, 8, size=(6, 5))
    w1[w1 == 0] = 1
    w2 = rng.integers(-3, 4, size=(3, 6))
    w2[w2 == 0] = 2
    return Network([
        Layer(w1, theta=5, w_bits=4, v_bits=8, bias=np.array([1, 0, 0, 0, 0, 2])),
        Layer(w2, theta=3, w_bits=3, v_bits=6, leak="mul", m=3, f=2, timing="delayed"),
    ])


def tiny_config(fmt="dense", queue_depth=64):
    return HardwareConfig((LayerConfig(3, fmt, queue_depth), LayerConfig(1, fmt, queue_depth)))


# -- features by hand ---------------------------------------------------------------------------

def test_features_by_hand_on_a_tiny_network():
    f = design_features(tiny_network(), tiny_config(), "icebreaker")
    assert set(f) == set(FEATURES)
    assert all(isinstance(v, float) for v in f.values())
    # Accumulators: w_bits + ceil(log2(fan_in)): layer 1 4 + 3 (fan-in 5), layer 2 3 + 3.
    assert f["pe_adder_bits"] == 3 * (4 + 3) + 1 * (3 + 3)
    # Dense words: P * w_bits.
    assert f["word_bits"] == 3 * 4 + 1 * 3
    # LIF datapath per sweep lane: max(v_bits, acc_bits) + 3.
    assert f["sweep_bits"] == 3 * (8 + 3) + 1 * (6 + 3)
    assert f["current_mux_bits"] == 0                  # S = P: no PE group to choose
    assert f["multipliers"] == 1                       # layer 2's mul leak, one sweep lane
    assert f["queue_bits"] == 64 * (2 + 3) + 64 * (2 + 3)
    assert f["datapath_bits"] == f["pe_adder_bits"] + f["word_bits"] + f["sweep_bits"]
    assert f["const"] == 1 and f["layers"] == 2


def test_memory_mapping_of_a_tiny_network_by_hand():
    """iCE40: a RAM goes to a 4 kbit block when it holds more than 64 bits (a block's cost);
    a ROM when it holds more than 1024."""
    net, config = tiny_network(), tiny_config()
    shapes = {m.name: (m.width, m.depth, m.rom) for m in design_memories(net, config)}
    assert shapes["queue1"] == (5, 64, False)            # 2 kind bits + 3 address bits
    assert shapes["layer1.weights"] == (12, 10, False)   # 3 lanes x 4 bits, 5 columns x 2 rows
    assert shapes["layer1.pe_registers"] == (21, 2, False)   # rows 2 <= REGISTER_ROWS
    assert shapes["layer1.membranes"] == (24, 2, False)
    assert shapes["layer1.bias"] == (24, 2, True)
    assert shapes["layer2.weights"] == (3, 18, False)    # 1 lane x 3 bits, 6 columns x 3 rows
    assert shapes["layer2.pe0"] == (6, 3, False)         # rows 3: a Memory
    assert shapes["layer2.refractory"] == (1, 3, False)  # delayed timing
    assert shapes["frame"] == (8, 512, False)
    assert "layer1.refractory" not in shapes and "layer2.bias" not in shapes

    f = design_features(net, config, "icebreaker")
    # Blocks: queue1 (320 bits), layer1.weights (120), queue2 (320), frame (4096).
    assert f["bram_blocks"] == 4
    assert f["bram_bits"] == 320 + 120 + 320 + 4096
    # Flip-flop state: PE registers 3 x 2 x 7, membranes 48, layer 2 weights 54, PE 18,
    # membranes 18, refractory 3.
    assert f["ff_memory_bits"] == 42 + 48 + 54 + 18 + 18 + 3
    identity = 4 + 5 + 2 * 3 + 5 * 2 + 2 + 9 * 2 + 6 * 2     # the host link's identity bytes
    assert f["rom_logic_bits"] == 48 + 8 * identity
    # A shallow queue is flip-flops too.
    shallow = design_features(net, tiny_config(queue_depth=4), "icebreaker")
    assert shallow["bram_blocks"] == 2
    assert shallow["ff_memory_bits"] == f["ff_memory_bits"] + 4 * 5 + 4 * 5


@pytest.mark.parametrize("width, depth, family, rom, kind, cells, shape", [
    # 3490 x 12 on 512 x 8: 7 address slices x 12 bits = 84 bits / 8 = 11 cells (256 x 16:
    # 14 slices, also 11 cells but a wider read multiplexer; 1024 x 4 and 2048 x 2: 12).
    (12, 3490, "ice40", False, "block", 11, (512, 8)),
    (10, 8, "ice40", False, "block", 1, (256, 16)),     # 80 bits > 64: a block
    (10, 4, "ice40", False, "logic", 0, None),          # 40 bits: flip-flops
    (16, 4, "ice40", False, "logic", 0, None),          # 64 bits: a tie stays logic
    (8, 128, "ice40", True, "logic", 0, None),          # ROM 1024 bits / 16 = 64: a tie
    (8, 129, "ice40", True, "block", 1, (512, 8)),
    (128, 343, "ice40", False, "block", 16, (512, 8)),  # 128 / 8 = 16 cells
    (4, 1280, "ice40", False, "block", 2, (2048, 2)),
    (36, 512, "ecp5", False, "block", 1, (512, 36)),
    (18, 1000, "ecp5", False, "block", 1, (1024, 18)),
    # 64 x 8 in 16 x 4 distributed RAM: 4 slices x 8 bits / 4 = 8 cells, cost 32 + mux 12 +
    # demux 2 = 46, cheaper than a block (128) or flip-flops (512).
    (8, 64, "ecp5", False, "distributed", 8, (16, 4)),
    (8, 64, "ecp5", True, "logic", 0, None),            # ROM: 32, no distributed ROM
    # Distributed RAM does not pack address slices into a cell's width (the ULX3S netlists of
    # the conv sweep, docs/commands/dse.md): 1 x 256 takes 16 cells (cost 64 + mux 7.5 +
    # demux 8), and 10 x 128 would take 8 slices x 3 = 24 (96 + 35 + 4 = 135 > 128): a block.
    (1, 256, "ecp5", False, "distributed", 16, (16, 4)),
    (10, 128, "ecp5", False, "block", 1, (1024, 18)),
])
def test_map_memory_by_hand(width, depth, family, rom, kind, cells, shape):
    mapping = map_memory(width, depth, family, rom=rom)
    assert (mapping.kind, mapping.cells, mapping.shape) == (kind, cells, shape)


def test_ecp5_features_use_ecp5_rams():
    net, config = tiny_network(), tiny_config()
    f = design_features(net, config, "ulx3s")
    # Every small RAM goes to 16 x 4 distributed RAM (4 per cell): the queues (5 x 64), the
    # weights (12 x 10, 3 x 18), membranes (24 x 2, 6 x 3) and layer 2's PE (6 x 3); the
    # frame (8 x 512: 4096 bits) to one DP16KD. The 3-bit refractory memory is cheaper as
    # flip-flops (3) than as a cell (4).
    assert f["bram_blocks"] == 1
    assert f["lutram_bits"] == 320 + 320 + 120 + 54 + 48 + 18 + 18
    assert f["ff_memory_bits"] == 3 * 2 * 7 + 3


def test_sweep_lanes_and_bitmap_features():
    net = tiny_network()
    config = HardwareConfig((LayerConfig(6, "bitmap", 16, 2), LayerConfig(3, "csc", 16, 1)))
    f = design_features(net, config, "icebreaker")
    acc1, acc2 = 4 + 3, 3 + 3
    assert f["current_mux_bits"] == 2 * acc1 * (3 - 1) + 1 * acc2 * (3 - 1)
    assert f["bitmap_bits"] == 6 * 1                   # rows = 1
    assert f["sweep_bits"] == 2 * (8 + 3) + 1 * (6 + 3)
    # csc slot: valid + index bits (rows 1: 0 bits, stored as the slot's width) + w_bits.
    assert f["word_bits"] == 6 * 4 + 3 * (1 + 0 + 3)
    assert f["datapath_bits"] == (f["pe_adder_bits"] + f["word_bits"] + 3 * f["bitmap_bits"]
                                  + f["sweep_bits"] + f["current_mux_bits"])
    assert f["register_bits"] == f["bitmap_bits"] + sum(f[name] for name in (
        "pe_pipeline_bits", "sweep_pipeline_bits", "emitter_bits", "bitmap_bits",
        "counter_bits", "dense_bits", "ff_memory_bits", "bram_port_bits"))


# -- fitting ------------------------------------------------------------------------------------

def synthetic_samples(n, seed=0):
    """Feature dicts with random structural totals and a linear truth."""
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n):
        f = dict.fromkeys(FEATURES, 0.0)
        f.update(const=1.0, datapath_bits=float(rng.integers(50, 2000)),
                 register_bits=float(rng.integers(500, 3000)),
                 bram_blocks=float(rng.integers(10, 30)), multipliers=0.0,
                 lut_structural=float(rng.integers(2000, 8000)),
                 ff_structural=float(rng.integers(1000, 4000)))
        samples.append(f)
    return samples


def truth(f):
    return {"LUT": 2500 + 4.0 * f["datapath_bits"] + 0.75 * f["register_bits"],
            "FF": 800 + 1.0 * f["register_bits"],
            "BRAM": f["bram_blocks"], "DSP": 0.0}


def test_exact_recovery_of_nonnegative_coefficients():
    features = synthetic_samples(8)
    model = ResourceModel().fit([(f, truth(f)) for f in features])
    out = model.to_json()["resources"]
    assert out["LUT"]["model"] == "fit"
    assert out["LUT"]["coefficients"] == pytest.approx(
        {"const": 2500, "datapath_bits": 4.0, "register_bits": 0.75}, rel=1e-8)
    assert out["FF"]["coefficients"] == pytest.approx({"const": 800, "register_bits": 1.0},
                                                      rel=1e-8)
    assert out["BRAM"] == {"model": "analytic", "terms": ["bram_blocks"],
                           "coefficients": {"bram_blocks": 1.0},
                           "loo_error": {"mean_pct": 0.0, "max_pct": 0.0, "points": 8}}
    new = synthetic_samples(1, seed=5)[0]
    assert model.predict(new) == pytest.approx(truth(new), rel=1e-8)
    for resource, error in model.errors().items():
        assert error["points"] == 8 and error["max_pct"] < 1e-6, resource


def test_a_zero_coefficient_stays_zero():
    features = synthetic_samples(6, seed=2)
    used = [{"LUT": 3.0 * f["datapath_bits"]} for f in features]    # no constant
    model = ResourceModel().fit(list(zip(features, used)))
    coefficients = model.to_json()["resources"]["LUT"]["coefficients"]
    assert coefficients["const"] == pytest.approx(0, abs=1e-6)
    assert coefficients["register_bits"] == pytest.approx(0, abs=1e-9)
    assert coefficients["datapath_bits"] == pytest.approx(3.0)


def proportional_loo_by_hand(x, y):
    """Leave-one-out errors of ``y ≈ c x``, ``c`` minimizing the relative squared error
    sum((c x_i - y_i) / y_i)^2: c = sum(r_i) / sum(r_i^2) with r_i = x_i / y_i."""
    errors = []
    for i in range(len(x)):
        r = [x[j] / y[j] for j in range(len(x)) if j != i]
        c = sum(r) / sum(v * v for v in r)
        errors.append(100 * abs(c * x[i] - y[i]) / y[i])
    return errors


def test_leave_one_out_error_by_hand_on_four_points():
    x = [1000.0, 2000.0, 3000.0, 5000.0]
    y = [2100.0, 3900.0, 6300.0, 9800.0]
    samples = [({"const": 1.0, "a": a}, {"LUT": b}) for a, b in zip(x, y)]
    model = ResourceModel(terms={"LUT": ["a"]}, priors={"LUT": "a"}).fit(samples)
    expected = proportional_loo_by_hand(x, y)
    error = model.errors()["LUT"]
    assert error["points"] == 4
    assert error["mean_pct"] == pytest.approx(sum(expected) / 4, rel=1e-9)
    assert error["max_pct"] == pytest.approx(max(expected), rel=1e-9)
    # The first fold by hand: c = (3900/2000 ... ) from the other three points.
    r = [2000 / 3900, 3000 / 6300, 5000 / 9800]
    c = sum(r) / sum(v * v for v in r)
    assert expected[0] == pytest.approx(100 * abs(c * 1000 - 2100) / 2100)


def test_leave_one_out_of_a_two_term_line():
    """Exactly linear data in two terms: each fold of three recovers the line, every error is
    0."""
    a = [100.0, 400.0, 700.0, 1500.0]
    line = [3000 + 2 * v for v in a]
    samples = [({"const": 1.0, "a": v}, {"LUT": u}) for v, u in zip(a, line)]
    model = ResourceModel(terms={"LUT": ["const", "a"]}, priors={"LUT": "a"}).fit(samples)
    assert model.errors()["LUT"]["max_pct"] == pytest.approx(0, abs=1e-9)
    assert model.predict({"const": 1.0, "a": 1000.0})["LUT"] == pytest.approx(5000)


def test_bram_scale_is_adopted_only_when_it_helps():
    features = synthetic_samples(5, seed=3)
    same = ResourceModel().fit([(f, {"BRAM": f["bram_blocks"]}) for f in features])
    assert same.to_json()["resources"]["BRAM"]["model"] == "analytic"
    double = ResourceModel().fit([(f, {"BRAM": 2 * f["bram_blocks"]}) for f in features])
    entry = double.to_json()["resources"]["BRAM"]
    assert entry["model"] == "scale"
    assert entry["coefficients"]["bram_blocks"] == pytest.approx(2.0)
    assert entry["loo_error"]["max_pct"] == pytest.approx(0, abs=1e-9)


def test_prior_with_one_and_two_samples():
    features = synthetic_samples(3, seed=4)
    used = [truth(f) for f in features]
    one = ResourceModel().fit([(features[0], used[0])])
    out = one.to_json()["resources"]
    # Fewer samples than terms: LUT and FF scale their structural totals; BRAM is analytic.
    assert out["LUT"]["model"] == "prior" and out["LUT"]["terms"] == ["lut_structural"]
    assert out["FF"]["model"] == "prior" and out["FF"]["terms"] == ["ff_structural"]
    assert out["BRAM"]["model"] == "analytic"
    assert one.predict(features[0])["LUT"] == pytest.approx(used[0]["LUT"])
    ratio = used[0]["LUT"] / features[0]["lut_structural"]
    assert one.predict(features[1])["LUT"] == pytest.approx(ratio * features[1]["lut_structural"])
    assert one.predict(features[1])["BRAM"] == features[1]["bram_blocks"]
    assert one.errors() == {"LUT": None, "FF": None, "BRAM": None, "DSP": None}
    # Two samples: no fit has a degree of freedom yet (FF has 2 terms, LUT 3): both priors.
    two = ResourceModel().fit([(features[0], used[0]), (features[1], used[1])])
    out = two.to_json()["resources"]
    assert out["FF"]["model"] == "prior" and out["LUT"]["model"] == "prior"
    r = [f["ff_structural"] / u["FF"] for f, u in zip(features[:2], used[:2])]
    assert out["FF"]["coefficients"]["ff_structural"] == pytest.approx(sum(r) / sum(
        v * v for v in r))
    assert all(error is None for error in two.errors().values())
    # Three: FF is fitted (exactly, the data being linear), LUT still the prior.
    three = ResourceModel().fit(list(zip(features, used)))
    out = three.to_json()["resources"]
    assert out["FF"]["model"] == "fit"
    assert out["FF"]["coefficients"] == pytest.approx({"const": 800, "register_bits": 1.0})
    assert out["LUT"]["model"] == "prior"
    assert three.errors()["FF"]["points"] == 3


def test_other_resources_and_the_json_round_trip():
    features = synthetic_samples(4, seed=6)
    samples = [(f, {**truth(f), "SPRAM": 0.0}) for f in features]
    model = ResourceModel().fit(samples)
    assert model.resources == ("LUT", "FF", "BRAM", "DSP", "SPRAM")
    assert model.predict(features[0])["SPRAM"] == 0
    data = json.loads(json.dumps(model.to_json()))
    again = ResourceModel.from_json(data)
    new = synthetic_samples(1, seed=7)[0]
    assert again.predict(new) == pytest.approx(model.predict(new))
    assert again.errors() == model.errors()
    assert again.to_json() == data


def test_outside_the_calibrated_range():
    features = synthetic_samples(6, seed=9)
    model = ResourceModel().fit([(f, truth(f)) for f in features])
    low = min(f["datapath_bits"] for f in features)
    high = max(f["datapath_bits"] for f in features)
    assert model.outside(features[0]) == {}
    far = {**features[0], "datapath_bits": 2 * high}
    assert model.outside(far) == {"datapath_bits": (2 * high, low, high)}
    assert model.outside({**features[0], "datapath_bits": 1.05 * high}) == {}
    assert model.outside({**features[0], "datapath_bits": 1.05 * high}, margin=0) != {}
    again = ResourceModel.from_json(json.loads(json.dumps(model.to_json())))
    assert again.outside(far) == model.outside(far)
    with pytest.raises(ValueError, match="margin = -1 is out of range"):
        model.outside(far, margin=-1)
    with pytest.raises(ValueError, match="missing the feature"):
        model.outside({"const": 1.0})


def test_leave_one_out_falls_back_to_the_prior_in_small_folds():
    """Four samples and a three-term LUT model: the fit has a degree of freedom, each fold of
    three has none, so the folds use the prior (the structural total's scale), as fit()
    itself does with three samples."""
    features = synthetic_samples(4, seed=8)
    samples = [(f, truth(f)) for f in features]
    model = ResourceModel().fit(samples)
    assert model.to_json()["resources"]["LUT"]["model"] == "fit"
    errors = []
    for i, (f, u) in enumerate(samples):
        rest = [s for j, s in enumerate(samples) if j != i]
        r = [g["lut_structural"] / v["LUT"] for g, v in rest]
        c = sum(r) / sum(v * v for v in r)
        errors.append(100 * abs(c * f["lut_structural"] - u["LUT"]) / u["LUT"])
    assert model.errors()["LUT"]["mean_pct"] == pytest.approx(np.mean(errors))
    assert model.errors()["LUT"]["max_pct"] == pytest.approx(max(errors))


def test_default_terms_are_features():
    for resource, terms in DEFAULT_TERMS.items():
        assert set(terms) <= set(FEATURES), resource


# -- bad input ----------------------------------------------------------------------------------

GOOD = synthetic_samples(1)[0]
MISSING = {k: v for k, v in GOOD.items() if k != "register_bits"}


@pytest.mark.parametrize("samples, error, message", [
    ("abc", TypeError, "samples must be a list"),
    ({"LUT": 1}, TypeError, "samples must be a list"),
    ([], ValueError, "samples is empty"),
    ([GOOD], TypeError, r"samples\[0\] must be a \(features, used\) pair"),
    ([(GOOD, {"LUT": 1.0}, 3)], TypeError, r"samples\[0\] must be a"),
    ([("x", {"LUT": 1.0})], TypeError, r"samples\[0\] features must be a dict"),
    ([(GOOD, [1.0])], TypeError, r"samples\[0\] used must be a dict"),
    ([(GOOD, {})], ValueError, r"samples\[0\] used is empty"),
    ([(GOOD, {"LUT": -1.0})], ValueError, r"samples\[0\] used\['LUT'\] = -1 is out of range"),
    ([(GOOD, {"LUT": "many"})], TypeError, r"samples\[0\] used\['LUT'\] must be a number"),
    ([(GOOD, {"LUT": True})], TypeError, r"used\['LUT'\] must be a number"),
    ([(GOOD, {"LUT": math.nan})], ValueError, r"used\['LUT'\] = nan is not finite"),
    ([({**GOOD, "const": math.inf}, {"LUT": 1.0})], ValueError, r"\['const'\] = inf"),
    ([({**GOOD, 3: 1.0}, {"LUT": 1.0})], TypeError, "key 3 that is not a string"),
    ([(GOOD, {"LUT": 1.0, "FF": 1.0}), (GOOD, {"LUT": 1.0})], ValueError,
     r"samples\[1\] has the resources \['LUT'\], samples\[0\] \['FF', 'LUT'\]"),
    ([(MISSING, {"FF": 1.0})], ValueError,
     r"samples\[0\] features is missing the feature\(s\) 'register_bits'"),
])
def test_bad_samples(samples, error, message):
    with pytest.raises(error, match=message):
        ResourceModel().fit(samples)


def test_bad_use_of_a_model():
    with pytest.raises(RuntimeError, match="not fitted"):
        ResourceModel().predict(GOOD)
    with pytest.raises(RuntimeError, match="not fitted"):
        ResourceModel().errors()
    model = ResourceModel().fit([(GOOD, truth(GOOD))])
    with pytest.raises(ValueError, match="features is missing the feature"):
        model.predict({"const": 1.0})
    with pytest.raises(TypeError, match="features must be a dict"):
        model.predict([1.0])
    with pytest.raises(TypeError, match="data must be a dict"):
        ResourceModel.from_json("{}")
    with pytest.raises(ValueError, match=r"resources\['LUT'\] is not a"):
        ResourceModel.from_json({"resources": {"LUT": {"terms": ["a"]}}})


@pytest.mark.parametrize("kwargs, error, message", [
    ({"terms": ["LUT"]}, TypeError, "terms must be a dict"),
    ({"terms": {"LUT": "const"}}, TypeError, r"terms\['LUT'\] must be a list"),
    ({"terms": {"LUT": []}}, ValueError, r"terms\['LUT'\] is empty"),
    ({"terms": {"LUT": ["a", "a"]}}, ValueError, "repeats a feature"),
    ({"terms": {1: ["a"]}}, TypeError, "resource 1 that is not a string"),
    ({"priors": {"LUT": 3}}, TypeError, "priors must be a dict"),
])
def test_bad_model_parameters(kwargs, error, message):
    with pytest.raises(error, match=message):
        ResourceModel(**kwargs)


@pytest.mark.parametrize("args, kwargs, error, message", [
    (("net", "config", "icebreaker"), {}, TypeError, "network must be a spikefab.model.Network"),
    ((None, "config", "icebreaker"), {}, TypeError, "network must be"),
    (("NET", "config", "icebreaker"), {}, TypeError,
     "config must be a spikefab.model.HardwareConfig"),
    (("NET", "CONFIG", "nosuchboard"), {}, ValueError, "unknown board 'nosuchboard'"),
    (("NET", "CONFIG", 3), {}, TypeError, "board must be a board name"),
    (("NET", "CONFIG", "icebreaker"), {"max_steps": 0}, ValueError, "max_steps = 0 is out of"),
    (("NET", "CONFIG", "icebreaker"), {"max_steps": 2.5}, TypeError, "max_steps must be"),
    (("NET", "ONE_LAYER", "icebreaker"), {}, ValueError, "1 layers, the network 2"),
    (("NET", "TOO_WIDE", "icebreaker"), {}, ValueError, r"layers\[1\].lanes = 4 is out of range"),
])
def test_bad_design_features_input(args, kwargs, error, message):
    values = {"NET": tiny_network(), "CONFIG": tiny_config(),
              "ONE_LAYER": HardwareConfig((LayerConfig(1),)),
              "TOO_WIDE": HardwareConfig((LayerConfig(1), LayerConfig(4)))}
    args = [values.get(a, a) if isinstance(a, str) else a for a in args]
    with pytest.raises(error, match=message):
        design_features(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, error, message", [
    ((0, 4, "ice40"), {}, ValueError, "width = 0 is out of range"),
    ((4, -1, "ice40"), {}, ValueError, "depth = -1 is out of range"),
    ((4.0, 4, "ice40"), {}, TypeError, "width must be a positive integer"),
    ((4, True, "ice40"), {}, TypeError, "depth must be a positive integer"),
    ((4, 4, "xilinx"), {}, ValueError, "family = 'xilinx' is not allowed"),
])
def test_bad_map_memory_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        map_memory(*args, **kwargs)
