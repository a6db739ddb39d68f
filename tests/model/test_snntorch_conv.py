"""snnTorch convolutional models into spikefab (issue 22): ``snntorch_to_nir`` on ``nn.Conv2d``
/ ``nn.AvgPool2d`` / ``nn.Flatten`` / ``nn.Linear`` / ``snn.Leaky`` models, the import, and
``TrainedSNN.snntorch_module`` for conv networks.

The expected spikes always come from snnTorch's own forward pass (its ``Leaky`` and torch's
``conv2d``/``avg_pool2d``, NNPACK off as in training), recorded here by iterating the module,
never from spikefab; the models are integer where that arithmetic is exact (integer weights
and thresholds, beta 0 or 1, average pools of a power-of-two window over kernels it divides).
"""

import subprocess
import sys

import numpy as np
import pytest

nir = pytest.importorskip("nir", reason="the nir extra is part of make test")
torch = pytest.importorskip("torch", reason="the train extra is part of make test")
snn = pytest.importorskip("snntorch", reason="the train extra is part of make test")

from spikefab.model import (Network, from_snntorch, import_nir, simulate,  # noqa: E402
                            snntorch_agreement, snntorch_to_nir)
from spikefab.model.conv import ConvLayer  # noqa: E402

SPIKEFAB = str(__import__("pathlib").Path(sys.prefix) / "bin" / "spikefab")


def snntorch_spikes(module, trains, input_shape):
    """Every Leaky's spikes ``[B, T, neurons]`` (maps flattened in C, H, W order) from
    snnTorch's own forward pass of the flat ``trains`` ``[B, T, N0]``, each step fed as
    ``[B, *input_shape]``."""
    from snntorch import utils
    leaky = [sub for sub in module.modules() if isinstance(sub, snn.Leaky)]
    records = [[] for _ in leaky]
    utils.reset(module)
    with torch.no_grad(), torch.backends.nnpack.flags(enabled=False):
        for t in range(trains.shape[1]):
            x = torch.tensor(trains[:, t].reshape(len(trains), *input_shape),
                             dtype=torch.float32)
            for sub in module:             # the Sequential's own chain, one module at a time
                x = sub(x)
                if isinstance(sub, snn.Leaky):
                    x = x[0] if isinstance(x, tuple) else x
                    records[leaky.index(sub)].append(x.numpy().reshape(len(trains), -1))
    utils.reset(module)
    return [np.stack(r, axis=1).astype(np.int64) for r in records]


def leaky(rng, last=False):
    """An snn.Leaky with beta 0 or 1, an integer threshold and a reset the golden model
    runs as snnTorch does (not subtract without reset_delay: docs/design.md §2)."""
    reset, delay = [("subtract", True), ("zero", True), ("zero", False)][int(rng.integers(3))]
    return snn.Leaky(beta=float(rng.integers(2)), threshold=float(rng.integers(1, 4)),
                     reset_mechanism=reset, reset_delay=delay, init_hidden=True, output=last)


def set_integers(layer, rng, factor=1, lo=-1, hi=4):
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(rng.integers(lo, hi, layer.weight.shape) * factor,
                                        dtype=torch.float32))
        if layer.bias is not None:
            layer.bias.copy_(torch.tensor(rng.integers(-1, 3, layer.bias.shape) * factor,
                                          dtype=torch.float32))


def random_conv_model(seed):
    """A random snnTorch conv model: 1-2 conv layers (kernels 1-5 per axis, strides 1-2,
    paddings up to kernel - 1, biases or not), each maybe after a pool (an average pool of a
    power-of-two window over a kernel it divides, or an ``nn.AvgPool2d(divisor_override=1)``
    sum pool of any window, padded or not), then maybe a pool before the Flatten, a Linear and
    the output Leaky, every layer of which spikes on random input. Returns ``(module, (C, H,
    W))``."""
    rng = np.random.default_rng(seed)
    while True:
        shape = (int(rng.integers(1, 4)), int(rng.integers(5, 12)), int(rng.integers(5, 12)))
        c, h, w = shape
        modules, factors = [], []
        try:
            for index in range(int(rng.integers(1, 3))):
                factor = 1
                if index and rng.random() < 0.6:
                    k = int(rng.choice([2, 3]))
                    average = k == 2 and rng.random() < 0.5
                    pad = int(rng.integers(0, k // 2 + 1))
                    modules.append(torch.nn.AvgPool2d(
                        k, padding=pad, divisor_override=None if average else 1))
                    factor = k * k if average else 1
                    h, w = (h + 2 * pad - k) // k + 1, (w + 2 * pad - k) // k + 1
                kh, kw = int(rng.integers(1, 6)), int(rng.integers(1, 6))
                sy, sx = int(rng.integers(1, 3)), int(rng.integers(1, 3))
                py, px = int(rng.integers(0, kh)), int(rng.integers(0, kw))
                out = int(rng.integers(2, 5))
                h, w = (h + 2 * py - kh) // sy + 1, (w + 2 * px - kw) // sx + 1
                if min(h, w) < 1:
                    raise ValueError("the map vanished")
                conv = torch.nn.Conv2d(c, out, (kh, kw), (sy, sx), (py, px),
                                       bias=bool(rng.random() < 0.5))
                modules += [conv, leaky(rng)]
                factors.append((conv, factor))
                c = out
            factor = 1
            if rng.random() < 0.4 and min(h, w) >= 2:
                modules.append(torch.nn.AvgPool2d(2))
                factor, h, w = 4, h // 2, w // 2
            linear = torch.nn.Linear(c * h * w, int(rng.integers(2, 6)),
                                     bias=bool(rng.random() < 0.5))
            factors.append((linear, factor))
            modules += [torch.nn.Flatten(), linear, leaky(rng, last=True)]
        except ValueError:
            continue
        for layer, factor in factors:
            set_integers(layer, rng, factor)
        module = torch.nn.Sequential(*modules)
        probe = (rng.random((4, 8, int(np.prod(shape)))) < 0.4).astype(np.int64)
        if all(s.any() for s in snntorch_spikes(module, probe, shape)):
            return module, shape          # else a model some layer of which never spikes


# --- what snnTorch's own exporter does ---------------------------------------------------------

def small_conv_model():
    module = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3, padding=1), snn.Leaky(beta=1.0, init_hidden=True),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(2 * 3 * 3, 3),
        snn.Leaky(beta=1.0, init_hidden=True, output=True))
    rng = np.random.default_rng(0)
    set_integers(module[0], rng)
    set_integers(module[4], rng, factor=4)
    return module


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::RuntimeWarning")
def test_snntorchs_own_exporter_fails_on_a_conv_model():
    """What docs/commands/nir.md says snnTorch 1.0.0 does, so that the page stays true: a
    batched sample breaks nir's type inference of the Conv2d, an unbatched one the Flatten."""
    from snntorch.export_nir import export_to_nir
    module = small_conv_model()
    with pytest.raises(IndexError, match="tuple index out of range"):
        export_to_nir(module, torch.zeros(1, 1, 6, 6))
    with pytest.raises(RuntimeError, match="cannot be multiplied"):
        export_to_nir(module, torch.zeros(1, 6, 6))


def test_the_repaired_graph_carries_what_snntorch_loses():
    module = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(1, 0), bias=False),
        snn.Leaky(beta=0.0, threshold=2.0, init_hidden=True, reset_mechanism="subtract"),
        torch.nn.AvgPool2d(2, padding=1, divisor_override=1),
        torch.nn.Conv2d(3, 4, 1),
        snn.Leaky(beta=1.0, threshold=3.0, init_hidden=True, reset_mechanism="zero",
                  reset_delay=False),
        torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 2, 5),
        snn.Leaky(beta=1.0, init_hidden=True, output=True))
    graph = snntorch_to_nir(module, (2, 6, 4))
    nodes = graph.nodes
    assert [tuple(nodes["input"].output_type["output"])] == [(2, 6, 4)]
    assert nodes["0"].input_shape == (6, 4)
    assert tuple(nodes["0"].output_type["output"]) == (3, 6, 2)
    assert isinstance(nodes["0"].weight, np.ndarray)
    assert isinstance(nodes["2"], nir.SumPool2d)            # divisor_override=1: a sum
    assert tuple(nodes["2"].padding) == (1, 1)              # snnTorch writes (0, 0)
    assert np.asarray(nodes["1"].v_threshold).shape == (3, 6, 2)
    assert nodes["1"].metadata["spikefab_reset"] == "subtract"
    assert nodes["4"].metadata["spikefab_timing"] == "immediate"
    assert tuple(nodes["output"].output_type["output"]) == (5,)
    assert graph.edges[0] == ("input", "0") and graph.edges[-1] == ("7", "output")
    network = import_nir(graph).network
    assert isinstance(network.layers[0], ConvLayer)
    assert network.layers[1].pool.padding == (1, 1)
    # the hidden state of the traced sample is not left behind
    assert all(not torch.is_tensor(getattr(sub, "mem", None)) or not sub.mem.any()
               for sub in module.modules() if isinstance(sub, snn.Leaky))


# --- bit for bit -------------------------------------------------------------------------------

#: The random models checked: 0-15, and two that draw a 3x3 sum pool (rarer: the maps are small).
SEEDS = (*range(16), 28, 33)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_integer_conv_models_are_bit_exact_with_snntorch(tmp_path, seed):
    module, shape = random_conv_model(seed)
    path = tmp_path / "model.nir"
    snntorch_to_nir(module, shape, path)
    imported = import_nir(path)
    assert imported.exact, imported.table()
    network = imported.network
    assert isinstance(network.layers[0], ConvLayer)
    rng = np.random.default_rng(100 + seed)
    trains = (rng.random((8, 12, network.n_inputs)) < 0.4).astype(np.int64)
    expected = snntorch_spikes(module, trains, shape)
    golden = simulate(network, trains)
    assert len(golden.spikes) == len(expected)
    for got, want in zip(golden.spikes, expected):
        np.testing.assert_array_equal(got.astype(np.int64), want)
    assert all(s.any() for s in expected)                        # spikes in every layer
    agreement = snntorch_agreement(module, network, trains)
    assert agreement == {"spikes": [1.0] * len(network), "classes": 1.0, "samples": 8}


def test_geometries_of_the_random_models():
    """The random models above cover what the issue lists: kernels 1-5, strides 1 and 2,
    padding, average and sum pools (3x3 and padded ones too, and one before the Flatten),
    biases."""
    seen = {"kernels": set(), "strides": set(), "padding": False, "avg": False, "sum": False,
            "bias": False, "no_bias": False, "sum3": False, "pool_padding": False,
            "pool_before_flatten": False}
    for seed in SEEDS:
        module, _ = random_conv_model(seed)
        for before, sub in zip(module, list(module)[1:]):
            if isinstance(before, torch.nn.AvgPool2d) and isinstance(sub, torch.nn.Flatten):
                seen["pool_before_flatten"] = True
        for sub in module:
            if isinstance(sub, torch.nn.AvgPool2d):
                seen["sum3"] |= sub.divisor_override == 1 and sub.kernel_size == 3
                seen["pool_padding"] |= sub.padding != 0
            if isinstance(sub, torch.nn.Conv2d):
                seen["kernels"] |= set(sub.kernel_size)
                seen["strides"] |= set(sub.stride)
                seen["padding"] |= any(sub.padding)
                seen["bias" if sub.bias is not None else "no_bias"] = True
            if isinstance(sub, torch.nn.AvgPool2d):
                seen["sum" if sub.divisor_override == 1 else "avg"] = True
    assert seen["kernels"] == {1, 2, 3, 4, 5} and seen["strides"] == {1, 2}
    assert all(seen[key] for key in ("padding", "avg", "sum", "bias", "no_bias", "sum3",
                                     "pool_padding", "pool_before_flatten"))


def test_a_users_own_module_class_is_read():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 3, 3, stride=2)
            self.lif1 = snn.Leaky(beta=1.0, threshold=2.0, init_hidden=True)
            self.flat = torch.nn.Flatten()
            self.fc = torch.nn.Linear(3 * 3 * 3, 4, bias=False)
            self.lif2 = snn.Leaky(beta=0.0, threshold=2.0, init_hidden=True, output=True)

        def forward(self, x):
            return self.lif2(self.fc(self.flat(self.lif1(self.conv(x)))))

    module = Net()
    rng = np.random.default_rng(4)
    set_integers(module.conv, rng)
    set_integers(module.fc, rng)
    network = from_snntorch(module, (1, 7, 7))
    assert network.layers[0].geometry.out_shape == (3, 3, 3)
    trains = (rng.random((6, 10, 49)) < 0.5).astype(np.int64)
    assert snntorch_agreement(module, network, trains)["spikes"] == [1.0, 1.0]
    expected = snntorch_spikes(torch.nn.Sequential(module.conv, module.lif1, module.flat,
                                                   module.fc, module.lif2), trains, (1, 7, 7))
    for got, want in zip(simulate(network, trains).spikes, expected):
        np.testing.assert_array_equal(got.astype(np.int64), want)


def test_dropout_and_identity_are_spliced_out():
    """snnTorch's converter returns None for them (a node nir cannot write) and nirtorch's
    tracer adds a bypass edge; the file has neither and runs as the model does."""
    module = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 2), snn.Leaky(beta=1.0, threshold=2.0, init_hidden=True),
        torch.nn.Dropout(0.0), torch.nn.Flatten(), torch.nn.Identity(),
        torch.nn.Linear(3 * 4 * 4, 4), snn.Leaky(beta=1.0, init_hidden=True, output=True))
    rng = np.random.default_rng(5)
    set_integers(module[0], rng)
    set_integers(module[5], rng)
    graph = snntorch_to_nir(module, (1, 5, 5))
    assert set(graph.nodes) == {"input", "0", "1", "3", "5", "6", "output"}
    assert graph.edges == [("input", "0"), ("0", "1"), ("1", "3"), ("3", "5"), ("5", "6"),
                           ("6", "output")]
    network = import_nir(graph).network
    trains = (rng.random((5, 10, 25)) < 0.5).astype(np.int64)
    for got, want in zip(simulate(network, trains).spikes,
                         snntorch_spikes(module, trains, (1, 5, 5))):
        np.testing.assert_array_equal(got.astype(np.int64), want)


def test_agreement_of_a_float_conv_model_is_measured_not_assumed():
    torch.manual_seed(0)
    module = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1), snn.Leaky(beta=0.5, init_hidden=True),
        torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(4 * 4 * 4, 5),
        snn.Leaky(beta=0.5, init_hidden=True, output=True))
    imported = import_nir(snntorch_to_nir(module, (1, 8, 8)), w_bits=8)
    assert not imported.exact
    rng = np.random.default_rng(1)
    trains = (rng.random((10, 16, 64)) < 0.5).astype(np.int64)
    rates = snntorch_agreement(module, imported.network, trains)
    expected = snntorch_spikes(module, trains, (1, 8, 8))
    golden = simulate(imported.network, trains)
    assert rates["spikes"] == [float((g == e).mean()) for g, e in zip(golden.spikes, expected)]


# --- refused by name ---------------------------------------------------------------------------

def conv_then(*middle):
    return torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1),
                               snn.Leaky(beta=1.0, init_hidden=True), *middle,
                               torch.nn.Flatten(), torch.nn.Linear(2, 2),
                               snn.Leaky(beta=1.0, init_hidden=True, output=True))


@pytest.mark.parametrize("module, message", [
    (lambda: conv_then(torch.nn.MaxPool2d(2)),
     r"snnTorch module '2' of type MaxPool2d is not supported: a max pool is not a sum"),
    (lambda: torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3, groups=2)),
     r"'0' of type Conv2d: groups = 2 is not supported"),
    (lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, dilation=2)),
     r"'0' of type Conv2d: dilation = \(2, 2\) is not supported"),
    (lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect")),
     r"padding_mode 'reflect' is not supported"),
    (lambda: conv_then(torch.nn.AvgPool2d(3, ceil_mode=True)), r"ceil_mode=True"),
    (lambda: conv_then(torch.nn.AvgPool2d(2, divisor_override=3)),
     r"divisor_override = 3 is not supported; allowed are None or 4 \(an average pool\) and 1"),
    (lambda: conv_then(torch.nn.AvgPool2d(2, padding=1, count_include_pad=False)),
     r"count_include_pad=False"),
    (lambda: conv_then(torch.nn.AdaptiveAvgPool2d(2)),
     r"'2' of type AdaptiveAvgPool2d is not supported; spikefab reads nn.Conv2d"),
])
def test_what_is_not_a_spikefab_layer_is_refused_by_name(module, message):
    with pytest.raises(ValueError, match=message):
        snntorch_to_nir(module(), (1, 6, 6))


def test_a_wrong_input_shape_is_one_clear_error():
    module = small_conv_model()
    with pytest.raises(ValueError, match=r"does not run on an input of shape \(1, 9, 9\)"):
        snntorch_to_nir(module, (1, 9, 9))
    with pytest.raises(ValueError, match="n_inputs has 4 dimensions"):
        snntorch_to_nir(module, (1, 1, 6, 6))
    with pytest.raises(ValueError, match=r"n_inputs = 0 is out of range"):
        snntorch_to_nir(module, (1, 0, 6))


# --- as a user does ----------------------------------------------------------------------------

#: A user's script: an integer snnTorch conv model (sum pool, average pool folded into the
#: Linear, a bias), written with spikefab's exporter. The test runs the same source.
USER_SCRIPT = """\
import numpy as np, torch, snntorch as snn
from spikefab.model import snntorch_to_nir
module = torch.nn.Sequential(
    torch.nn.Conv2d(2, 4, 3, stride=1, padding=1), snn.Leaky(beta=1.0, threshold=3.0, init_hidden=True),
    torch.nn.AvgPool2d(2, divisor_override=1),
    torch.nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding=(1, 0), bias=False),
    snn.Leaky(beta=0.0, threshold=2.0, init_hidden=True, reset_mechanism="zero"),
    torch.nn.AvgPool2d(2), torch.nn.Flatten(), torch.nn.Linear(6 * 2 * 1, 5),
    snn.Leaky(beta=1.0, threshold=2.0, init_hidden=True, output=True))
rng = np.random.default_rng(7)
with torch.no_grad():
    for index, factor in ((0, 1), (3, 1), (7, 4)):
        layer = module[index]
        layer.weight.copy_(torch.tensor(rng.integers(-1, 4, layer.weight.shape) * factor))
        if layer.bias is not None:
            layer.bias.copy_(torch.tensor(rng.integers(-1, 2, layer.bias.shape) * factor))
if __name__ == "__main__":
    snntorch_to_nir(module, (2, 8, 8), "model.nir")
"""


def test_a_conv_model_through_the_command_is_snntorchs_forward(tmp_path):
    """A user's script writes the file, ``spikefab nir import`` reads it (relative path, from
    the folder), and the network it saves runs snnTorch's spikes."""
    (tmp_path / "export.py").write_text(USER_SCRIPT)
    done = subprocess.run([sys.executable, "export.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    done = subprocess.run([SPIKEFAB, "nir", "import", "model.nir", "--cosim", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "runs as a ConvLayer" in done.stdout
    assert "exact: the integer network is the NIR graph's dynamics" in done.stdout
    network = Network.load(tmp_path / "build/nir/network.npz")
    assert [type(layer).__name__ for layer in network] == ["ConvLayer", "ConvLayer", "Layer"]
    scope = {"__name__": "reference"}
    exec(USER_SCRIPT, scope)
    rng = np.random.default_rng(0)
    trains = (rng.random((6, 12, network.n_inputs)) < 0.4).astype(np.int64)
    expected = snntorch_spikes(scope["module"], trains, (2, 8, 8))
    assert all(s.sum() > 0 for s in expected)
    for got, want in zip(simulate(network, trains).spikes, expected):
        np.testing.assert_array_equal(got.astype(np.int64), want)


def test_a_max_pool_from_a_users_script_is_one_error_line(tmp_path):
    script = USER_SCRIPT.replace("torch.nn.AvgPool2d(2, divisor_override=1)",
                                 "torch.nn.MaxPool2d(2)")
    (tmp_path / "export.py").write_text(script)
    done = subprocess.run([sys.executable, "export.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0
    assert "ValueError: snnTorch module '2' of type MaxPool2d is not supported: a max pool " \
        "is not a sum" in done.stderr.splitlines()[-1]
    assert not (tmp_path / "model.nir").exists()


# --- TrainedSNN.snntorch_module of a conv network ----------------------------------------------

@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return np.round(x * 255 / 16).astype(np.int64), y.astype(np.int64)


@pytest.mark.parametrize("reset, timing", [("subtract", "delayed"), ("zero", "immediate")])
def test_trained_conv_network_as_snntorch_module_is_the_golden_model(digits, reset, timing):
    from spikefab.model import encode_rate
    from spikefab.model.train import TrainConfig, train_snn
    x, y = digits
    config = TrainConfig(conv=((3, 3, 1, 1, 1), (4, 3, 1, 1, 2)), hidden=(12,), steps=8,
                         epochs=1, finetune_epochs=1, batch_size=32, seed=3, shift=0,
                         beta=1.0, reset=reset, timing=timing)
    trained = train_snn(x[:96], y[:96], config, progress=False)
    module = trained.snntorch_module()
    kinds = [type(sub).__name__ for sub in module]
    assert kinds == ["Conv2d", "Leaky", "AvgPool2d", "Conv2d", "Leaky", "Flatten", "Linear",
                     "Leaky", "Linear", "Leaky"]
    assert module[2].divisor_override == 1
    np.testing.assert_array_equal(module[3].weight.detach().numpy(),
                                  trained.network.layers[1].kernel)
    trains = encode_rate(x[100:130], config.steps)
    expected = snntorch_spikes(module, trains, (1, 8, 8))
    golden = simulate(trained.network, trains)
    for got, want in zip(golden.spikes, expected):
        np.testing.assert_array_equal(got.astype(np.int64), want)
    assert sum(int(s.sum()) for s in expected) > 0
    assert snntorch_agreement(module, trained.network, trains)["spikes"] == [1.0] * 4
    # and through NIR it is the network again, layer for layer
    back = from_snntorch(module, (1, 8, 8))
    for ours, theirs in zip(trained.network, back):
        assert type(ours) is type(theirs)
        np.testing.assert_array_equal(ours.weights, theirs.weights)
        np.testing.assert_array_equal(ours.bias, theirs.bias)
        for name in ("theta", "leak", "reset", "timing"):
            assert getattr(ours, name) == getattr(theirs, name), name
