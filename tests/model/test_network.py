"""Validation of the integer network description: every invalid value raises, naming the
field and the allowed range."""

import numpy as np
import pytest

from spikefab.model import Layer, Network, signed_range

W = np.array([[1, -2], [3, 0], [0, 1]])


def make(**overrides):
    fields = dict(weights=W, theta=4, w_bits=4, v_bits=8)
    fields.update(overrides)
    return Layer(**fields)


def test_valid_layer_properties():
    layer = make(bias=[1, -1, 0], leak="shift", k=2)
    assert (layer.neurons, layer.fan_in) == (3, 2)
    assert layer.beta == 0.75
    assert layer.bias.tolist() == [1, -1, 0]
    # By hand: positive parts per row (weights + bias) [1+1, 3+0, 1+0] -> 3;
    # negative parts [-2+0, 0-1, 0+0] -> 2; the bound is the larger, 3.
    assert layer.current_bound() == 3
    assert make(leak="mul", m=3, f=2).beta == 0.75
    assert make().beta == 1.0


def test_weights_are_frozen():
    layer = make()
    with pytest.raises(ValueError):
        layer.weights[0, 0] = 5


@pytest.mark.parametrize("overrides, message", [
    (dict(w_bits=1), r"w_bits = 1 is out of range; allowed range is \[2, 16\]"),
    (dict(w_bits=17), r"w_bits = 17 .*\[2, 16\]"),
    (dict(v_bits=2), r"v_bits = 2 .*\[3, 32\]"),
    (dict(v_bits=33), r"v_bits = 33 .*\[3, 32\]"),
    (dict(weights=np.array([[8, 0]]), w_bits=4), r"weights holds 8, which does not fit w_bits = 4 \(signed range \[-8, 7\]\)"),
    (dict(weights=np.array([[-9, 0]]), w_bits=4), r"weights holds -9, .*\[-8, 7\]"),
    (dict(weights=np.array([1, 2])), r"weights must be a 2-D array"),
    (dict(weights=np.zeros((0, 3), dtype=int)), r"at least one neuron and one input"),
    (dict(weights=np.array([[0.5, 1.0]])), r"weights must hold integers"),
    (dict(theta=0), r"theta \(with v_bits = 8\) = 0 is out of range; allowed range is \[1, 126\]"),
    (dict(theta=-3), r"theta .*\[1, 126\]"),
    (dict(theta=127), r"theta \(with v_bits = 8\) = 127 .*\[1, 126\]"),
    (dict(v_bits=4, theta=7), r"theta \(with v_bits = 4\) = 7 .*\[1, 6\]"),
    (dict(bias=[1, 2]), r"bias must have shape \(3,\)"),
    (dict(bias=[128, 0, 0]), r"bias holds 128, which does not fit v_bits = 8"),
    (dict(leak="exp"), r"leak = 'exp' is not allowed; choose one of none, shift, mul"),
    (dict(reset="hard"), r"reset = 'hard' .*subtract, zero"),
    (dict(timing="late"), r"timing = 'late' .*immediate, delayed"),
    (dict(leak="shift"), r"leak 'shift' needs k in \[0, 7\]"),
    (dict(leak="shift", k=8), r"k = 8 is out of range; allowed range is \[0, 7\]"),
    (dict(leak="shift", k=-1), r"k = -1 .*\[0, 7\]"),
    (dict(k=2), r"k is only used by leak 'shift'"),
    (dict(leak="mul", m=3), r"leak 'mul' needs f in \[1, 16\] and m in \[0, 2\*\*f\]"),
    (dict(leak="mul", m=3, f=0), r"f = 0 .*\[1, 16\]"),
    (dict(leak="mul", m=3, f=17), r"f = 17 .*\[1, 16\]"),
    (dict(leak="mul", m=5, f=2), r"m \(with f = 2\) = 5 is out of range; allowed range is \[0, 4\]"),
    (dict(leak="mul", m=-1, f=2), r"m \(with f = 2\) = -1 .*\[0, 4\]"),
    (dict(leak="shift", k=1, m=3), r"m and f are only used by leak 'mul'"),
])
def test_invalid_layer_raises_value_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        make(**overrides)


@pytest.mark.parametrize("overrides, message", [
    (dict(theta=2.5), r"theta .* must be an integer"),
    (dict(theta=True), r"theta .* must be an integer"),
    (dict(w_bits="4"), r"w_bits must be an integer in \[2, 16\]"),
    (dict(weights=np.array([["a"]])), r"weights must be an integer array"),
])
def test_wrong_kind_raises_type_error(overrides, message):
    with pytest.raises(TypeError, match=message):
        make(**overrides)


def test_integral_floats_and_bools_are_accepted():
    assert make(weights=np.array([[1.0, -2.0], [3.0, 0.0], [0.0, 1.0]])).weights.dtype == np.int64
    assert make(weights=np.array([[True, False]])).weights.tolist() == [[1, 0]]


def test_network_shapes_must_chain():
    first = make()
    with pytest.raises(ValueError, match=r"layers\[1\].weights has fan-in 2, but layers\[0\] "
                                         r"has 3 neurons"):
        Network([first, make()])
    with pytest.raises(ValueError, match="at least one Layer"):
        Network([])
    with pytest.raises(TypeError, match=r"layers\[0\] must be a Layer, not ndarray"):
        Network([W])
    net = Network([first, make(weights=np.ones((2, 3), dtype=int))])
    assert net.shape == (2, 3, 2)
    assert (net.n_inputs, net.n_outputs, len(net)) == (2, 2, 2)


def test_replace_revalidates_and_resets_leak_parameters():
    layer = make(leak="shift", k=3)
    assert layer.replace(theta=5).theta == 5
    assert layer.replace(leak="none").k is None
    with pytest.raises(ValueError, match="theta"):
        layer.replace(theta=0)


def test_signed_range():
    assert signed_range(4) == (-8, 7)
    assert signed_range(16) == (-32768, 32767)


def test_save_and_load_round_trip(tmp_path):
    net = Network([make(bias=[1, -1, 0], leak="shift", k=2, timing="delayed"),
                   make(weights=np.array([[1, 2, 3]]), leak="mul", m=3, f=2, reset="zero")])
    path = tmp_path / "net.npz"
    net.save(path)
    back = Network.load(path)
    assert back.shape == net.shape
    for a, b in zip(net, back):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
        assert [getattr(a, n) for n in Network._SCALARS] == [getattr(b, n) for n in Network._SCALARS]


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not an archive")
    with pytest.raises(ValueError, match="not a spikefab network file"):
        Network.load(path)
    np.savez(tmp_path / "other.npz", weights=np.eye(2))
    with pytest.raises(ValueError, match="no format tag"):
        Network.load(tmp_path / "other.npz")


def test_input_code_round_trips_and_old_files_load_without_it(tmp_path):
    """A network file records the input code and T when the network knows them
    (``encoder``, ``steps``); a file without them (every file written before) loads as before,
    the fields None, and the same archive keys as before are written."""
    net = Network([make()])
    assert (net.encoder, net.steps) == (None, None)
    net.save(tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz") as archive:
        assert "encoder" not in archive and "steps" not in archive
    back = Network.load(tmp_path / "plain.npz")
    assert (back.encoder, back.steps) == (None, None)
    for code in ("rate", "latency", "spikes"):
        coded = net.with_input(code, 8)
        assert coded.layers is net.layers
        coded.save(tmp_path / f"{code}.npz")
        back = Network.load(tmp_path / f"{code}.npz")
        assert (back.encoder, back.steps) == (code, 8)
        assert np.array_equal(back[0].weights, net[0].weights)


def test_input_code_bad_values_name_the_field(tmp_path):
    with pytest.raises(ValueError, match="encoder = 'poisson' is not allowed; choose one of "
                                         "spikes, rate, latency"):
        Network([make()], encoder="poisson")
    with pytest.raises(ValueError, match=r"steps = 0 is out of range; allowed range is "
                                         r"\[1, 65535\]"):
        Network([make()], steps=0)
    net = Network([make()])
    net.save(tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz") as archive:
        arrays = dict(archive)
    for name, value, message in [
            ("encoder", np.array("poisson"), r"field 'encoder' holds 'poisson'; allowed values "
                                             r"are spikes, rate, latency"),
            ("encoder", np.array(3), r"field 'encoder' holds 3; allowed"),
            ("steps", np.array(70000), r"field 'steps' holds 70000; allowed values are the "
                                       r"integers in \[1, 65535\]"),
            ("steps", np.array("eight"), r"field 'steps' holds 'eight'"),
            ("steps", np.array([8, 8]), r"field 'steps' holds \[8, 8\]")]:
        path = tmp_path / f"bad-{name}.npz"
        np.savez(path, **{**arrays, name: value})
        with pytest.raises(ValueError, match=message) as info:
            Network.load(path)
        assert str(path) in str(info.value)
