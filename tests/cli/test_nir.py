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
