"""NIR import/export and snnTorch models, checked against the libraries' own code.

Expected spikes come from snnTorch's forward pass (its own ``Leaky``) or from snnTorch's
own NIR reader (``snntorch.import_nir``), never from spikefab; the round trip compares a
network with itself after a file written by ``nir``.
"""

from pathlib import Path

import numpy as np
import pytest

nir = pytest.importorskip("nir", reason="the nir extra is part of make test")
torch = pytest.importorskip("torch", reason="the train extra is part of make test")
snn = pytest.importorskip("snntorch", reason="the train extra is part of make test")

from spikefab.sim import random_networks
from spikefab.model import (Layer, Network, from_nir, from_snntorch, import_nir,  # noqa: E402
                              simulate, snntorch_agreement, snntorch_to_nir, to_nir)

FIELDS = ("theta", "w_bits", "v_bits", "leak", "k", "m", "f", "reset", "timing")


def assert_same_network(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for name in FIELDS:
            assert getattr(x, name) == getattr(y, name), name
        np.testing.assert_array_equal(x.weights, y.weights)
        np.testing.assert_array_equal(x.bias, y.bias)


def random_network(rng, sizes=None):
    """Networks from the checks' one generator (every neuron mode; w_bits 2–8, v_bits
    up to 19)."""
    sizes = sizes or [int(rng.integers(2, 9)) for _ in range(int(rng.integers(2, 5)))]
    return random_networks.random_network(rng, sizes, w_bits=(2, 8), v_bits=(5, 19))


# --- round trip --------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_round_trip_through_a_file_is_the_identity(tmp_path, seed):
    network = random_network(np.random.default_rng(seed))
    path = tmp_path / "net.nir"
    to_nir(network, path)
    back = import_nir(path)
    assert_same_network(network, back.network)
    assert back.exact


def test_export_without_metadata_is_still_read_by_the_nir_rules(tmp_path):
    """What another tool that drops spikefab's metadata sees: NIR's own semantics (zero
    reset in the step of the spike); the leak is recovered from tau exactly."""
    rng = np.random.default_rng(3)
    network = Network([Layer(rng.integers(-7, 8, (6, 5)), theta=9, w_bits=4, v_bits=12,
                             leak="shift", k=3, reset="zero", timing="immediate")])
    graph = to_nir(network)
    for node in graph.nodes.values():
        node.metadata = {}
    assert_same_network(network, from_nir(graph, v_bits=12))


def test_files_written_before_the_rename_read_as_then(tmp_path):
    """A graph exported as spikeforge (``spikeforge_*`` metadata) keeps its subtract reset,
    delayed timing and leak: the old prefix is read where the new one is absent."""
    rng = np.random.default_rng(8)
    network = Network([Layer(rng.integers(-7, 8, (6, 5)), theta=9, w_bits=4, v_bits=12,
                             leak="shift", k=3, reset="subtract", timing="delayed")])
    graph = to_nir(network)
    for holder in [graph, *graph.nodes.values()]:
        holder.metadata = {key.replace("spikefab_", "spikeforge_"): value
                           for key, value in (holder.metadata or {}).items()}
    assert any(key.startswith("spikeforge_") for node in graph.nodes.values()
               for key in (node.metadata or {}))
    nir.write(tmp_path / "old.nir", graph)
    back = import_nir(tmp_path / "old.nir")
    assert_same_network(network, back.network)
    assert back.exact


def test_export_is_valid_nir(tmp_path):
    network = random_network(np.random.default_rng(5), [7, 6, 4])
    graph = to_nir(network, tmp_path / "x.nir")
    graph.infer_types()            # nir's own type check accepts the shapes
    read = nir.read(tmp_path / "x.nir")
    assert float(read.metadata["spikefab_scale"]) == 1.0
    assert read.metadata["spikefab_format"] in (b"spikefab-nir-1", "spikefab-nir-1")
    assert set(read.nodes) == set(graph.nodes)
    assert sorted(read.edges) == sorted(graph.edges)


# --- snnTorch as the reference -----------------------------------------------------------------

def snntorch_forward(module, trains):
    """Every Leaky layer's spikes ``[T, B, N]`` from snnTorch's own forward pass."""
    from snntorch import utils
    utils.reset(module)
    spikes = [[] for sub in module if isinstance(sub, snn.Leaky)]
    with torch.no_grad():
        for step in torch.as_tensor(trains, dtype=torch.float32):
            x, layer = step, 0
            for sub in module:
                x = sub(x)
                if isinstance(sub, snn.Leaky):
                    x = x[0] if isinstance(x, tuple) else x
                    spikes[layer].append(x.numpy().astype(np.int64))
                    layer += 1
    return [np.stack(s) for s in spikes]


def integer_snntorch(rng, sizes, *, beta, reset, delay, scale=1, thresholds=None):
    """nn.Linear + snn.Leaky with integer weights times ``scale``."""
    modules = []
    for index, (fan_in, n) in enumerate(zip(sizes, sizes[1:])):
        linear = torch.nn.Linear(fan_in, n, bias=False)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(rng.integers(-3, 5, (n, fan_in)) * scale,
                                             dtype=torch.float32))
        theta = float(thresholds[index] if thresholds else rng.integers(1, 6)) * scale
        modules += [linear, snn.Leaky(beta=beta, threshold=theta, init_hidden=True,
                                      reset_mechanism=reset, reset_delay=delay,
                                      output=index == len(sizes) - 2)]
    return torch.nn.Sequential(*modules)


def golden_vs_snntorch(module, network, rng, steps=12, batch=16):
    trains = (rng.random((batch, steps, network.n_inputs)) < 0.4).astype(np.int64)
    golden = simulate(network, trains)
    expected = snntorch_forward(module, trains.transpose(1, 0, 2))
    for got, want in zip(golden.spikes, expected):
        np.testing.assert_array_equal(got.transpose(1, 0, 2), want)
    return sum(int(s.sum()) for s in expected)


@pytest.mark.parametrize("beta", [0.0, 1.0])
@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", True), ("zero", False)])
def test_integer_snntorch_models_are_bit_exact(beta, reset, delay):
    for seed in range(4):
        rng = np.random.default_rng(seed)
        module = integer_snntorch(rng, [9, 7, 5, 4], beta=beta, reset=reset, delay=delay)
        network = from_snntorch(module, 9)
        assert import_nir(snntorch_to_nir(module, 9)).exact
        assert network[0].reset == reset
        assert network[0].timing == ("delayed" if delay else "immediate")
        assert network[0].leak == ("none" if beta == 1 else "shift")
        assert golden_vs_snntorch(module, network, rng) > 0  # spikes happened
        trains = (rng.random((8, 10, 9)) < 0.4).astype(np.int64)
        assert snntorch_agreement(module, network, trains) == {
            "spikes": [1.0, 1.0, 1.0], "classes": 1.0, "samples": 8}


@pytest.mark.parametrize("k,steps", [(1, 8), (2, 4), (3, 3)])
@pytest.mark.parametrize("reset,delay", [("subtract", True), ("zero", True), ("zero", False)])
def test_shift_leak_is_bit_exact_where_the_arithmetic_is_exact(k, steps, reset, delay):
    """beta = 1 - 2**-k: with weights and thresholds multiples of 2**(k*steps), every
    membrane snnTorch computes in float32 stays a multiple of 2**k before each leak, so its
    ``beta * v`` equals the hardware's ``v - (v >> k)`` exactly."""
    scale = 1 << (k * steps)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        module = integer_snntorch(rng, [6, 5, 3], beta=1 - 2.0 ** -k, reset=reset,
                                  delay=delay, scale=scale)
        network = from_snntorch(module, 6, w_bits=16)
        assert network[0].leak == "shift" and network[0].k == k
        golden_vs_snntorch(module, network, rng, steps=steps)


def test_immediate_subtract_differs_only_as_documented():
    """snnTorch's reset_delay=False with subtract reset subtracts theta once more when the
    membrane still exceeds it (docs/design.md §2): equal while no membrane exceeds 2*theta."""
    rng = np.random.default_rng(0)
    module = integer_snntorch(rng, [8, 6, 3], beta=1.0, reset="subtract", delay=False,
                              thresholds=[20, 20])
    with torch.no_grad():
        for sub in module:
            if isinstance(sub, torch.nn.Linear):
                sub.weight.clamp_(-3, 3)
    network = from_snntorch(module, 8)
    assert (network[0].reset, network[0].timing) == ("subtract", "immediate")
    golden_vs_snntorch(module, network, rng)


def test_general_snntorch_model_agreement_is_measured():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(20, 16), snn.Leaky(beta=0.8, init_hidden=True),
                                 torch.nn.Linear(16, 5), snn.Leaky(beta=0.8, init_hidden=True,
                                                                   output=True))
    with torch.no_grad():
        module[0].weight.mul_(4)
        module[2].weight.mul_(4)
    imported = import_nir(snntorch_to_nir(module, 20), w_bits=8)
    assert not imported.exact
    layer = imported.layers[0]
    assert layer.leak == "mul m=205 f=8" and layer.beta_error == pytest.approx(205 / 256 - 0.8,
                                                                                abs=1e-6)
    rng = np.random.default_rng(1)
    trains = (rng.random((64, 20, 20)) < 0.3).astype(np.int64)
    golden = simulate(imported.network, trains)
    expected = snntorch_forward(module, trains.transpose(1, 0, 2))
    agree = np.mean(golden.spikes[-1].transpose(1, 0, 2) == expected[-1])
    assert 0.9 < agree < 1.0       # close, not exact — the rate the README reports
    counts = expected[-1].sum(axis=0)
    rates = snntorch_agreement(module, imported.network, trains)
    assert rates["spikes"][-1] == pytest.approx(agree)
    assert rates["spikes"][0] == pytest.approx(
        np.mean(golden.spikes[0].transpose(1, 0, 2) == expected[0]))
    assert rates["classes"] == np.mean(np.argmax(counts, axis=1) == golden.predicted)
    assert rates["samples"] == 64


def test_snntorch_reads_what_spikefab_writes():
    """Other tools read spikefab's files: snnTorch's own NIR reader runs an exported
    network with beta = 0 (tau = dt) and zero reset in the step of the spike (the NIR
    semantics), and its spikes equal the golden model's."""
    import_nir_snn = pytest.importorskip("snntorch.import_nir")
    rng = np.random.default_rng(7)
    network = Network([Layer(rng.integers(-3, 5, (6, 8)), theta=3, w_bits=4, leak="shift", k=0,
                             reset="zero", timing="immediate"),
                       Layer(rng.integers(-3, 5, (4, 6)), theta=2, w_bits=4, leak="shift", k=0,
                             reset="zero", timing="immediate")])
    executor = import_nir_snn.import_from_nir(to_nir(network))
    trains = (rng.random((10, 16, 8)) < 0.5).astype(np.float32)
    golden = simulate(network, trains.transpose(1, 0, 2).astype(np.int64))
    state, outputs = None, []
    with torch.no_grad():
        for step in torch.as_tensor(trains):
            out, state = executor(step, state)
            outputs.append(out.numpy().astype(np.int64))
    np.testing.assert_array_equal(golden.spikes[-1].transpose(1, 0, 2), np.stack(outputs))


# --- NIR graphs built by hand: discretization and quantization rules ---------------------------

def chain(*nodes, names=None):
    names = names or [f"n{i}" for i in range(len(nodes))]
    graph_nodes = dict(zip(names, nodes))
    return nir.NIRGraph(nodes=graph_nodes, edges=list(zip(names, names[1:])), type_check=False)


def lif(n, *, tau, r=None, v_leak=0.0, thr=1.0, v_reset=0.0, dt=1e-4):
    full = lambda value: np.full(n, value, dtype=np.float64)  # noqa: E731
    return nir.LIF(tau=full(tau), r=full(tau / dt if r is None else r), v_leak=full(v_leak),
                   v_threshold=full(thr), v_reset=full(v_reset))


def inp(n):
    return nir.Input(input_type={"input": np.array([n])})


def out(n):
    return nir.Output(output_type={"output": np.array([n])})


def test_euler_and_zoh_discretizations():
    w = np.array([[2.0, -1.0], [1.0, 3.0]])
    tau = 1e-4 / 0.25                              # Euler beta = 0.75, ZOH beta = exp(-0.25)
    graph = chain(inp(2), nir.Linear(weight=w), lif(2, tau=tau, r=1.0, v_leak=2.0, thr=1.0),
                  out(2))
    euler = import_nir(graph, scale=8.0)
    layer = euler.network[0]
    assert (layer.leak, layer.k) == ("shift", 2)
    # input scale r dt/tau = 0.25, leak bias v_leak dt/tau = 0.5 — times the scale 8
    np.testing.assert_array_equal(layer.weights, np.round(w * 0.25 * 8))
    np.testing.assert_array_equal(layer.bias, [4, 4])
    assert layer.theta == 8
    zoh = import_nir(graph, scale=64.0, discretization="zoh")
    beta = np.exp(-0.25)
    assert zoh.layers[0].beta == pytest.approx(beta)
    assert zoh.network[0].leak == "mul" and zoh.network[0].m == round(beta * 256)
    np.testing.assert_array_equal(zoh.network[0].weights, np.round(w * (1 - beta) * 64))
    assert import_nir(graph, dt=2e-4, scale=8.0).layers[0].beta == pytest.approx(0.5)
    graph.metadata = {"dt": 2e-4}
    assert import_nir(graph, scale=8.0).dt == 2e-4


def test_scale_rule_and_report():
    w = np.array([[0.5, -0.25, 0.1], [0.3, 0.2, -0.4]])
    graph = chain(inp(3), nir.Affine(weight=w, bias=np.array([0.05, 0.0])),
                  nir.IF(r=np.ones(2), v_threshold=np.array([1.0, 1.0]), v_reset=np.zeros(2)),
                  out(2))
    imported = import_nir(graph, w_bits=4)
    scale = 7 / 0.5
    layer = imported.network[0]
    np.testing.assert_array_equal(layer.weights, np.round(w * scale))
    np.testing.assert_array_equal(layer.bias, np.round([0.05 * scale, 0]))
    assert layer.theta == round(scale) and layer.leak == "none"
    report = imported.layers[0]
    assert report.scale == scale
    assert report.weight_error == pytest.approx(np.max(np.abs(w * scale - np.round(w * scale)))
                                                / scale)
    assert "| n2 | IF | 2 |" in imported.table()


def test_scaled_leak_free_layers_count_as_exact():
    graph = chain(inp(2), nir.Linear(weight=np.array([[1.0, -1.5], [0.5, 2.0]])),
                  nir.IF(r=np.ones(2), v_threshold=np.array([2.5, 2.5]), v_reset=np.zeros(2)),
                  out(2))
    imported = import_nir(graph, scale=2.0)
    assert imported.exact and imported.layers[0].scale == 2.0
    assert not import_nir(graph, scale=3.0).exact          # 1.5 * 3 and 2.5 * 3 round


def test_per_neuron_thresholds_are_folded_into_rows():
    w = np.array([[2.0, 2.0], [4.0, 4.0]])
    graph = chain(inp(2), nir.Linear(weight=w),
                  nir.IF(r=np.ones(2), v_threshold=np.array([1.0, 2.0]), v_reset=np.zeros(2)),
                  out(2))
    layer = from_nir(graph)
    np.testing.assert_array_equal(layer[0].weights, [[4, 4], [4, 4]])
    assert layer[0].theta == 2


def test_scale_flatten_and_consecutive_affines_fold():
    w1, w2 = np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([[1.0, -1.0], [2.0, 0.0]])
    graph = chain(nir.Input(input_type={"input": np.array([1, 2])}),
                  nir.Flatten(input_type={"input": np.array([1, 2])}, start_dim=0),
                  nir.Scale(scale=np.array([2.0, 1.0])), nir.Linear(weight=w1),
                  nir.Affine(weight=w2, bias=np.array([1.0, 0.0])),
                  nir.IF(r=np.ones(2), v_threshold=np.ones(2) * 3, v_reset=np.zeros(2)), out(2))
    layer = from_nir(graph)[0]
    np.testing.assert_array_equal(layer.weights, w2 @ w1 @ np.diag([2.0, 1.0]))
    np.testing.assert_array_equal(layer.bias, [1, 0])


def test_dotted_node_names_and_ports():
    graph = nir.NIRGraph(nodes={"input": inp(2), "net.0": nir.Linear(weight=np.eye(2) * 2),
                                "net.1": lif(2, tau=1e-4), "output": out(2)},
                         edges=[("input", "net.0"), ("net.0.output", "net.1.input"),
                                ("net.1", "output")], type_check=False)
    np.testing.assert_array_equal(from_nir(graph)[0].weights, np.eye(2) * 2)


def test_reset_overrides():
    graph = chain(inp(2), nir.Linear(weight=np.eye(2) * 2),
                  lif(2, tau=1e-4, thr=1.0), out(2))
    assert (from_nir(graph)[0].reset, from_nir(graph)[0].timing) == ("zero", "immediate")
    layer = from_nir(graph, reset="subtract", timing="delayed")[0]
    assert (layer.reset, layer.timing) == ("subtract", "delayed")


# --- what is refused ---------------------------------------------------------------------------

UNSUPPORTED = {
    "CubaLIF": lambda: nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2),
                                   v_leak=np.zeros(2), v_threshold=np.ones(2)),
    "CubaLI": lambda: nir.CubaLI(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2),
                                 v_leak=np.zeros(2)),
    "LI": lambda: nir.LI(tau=np.ones(2), r=np.ones(2), v_leak=np.zeros(2)),
    "I": lambda: nir.I(r=np.ones(2)),
    "Delay": lambda: nir.Delay(delay=np.ones(2)),
    "Threshold": lambda: nir.Threshold(threshold=np.ones(2)),
}


@pytest.mark.parametrize("kind", sorted(UNSUPPORTED))
def test_unsupported_node_types_are_named(kind):
    graph = nir.NIRGraph(nodes={"in": inp(2), "fc": nir.Linear(weight=np.eye(2)),
                                "bad": UNSUPPORTED[kind](), "out": out(2)},
                         edges=[("in", "fc"), ("fc", "bad"), ("bad", "out")],
                         type_check=False)
    with pytest.raises(ValueError, match=rf"NIR node 'bad' of type {kind} is not supported.*"
                                         rf"spikefab supports Input, Output, Affine"):
        from_nir(graph)


def test_nested_graph_is_refused():
    inner = chain(inp(2), nir.Linear(weight=np.eye(2)), out(2))
    graph = nir.NIRGraph(nodes={"in": inp(2), "sub": inner, "out": out(2)},
                         edges=[("in", "sub"), ("sub", "out")], type_check=False)
    with pytest.raises(ValueError, match="NIR node 'sub' is a nested NIRGraph"):
        from_nir(graph)


def test_recurrent_edge_is_refused():
    graph = nir.NIRGraph(nodes={"in": inp(2), "fc": nir.Linear(weight=np.eye(2)),
                                "lif": lif(2, tau=1e-3), "rec": nir.Linear(weight=np.eye(2)),
                                "out": out(2)},
                         edges=[("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "fc"),
                                ("lif", "out")], type_check=False)
    with pytest.raises(ValueError, match=r"NIR edge 'rec' → 'fc' is recurrent.*Linear node"):
        from_nir(graph)


def test_branching_is_refused():
    graph = nir.NIRGraph(nodes={"in": inp(2), "a": nir.Linear(weight=np.eye(2)),
                                "b": nir.Linear(weight=np.eye(2)), "la": lif(2, tau=1e-3),
                                "out": out(2)},
                         edges=[("in", "a"), ("in", "b"), ("a", "la"), ("b", "la"),
                                ("la", "out")], type_check=False)
    with pytest.raises(ValueError, match=r"NIR node 'in' of type Input feeds 2 nodes"):
        from_nir(graph)


@pytest.mark.parametrize("graph,message", [
    (lambda: chain(inp(2), lif(2, tau=1e-3), out(2)),
     r"NIR node 'n1' of type LIF follows 'n0' without an Affine, Linear or Conv2d"),
    (lambda: chain(inp(2), nir.Linear(weight=np.eye(2)), lif(2, tau=1e-3),
                   nir.Linear(weight=np.eye(2)), out(2)),
     r"NIR node 'n3' \(Linear\) comes after the last neuron layer"),
    (lambda: chain(inp(2), nir.Linear(weight=np.eye(2)), lif(2, tau=1e-3, v_reset=0.5), out(2)),
     r"v_reset = 0.5; the hardware resets to 0 or subtracts"),
    (lambda: chain(inp(3), nir.Linear(weight=np.eye(2)), lif(2, tau=1e-3), out(2)),
     r"NIR node 'n1' of type Linear takes 2 inputs but receives 3"),
    (lambda: chain(inp(2), nir.Linear(weight=np.eye(2)), lif(2, tau=1e-3, thr=-1.0), out(2)),
     r"v_threshold must be finite and > 0"),
    (lambda: chain(inp(2), nir.Linear(weight=np.eye(2)), lif(2, tau=5e-5, r=1.0), out(2)),
     r"tau = 5e-05 < dt = 0.0001 gives beta = 1 - dt/tau < 0"),
    (lambda: chain(inp(2), nir.Linear(weight=np.eye(2)),
                   nir.LIF(tau=np.array([1e-3, 2e-3]), r=np.ones(2), v_leak=np.zeros(2),
                           v_threshold=np.ones(2)), out(2)),
     r"tau differs across its neurons"),
    (lambda: chain(inp(2), nir.Linear(weight=np.eye(2)), out(2)),
     r"comes after the last neuron layer"),
    (lambda: chain(inp(2), out(2)), r"has no LIF or IF node"),
])
def test_graphs_the_hardware_cannot_run_are_refused(graph, message):
    with pytest.raises(ValueError, match=message):
        from_nir(graph())


def test_bad_arguments_and_files(tmp_path):
    graph = chain(inp(2), nir.Linear(weight=np.eye(2) * 2), lif(2, tau=1e-3), out(2))
    for kwargs, message in [({"dt": 0}, r"dt = 0 is out of range"),
                            ({"discretization": "rk4"}, r"discretization"),
                            ({"w_bits": 40}, r"w_bits = 40 is out of range"),
                            ({"scale": -1.0}, r"scale = -1.0 is not allowed"),
                            ({"reset": "hard"}, r"reset"),
                            ({"leak_mode": "exp"}, r"leak_mode")]:
        with pytest.raises(ValueError, match=message):
            from_nir(graph, **kwargs)
    with pytest.raises(ValueError, match="no such NIR file"):
        from_nir(tmp_path / "missing.nir")
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(ValueError, match="junk.nir: not a readable NIR file"):
        from_nir(junk)
    with pytest.raises(TypeError, match="must be an nir.NIRGraph or the path"):
        from_nir(42)
    with pytest.raises(ValueError, match="does not fit w_bits = 2"):
        from_nir(chain(inp(2), nir.Linear(weight=np.eye(2) * 9), lif(2, tau=1e-3), out(2)),
                 w_bits=2, scale=1.0)
    with pytest.raises(TypeError, match="must be a spikefab Network"):
        to_nir("net.npz")


def test_snntorch_model_with_flatten_and_image_inputs():
    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5, bias=False),
                                 snn.Leaky(beta=1.0, threshold=2.0, init_hidden=True,
                                           output=True))
    with torch.no_grad():
        module[1].weight.copy_(torch.randint(-3, 4, (5, 12)).float())
    network = from_snntorch(module, (1, 3, 4))
    assert network.shape == (12, 5)
    rng = np.random.default_rng(2)
    trains = (rng.random((6, 10, 1, 3, 4)) < 0.5).astype(np.int64)
    expected = snntorch_forward(module, trains.transpose(1, 0, 2, 3, 4))
    golden = simulate(network, trains.reshape(6, 10, 12))
    np.testing.assert_array_equal(golden.spikes[0].transpose(1, 0, 2), expected[0])


def test_unsupported_snntorch_modules_are_named():
    module = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2),
                                 snn.Leaky(beta=0.5, init_hidden=True, output=True))
    with pytest.raises(ValueError, match=r"snnTorch module '1' of type ReLU is not supported"):
        from_snntorch(module, 4)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3),
                                 snn.Synaptic(alpha=0.5, beta=0.5, init_hidden=True))
    with pytest.raises(ValueError, match=r"'1' of type Synaptic is not supported"):
        from_snntorch(module, 4)
    module = torch.nn.Sequential(torch.nn.Linear(4, 3),
                                 snn.Leaky(beta=0.5, init_hidden=True, reset_mechanism="none"))
    with pytest.raises(ValueError, match=r"reset_mechanism 'none' is not supported"):
        from_snntorch(module, 4)


def test_model_package_needs_numpy_only_and_names_the_extras():
    import subprocess
    import sys
    code = ("import sys\n"
            "for name in ('torch', 'snntorch', 'nir', 'nirtorch', 'h5py'):\n"
            "    sys.modules[name] = None\n"
            "import spikefab.model as m\n"
            "for call in (lambda: m.from_nir('x.nir'), lambda: m.from_snntorch(None, 3)):\n"
            "    try:\n"
            "        call()\n"
            "    except ModuleNotFoundError as e:\n"
            "        print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'spikefab[nir]'" in done.stdout
    assert "pip install 'spikefab[train]'" in done.stdout


def test_hints_are_python_arguments_in_the_api_and_flags_for_the_command():
    from spikefab.model.nir_io import NIRImportError
    graph = chain(inp(2), nir.Linear(weight=np.eye(2)), lif(2, tau=5e-5), out(2))
    with pytest.raises(NIRImportError) as error:
        from_nir(graph)
    assert "pass a smaller dt or discretization='zoh'" in str(error.value)
    assert "pass a smaller --dt or --discretization zoh" in error.value.text(flags=True)


def test_float_reference_runs_the_graph_in_float64():
    """The NIR repository's two_lif_neurons.nir, no input: the self-spiking neuron fires where
    forward Euler written out by hand does (v += dt/tau (1.2 - v), fire above 1, reset 0)."""
    from spikefab.model.nir_io import compare_with_reference, float_reference
    imported = import_nir(Path(__file__).parent / "nir_files" / "two_lif_neurons.nir")
    v, expected = 0.0, []
    for t in range(400):
        v += 0.01 * (1.2 - v)
        if v > 1:
            expected.append(t)
            v = 0.0
    spikes = float_reference(imported, np.zeros((1, 400, 1), dtype=np.int64))
    assert np.flatnonzero(spikes[0][0, :, 0]).tolist() == expected == [178, 357]
    assert not spikes[1].any()
    found = compare_with_reference(imported, np.zeros((1, 400, 1), dtype=np.int64))
    assert not found["within_bound"] and found["layers"][0]["max_shift"] > 100
    assert imported.layers[0].bias_error > 0 and not imported.exact
    exact = import_nir(chain(inp(3), nir.Linear(weight=np.array([[2.0, 1.0, -1.0]])),
                             nir.IF(r=np.ones(1), v_threshold=np.full(1, 2.0),
                                    v_reset=np.zeros(1)), out(1)))
    trains = (np.random.default_rng(0).random((4, 30, 3)) < 0.5).astype(np.int64)
    found = compare_with_reference(exact, trains)
    assert found["agreement"] == 1.0 and found["within_bound"]
    assert found["layers"][0]["integer_spikes"] > 0


def test_the_input_code_and_t_travel_through_nir(tmp_path):
    """``to_nir`` records the network's input code and T in the graph's metadata
    (``spikefab_encoder``, ``spikefab_steps``) and ``import_nir`` reads them back (so
    ``spikefab nir import`` of ``spikefab train``'s model.nir writes a network file that knows
    them); a graph without them imports as before, one with a bad value names the field."""
    from spikefab.model import reference_network
    network = reference_network((8, 6, 3), w_bits=4)
    to_nir(network.with_input("latency", 8), tmp_path / "coded.nir")
    graph = nir.read(str(tmp_path / "coded.nir"))
    assert (graph.metadata["spikefab_encoder"], int(graph.metadata["spikefab_steps"])) == (
        "latency", 8)
    back = import_nir(tmp_path / "coded.nir").network
    assert (back.encoder, back.steps) == ("latency", 8)
    to_nir(network, tmp_path / "plain.nir")
    assert "spikefab_steps" not in nir.read(str(tmp_path / "plain.nir")).metadata
    back = import_nir(tmp_path / "plain.nir").network
    assert (back.encoder, back.steps) == (None, None)
    graph.metadata["spikefab_encoder"] = "poisson"
    with pytest.raises(ValueError, match="the graph's metadata: spikefab_encoder = 'poisson' "
                                         "is not allowed; choose one of spikes, rate, latency"):
        import_nir(graph)


# --- direct input layers (docs/design.md §13) ---------------------------------------------------

def test_a_direct_network_round_trips_through_nir(tmp_path):
    from spikefab.model import encode_direct
    rng = np.random.default_rng(5)
    network = Network([Layer(rng.integers(-8, 8, (6, 9)), theta=7, w_bits=5, v_bits=12,
                             bias=rng.integers(-2, 3, 6), leak="shift", k=2, x_bits=6,
                             x_shift=3),
                       Layer(rng.integers(-3, 4, (4, 6)), theta=2, w_bits=3)], steps=5)
    to_nir(network, tmp_path / "direct.nir")
    graph = nir.read(str(tmp_path / "direct.nir"))
    assert graph.metadata["spikefab_encoder"] == "direct"
    assert (int(graph.nodes["lif0"].metadata["spikefab_x_bits"]),
            int(graph.nodes["lif0"].metadata["spikefab_x_shift"])) == (6, 3)
    assert "spikefab_x_bits" not in graph.nodes["lif1"].metadata
    back = import_nir(tmp_path / "direct.nir")
    assert back.exact
    assert_same_network(network, back.network)
    assert (back.network[0].x_bits, back.network[0].x_shift, back.network[1].x_bits) == (
        6, 3, None)
    assert (back.network.encoder, back.network.steps) == ("direct", 5)
    values = encode_direct(rng.integers(0, 64, (4, 9)), 5, x_bits=6)
    assert np.array_equal(simulate(back.network, values).counts,
                          simulate(network, values).counts)
    # the input code can be overridden: the same graph as a spiking network
    spiking = import_nir(tmp_path / "direct.nir", encoder="rate").network
    assert (spiking.encoder, spiking[0].x_bits) == ("rate", None)


@pytest.mark.parametrize("reset, delay", [("subtract", True), ("zero", False)])
def test_a_static_input_snntorch_model_imports_as_direct(reset, delay):
    """snnTorch's static input: the image ``x / 2**x_bits`` into the first Linear every step.
    Its graph is a spiking one's; ``encoder="direct"`` makes the first layer direct, and the
    golden model on ``encode_direct(x)`` equals snnTorch's own forward pass on ``x / 16``
    every step (weights multiples of 16: the shift's floor is exact)."""
    from spikefab.model import encode_direct
    rng = np.random.default_rng(7)
    module = integer_snntorch(rng, [9, 7, 4], beta=1.0, reset=reset, delay=delay, scale=16)
    graph = snntorch_to_nir(module, 9)
    plain = import_nir(graph).network
    assert plain[0].x_bits is None and plain.encoder is None     # the graph cannot tell
    network = import_nir(graph, encoder="direct", x_bits=4).network
    assert (network.encoder, network[0].x_bits, network[0].x_shift) == ("direct", 4, 4)
    np.testing.assert_array_equal(network[0].weights, plain[0].weights)
    x = rng.integers(0, 16, (16, 9))
    steps = 10
    golden = simulate(network, encode_direct(x, steps, x_bits=4))
    static = np.repeat((x / 16)[None], steps, axis=0)                 # [T, B, N0]
    expected = snntorch_forward(module, static)
    for got, want in zip(golden.spikes, expected):
        np.testing.assert_array_equal(got.transpose(1, 0, 2), want)
    assert all(want.any() for want in expected)                       # spikes happened


def test_direct_import_options_are_checked():
    rng = np.random.default_rng(1)
    graph = snntorch_to_nir(integer_snntorch(rng, [5, 3], beta=1.0, reset="zero",
                                             delay=False), 5)
    with pytest.raises(ValueError, match="x_bits is only used with encoder = 'direct'"):
        import_nir(graph, x_bits=8)
    with pytest.raises(ValueError, match=r"x_bits = 17 is out of range; allowed range is "
                                         r"\[1, 16\]"):
        import_nir(graph, encoder="direct", x_bits=17)
    with pytest.raises(ValueError, match="encoder = 'poisson' is not allowed"):
        import_nir(graph, encoder="poisson")
    assert import_nir(graph, encoder="direct").network[0].x_bits == 8       # the default
