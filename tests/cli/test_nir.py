"""``spikefab nir import|export`` as a user runs it: an snnTorch model written to a .nir
file comes in, runs in the Verilator co-simulation equal to the golden model and to
snnTorch's own forward pass, and goes back out."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the train extra is part of make test")
snn = pytest.importorskip("snntorch", reason="the train extra is part of make test")

from spikefab.model import Network, from_nir, simulate, snntorch_to_nir  # noqa: E402
from tests.model.test_nir_io import assert_same_network, snntorch_forward  # noqa: E402

SPIKEFAB = str(Path(sys.executable).parent / "spikefab")


def integer_model(rng):
    module = torch.nn.Sequential(
        torch.nn.Linear(20, 12, bias=False),
        snn.Leaky(beta=1.0, threshold=3.0, init_hidden=True),
        torch.nn.Linear(12, 4, bias=False),
        snn.Leaky(beta=0.0, threshold=2.0, init_hidden=True, reset_mechanism="zero",
                  output=True))
    with torch.no_grad():
        for layer in (module[0], module[2]):
            layer.weight.copy_(torch.tensor(rng.integers(-3, 5, layer.weight.shape),
                                            dtype=torch.float32))
    return module


@pytest.mark.slow
def test_snntorch_model_through_the_command_runs_bit_exact(tmp_path):
    rng = np.random.default_rng(0)
    module = integer_model(rng)
    snntorch_to_nir(module, 20, tmp_path / "model.nir")
    trains = (rng.random((6, 16, 20)) < 0.3).astype(np.int64)
    np.save(tmp_path / "trains.npy", trains)
    done = subprocess.run([SPIKEFAB, "nir", "import", "model.nir", "--spikes", "trains.npy",
                           "--cosim", "6", "--lanes", "4"], cwd=tmp_path, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    assert "hardware = golden model = cycle model on all 6 samples" in done.stdout
    assert "exact: the integer network is the NIR graph's dynamics" in done.stdout
    network = Network.load(tmp_path / "build/nir/network.npz")
    # the golden model of what the command wrote = snnTorch's own forward pass
    expected = snntorch_forward(module, trains.transpose(1, 0, 2))
    for got, want in zip(simulate(network, trains).spikes, expected):
        np.testing.assert_array_equal(got.transpose(1, 0, 2), want)

    done = subprocess.run([SPIKEFAB, "nir", "export", "build/nir/network.npz", "--out",
                           "back.nir"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert_same_network(network, from_nir(tmp_path / "back.nir"))


def test_unsupported_graph_is_one_error_line(tmp_path):
    nir = pytest.importorskip("nir")
    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type={"input": np.array([4])}),
               "fc": nir.Linear(weight=np.ones((2, 4))),
               "syn": nir.CubaLIF(tau_syn=np.ones(2), tau_mem=np.ones(2), r=np.ones(2),
                                  v_leak=np.zeros(2), v_threshold=np.ones(2)),
               "out": nir.Output(output_type={"output": np.array([2])})},
        edges=[("in", "fc"), ("fc", "syn"), ("syn", "out")])
    nir.write(tmp_path / "cuba.nir", graph)
    done = subprocess.run([SPIKEFAB, "nir", "import", "cuba.nir"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and last.endswith(")") and \
        "cuba.nir: NIR node 'syn' of type CubaLIF is not supported" in last
    assert "Traceback" not in done.stderr
    done = subprocess.run([SPIKEFAB, "nir", "import", "cuba.nir", "--scale", "-2"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 2 and "argument --scale" in done.stderr


# --- issue 21: NIR files from other tools, read honestly, as a user runs the command -------

FILES = Path(__file__).resolve().parent.parent / "model" / "nir_files"


def spikefab(cwd, *args):
    return subprocess.run([SPIKEFAB, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


def fixture(tmp_path, name):
    (tmp_path / name).write_bytes((FILES / name).read_bytes())
    return name


def test_next_step_is_a_spikefab_synth_command_for_the_imported_design(tmp_path, monkeypatch):
    """The printed next step works outside the checkout: ``spikefab synth`` with the flags of
    the imported design, which the real ``spikefab`` parser accepts from the same folder."""
    nir = pytest.importorskip("nir")
    graph = nir.NIRGraph(nodes={"in": nir.Input(input_type={"input": np.array([3])}),
                                "fc": nir.Linear(weight=np.eye(3) * 2),
                                "if": nir.IF(r=np.ones(3), v_threshold=np.full(3, 3.0),
                                             v_reset=np.zeros(3)),
                                "out": nir.Output(output_type={"output": np.array([3])})},
                         edges=[("in", "fc"), ("fc", "if"), ("if", "out")])
    nir.write(tmp_path / "model.nir", graph)
    done = spikefab(tmp_path, "nir", "import", "model.nir", "--cosim", "0", "--lanes", "2",
                    "--format", "bitmap", "--steps", "12", "--out", "imported")
    assert done.returncode == 0, done.stderr
    assert "make " not in done.stdout
    command = done.stdout.split("a bitstream of this design: ")[1].splitlines()[0].split()
    assert command[:2] == ["spikefab", "synth"]
    from spikefab.cli import parser
    monkeypatch.chdir(tmp_path)
    args = parser().parse_args(command[1:])
    assert args.network == tmp_path / "imported" / "network.npz" and args.network.exists()
    assert (args.lanes, args.format, args.steps, args.queue_depth) == ([2], "bitmap", 12, 16)
    assert args.board == "ulx3s"


def test_a_file_that_is_not_nir_is_one_clean_line(tmp_path):
    """Not HDF5, or HDF5 without a NIR graph: one line naming the file as typed and what is
    wrong, without h5py's internals."""
    (tmp_path / "junk.nir").write_bytes(b"not hdf5 at all")
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "data.nir", "w") as file:
        file["x"] = np.arange(3)
    for name, reason in (("junk.nir", "it is not HDF5"), ("data.nir", "without a NIR graph")):
        done = spikefab(tmp_path, "nir", "import", name, "--cosim", "0")
        assert done.returncode == 1 and done.stdout == ""
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"error: {name}: not a readable NIR file") and reason in lines[0]
        assert lines[0].count(name) == 1 and str(tmp_path) not in lines[0]
        assert "signature" not in lines[0] and "OSError" not in lines[0]


@pytest.mark.parametrize("direction", ["import", "export"])
def test_every_option_shows_its_help_and_default(tmp_path, direction):
    done = spikefab(tmp_path, "nir", direction, "--help")
    assert done.returncode == 0, done.stderr
    options = done.stdout.split("options:")[1]
    blocks, current = [], None
    for line in options.splitlines():
        if line.startswith("  -"):
            current = [line]
            blocks.append(current)
        elif current is not None:
            current.append(line)
    blocks = [" ".join(" ".join(block).split()) for block in blocks
              if not block[0].strip().startswith("-h")]
    assert len(blocks) == (19 if direction == "import" else 2)
    for block in blocks:
        assert "default" in block, block


def test_hints_are_spelled_as_the_command_s_flags(tmp_path):
    nir = pytest.importorskip("nir")
    for name, lif, flags in (
            ("fast.nir", dict(tau=np.full(2, 5e-5), v_reset=np.zeros(2)),
             ("--dt", "--discretization zoh")),
            ("reset.nir", dict(tau=np.full(2, 1e-3), v_reset=np.full(2, 0.5)),
             ("--reset subtract",))):
        graph = nir.NIRGraph(
            nodes={"in": nir.Input(input_type={"input": np.array([2])}),
                   "fc": nir.Linear(weight=np.eye(2)),
                   "lif": nir.LIF(r=np.ones(2), v_leak=np.zeros(2), v_threshold=np.ones(2),
                                  **lif),
                   "out": nir.Output(output_type={"output": np.array([2])})},
            edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")])
        nir.write(tmp_path / name, graph)
        done = spikefab(tmp_path, "nir", "import", name, "--cosim", "0")
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
        for flag in flags:
            assert flag in done.stderr, done.stderr
        assert "='" not in done.stderr and "pass dt" not in done.stderr


def batch_graph(nir, weight, *, output_shape):
    """A graph as Norse's and Rockpool's exporters write it: the Input keeps a batch
    dimension ([1, N0]); Rockpool's Output keeps batch and time ([1, 1, N])."""
    n, n0 = weight.shape
    return nir.NIRGraph(
        nodes={"input": nir.Input(input_type={"input": np.array([1, n0])}),
               "0": nir.Affine(weight=weight, bias=np.zeros(n)),
               "1": nir.IF(r=np.ones(n), v_threshold=np.full(n, 2.0), v_reset=np.zeros(n)),
               "output": nir.Output(output_type={"output": np.array(output_shape)})},
        edges=[("input", "0"), ("0", "1"), ("1", "output")], type_check=False)


@pytest.mark.parametrize("writer, output_shape", [("norse", [1, 2]), ("rockpool", [1, 1, 2])])
def test_files_with_a_batch_dimension_are_read_and_the_repair_reported(tmp_path, writer,
                                                                       output_shape):
    nir = pytest.importorskip("nir")
    weight = np.array([[1.0, -2.0, 3.0], [2.0, 1.0, 0.0]])
    nir.write(tmp_path / f"{writer}.nir", batch_graph(nir, weight, output_shape=output_shape))
    with pytest.raises(Exception):
        nir.read(tmp_path / f"{writer}.nir")          # what NIR's own reader does
    done = spikefab(tmp_path, "nir", "import", f"{writer}.nir", "--cosim", "0")
    assert done.returncode == 0, done.stderr
    assert "read with type_check=False" in done.stdout
    assert "Input 'input' declares shape (1, 3)" in done.stdout
    assert "exact: the integer network is the NIR graph's dynamics" in done.stdout
    network = Network.load(tmp_path / "build/nir/network.npz")
    np.testing.assert_array_equal(network[0].weights, weight)
    assert network[0].theta == 2 and network[0].leak == "none"


def test_the_nir_papers_rockpool_lif_file_is_read(tmp_path):
    """paper/01_lif/lif_rockpool.nir of the NIR repository (Rockpool's export of the paper's
    LIF neuron, Output shape [1, 1, 1]); NIR's own reader refuses it."""
    name = fixture(tmp_path, "lif_rockpool.nir")
    done = spikefab(tmp_path, "nir", "import", name, "--cosim", "0")
    assert done.returncode == 0, done.stderr
    assert "nir.read refused the file" in done.stdout
    assert "Output 'output' declares shape (1, 1, 1)" in done.stdout
    assert "| 1_LIFNeuronTorch | LIF | 1 | 0.96 |" in done.stdout   # beta = 1 - 1e-4/0.0025


def test_a_file_rockpool_writes_is_read(tmp_path):
    """Rockpool's own exporter (only where rockpool is installed; the reproduced format above
    always runs)."""
    pytest.importorskip("rockpool")
    nir = pytest.importorskip("nir")
    rockpool = pytest.importorskip("rockpool.nn.modules")
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules.torch.nir import to_nir as rockpool_to_nir
    import warnings
    net = Sequential(rockpool.LinearTorch((4, 3)), rockpool.LIFNeuronTorch(3, dt=1e-3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                 # nirtorch's deprecation of its tracer
        nir.write(tmp_path / "rockpool.nir", rockpool_to_nir(net))
    done = spikefab(tmp_path, "nir", "import", "rockpool.nir", "--cosim", "0")
    assert done.returncode == 0, done.stderr
    assert "read with type_check=False" in done.stdout
    assert Network.load(tmp_path / "build/nir/network.npz").shape == (4, 3)


def euler_first_spikes(steps, *, tau=0.01, v_leak=1.2, dt=1e-4, threshold=1.0):
    """The self-spiking neuron of two_lif_neurons.nir in float64 forward Euler, written out
    here: v <- v + dt/tau (v_leak - v), spike when v > threshold, reset to 0."""
    v, spikes = 0.0, []
    for t in range(steps):
        v = v + dt / tau * (v_leak - v)
        if v > threshold:
            spikes.append(t)
            v = 0.0
    return spikes


@pytest.mark.slow
def test_leak_quantization_is_measured_and_the_precision_flags_fix_it(tmp_path):
    """two_lif_neurons.nir of the NIR repository: the default 8-bit mul leak moves the first
    spike from step 178 to 342; the command says so and warns, and --mul-bits/--w-bits bring
    it within the bound."""
    name = fixture(tmp_path, "two_lif_neurons.nir")
    expected = euler_first_spikes(400)
    assert expected == [178, 357]
    done = spikefab(tmp_path, "nir", "import", name, "--cosim", "1", "--steps", "400",
                    "--activity", "0")
    assert done.returncode == 0, done.stderr
    assert "max bias error" in done.stdout and "bias 3.15e-05" in done.stdout
    golden = simulate(Network.load(tmp_path / "build/nir/network.npz"),
                      np.zeros((1, 400, 1), dtype=np.int64))
    first = int(np.argmax(golden.spikes[0][0, :, 0]))
    assert first > 300 and f"first spike moved up to {first - expected[0]} steps" in done.stdout
    assert "warning: the quantized network behaves differently from the NIR graph" in \
        done.stdout and "raise --mul-bits (now 8)" in done.stdout

    done = spikefab(tmp_path, "nir", "import", name, "--cosim", "1", "--steps", "400",
                    "--activity", "0", "--mul-bits", "16", "--w-bits", "16", "--out", "fine")
    assert done.returncode == 0, done.stderr
    assert "warning: the quantized" not in done.stdout and "spike agreement 100.0%" in \
        done.stdout
    golden = simulate(Network.load(tmp_path / "fine/network.npz"),
                      np.zeros((1, 400, 1), dtype=np.int64))
    assert np.flatnonzero(golden.spikes[0][0, :, 0]).tolist() == expected


@pytest.mark.slow
def test_a_cosimulation_without_spikes_says_it_proved_nothing(tmp_path):
    rng = np.random.default_rng(3)
    snntorch_to_nir(integer_model(rng), 20, tmp_path / "model.nir")
    done = spikefab(tmp_path, "nir", "import", "model.nir", "--cosim", "2", "--activity", "0")
    assert done.returncode == 0, done.stderr
    assert "every spike (0 in all)" in done.stdout
    assert "warning: no neuron spiked in any of the 2 samples, so the comparison proved " \
        "nothing" in done.stdout and "raise --activity (now 0)" in done.stdout


def test_a_file_snntorch_writes_names_the_flags_that_restore_its_reset(tmp_path):
    """snnTorch's own exporter writes v_reset = 0 for its default subtract reset: the report
    says so and names --reset subtract --timing delayed, which give snnTorch's own spikes."""
    from snntorch.export_nir import export_to_nir
    nir = pytest.importorskip("nir")
    rng = np.random.default_rng(5)
    module = torch.nn.Sequential(
        torch.nn.Linear(10, 6, bias=False),
        snn.Leaky(beta=torch.ones(6), threshold=torch.full((6,), 3.0), init_hidden=True,
                  output=True))
    with torch.no_grad():
        module[0].weight.copy_(torch.tensor(rng.integers(-2, 5, (6, 10)), dtype=torch.float32))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nir.write(tmp_path / "snn.nir", export_to_nir(module, torch.zeros(10)))
    done = spikefab(tmp_path, "nir", "import", "snn.nir", "--cosim", "0")
    assert done.returncode == 0, done.stderr
    assert "written by snnTorch's exporter" in done.stdout
    assert "pass --reset subtract --timing delayed" in done.stdout
    trains = (rng.random((8, 20, 10)) < 0.4).astype(np.int64)
    want = snntorch_forward(module, trains.transpose(1, 0, 2))[-1].transpose(1, 0, 2)
    lost = simulate(Network.load(tmp_path / "build/nir/network.npz"), trains).spikes[-1]
    assert not np.array_equal(lost, want)              # the reset read from the file is wrong
    done = spikefab(tmp_path, "nir", "import", "snn.nir", "--cosim", "0", "--reset",
                    "subtract", "--timing", "delayed", "--out", "restored")
    assert done.returncode == 0, done.stderr
    assert "written by snnTorch" not in done.stdout
    restored = simulate(Network.load(tmp_path / "restored/network.npz"), trains).spikes[-1]
    np.testing.assert_array_equal(restored, want)


# --- issue 22: a convolutional NIR graph, imported and co-simulated as a user runs it ------

@pytest.mark.slow
def test_a_conv_graph_imports_and_cosimulates_bit_exact(tmp_path):
    """Input [C, H, W] → Conv2d → LIF → SumPool2d → Conv2d → LIF → Flatten → Affine → LIF:
    the command reads it into ConvLayers, says so, and the accelerator (the unrolled
    baseline) equals the golden and cycle models under Verilator."""
    nir = pytest.importorskip("nir")
    from tests.model.test_nir_conv import conv_graph
    graph, _ = conv_graph(0)
    nir.write(tmp_path / "graph.nir", graph)
    done = spikefab(tmp_path, "nir", "import", "graph.nir", "--cosim", "2", "--steps", "8",
                    "--activity", "0.5")
    assert done.returncode == 0, done.stderr
    assert "runs as a ConvLayer: Conv2d 'conv1'" in done.stdout
    assert "hardware = golden model = cycle model on all 2 samples" in done.stdout
    assert "warning: no" not in done.stdout
    network = Network.load(tmp_path / "build" / "nir" / "network.npz")
    assert [type(layer).__name__ for layer in network] == ["ConvLayer", "ConvLayer", "Layer"]


def test_a_static_input_model_imports_as_direct_with_the_flag(tmp_path):
    """``--encoder direct --x-bits 8``: the graph of an snnTorch model fed its image every step
    becomes a network with a direct first layer (the graph cannot say so); its co-simulation
    is not built yet, so the default --cosim is refused in one line naming --cosim 0."""
    rng = np.random.default_rng(2)
    snntorch_to_nir(integer_model(rng), 20, tmp_path / "static.nir")
    done = spikefab(tmp_path, "nir", "import", "static.nir", "--encoder", "direct")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == ("error: static.nir: the first layer is a direct input layer "
                                   "(x_bits = 8); its co-simulation and float reference are "
                                   "not built yet: pass --cosim 0")
    done = spikefab(tmp_path, "nir", "import", "static.nir", "--encoder", "direct",
                    "--x-bits", "6", "--cosim", "0")
    assert done.returncode == 0, done.stderr
    network = Network.load(tmp_path / "build/nir/network.npz")
    assert (network.encoder, network[0].x_bits, network[0].x_shift) == ("direct", 6, 6)
    assert_same_network(network, from_nir(tmp_path / "static.nir"))   # weights etc. as before
    done = spikefab(tmp_path, "nir", "import", "static.nir", "--x-bits", "6", "--cosim", "0")
    assert done.returncode == 1
    assert "x_bits is only used with encoder = 'direct'" in done.stderr
