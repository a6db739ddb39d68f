"""The co-simulation harness on the generated Verilog (cocotb + Verilator, Icarus where
installed): the same end-to-end checks as in the Amaranth simulator; the studies' chunked
co-simulation (:func:`spikefab.sim.cosim.cosimulate`)."""

import shutil

import numpy as np
import pytest

from spikefab.model import HardwareConfig, reference_network
from spikefab.model import simulate
from spikefab.sim.cosim import cosimulate, event_stream, mismatches, run_accelerator

from ..hw.accelerator_cases import check_against_golden, random_case


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 22, 23])
def test_random_networks_on_verilator(tmp_path, seed):
    network, config, trains = random_case(seed, max_neurons=40)
    run = run_accelerator(network, config, trains, backend="verilator", build_dir=tmp_path)
    check_against_golden(network, config, trains, run)
    assert run.sim_cycles >= run.total


@pytest.mark.slow
def test_a_conv_network_runs_bit_exact_on_the_unrolled_baseline(tmp_path):
    """A convolutional network (conv with padding and channel bias, sum pool, conv, readout;
    docs/design.md §12) runs on today's fully connected accelerator through its unrolled
    weights: every spike, count, class, result cycle and counter equals the golden and cycle
    models under Verilator."""
    from spikefab.model import Layer, Network
    from spikefab.model.conv import Conv2dGeometry, ConvLayer, sum_pool_geometry
    from spikefab.sim.cosim import mismatches
    rng = np.random.default_rng(1)
    neuron = dict(w_bits=4, v_bits=10, leak="shift", k=2)
    network = Network([
        ConvLayer(kernel=rng.integers(-3, 8, (2, 1, 3, 3)), theta=6, channel_bias=[0, 1],
                  geometry=Conv2dGeometry(1, 6, 6, 2, 3, padding=1), **neuron),
        ConvLayer(kernel=rng.integers(-4, 8, (3, 2, 2, 2)), theta=7,
                  geometry=Conv2dGeometry(2, 3, 3, 3, 2), pool=sum_pool_geometry(2, 6, 6, 2),
                  **neuron),
        Layer(rng.integers(-7, 8, (4, 12)), theta=4, **neuron)])
    config = HardwareConfig.uniform(network, lanes=4, format="csc")
    trains = rng.random((4, 8, 36)) < 0.35
    run = run_accelerator(network, config, trains, backend="verilator", build_dir=tmp_path)
    problems, golden = mismatches(network, config, trains, run)
    assert problems == []
    assert all(s.sum() > 0 for s in golden.spikes)         # every layer spiked


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11])
def test_random_conv_networks_on_verilator(tmp_path, seed):
    """Random convolutional networks (sim.random_networks.random_conv_network: kernels,
    strides, paddings, input pools, channel biases, every neuron mode) on random hardware
    configurations, as the unrolled baseline: RTL = golden model = cycle model."""
    from spikefab.sim.cosim import mismatches
    from spikefab.sim.random_networks import random_config, random_conv_network
    rng = np.random.default_rng(seed)
    network = random_conv_network(rng)
    config = random_config(rng, network, formats=[None] * len(network))    # all unrolled
    trains = rng.random((3, 10, network.n_inputs)) < 0.4
    run = run_accelerator(network, config, trains, backend="verilator", build_dir=tmp_path)
    problems, golden = mismatches(network, config, trains, run)
    assert problems == []
    assert all(s.sum() > 0 for s in golden.spikes)         # every layer spiked


@pytest.mark.slow
@pytest.mark.parametrize("seed", [21, 22])
def test_random_conv_networks_on_the_convolution_core_on_verilator(tmp_path, seed):
    """The same kind of random convolutional networks with every conv layer on the
    convolution core (hw/conv_core.py: each kernel stored once) in the generated Verilog:
    RTL = golden model = cycle model, every spike, count, class, cycle and counter."""
    from spikefab.model.conv import ConvLayer
    from spikefab.model.kernel_image import KERNEL_FORMAT
    from spikefab.sim.cosim import mismatches
    from spikefab.sim.random_networks import random_config, random_conv_network
    rng = np.random.default_rng(seed)
    network = random_conv_network(rng, conv_layers=(2, 2))
    formats = [KERNEL_FORMAT if isinstance(layer, ConvLayer) else None for layer in network]
    config = random_config(rng, network, formats=formats)
    trains = rng.random((3, 10, network.n_inputs)) < 0.4
    run = run_accelerator(network, config, trains, backend="verilator", build_dir=tmp_path)
    problems, golden = mismatches(network, config, trains, run)
    assert problems == []
    assert all(s.sum() > 0 for s in golden.spikes)


@pytest.mark.slow
def test_a_few_hundred_neurons_on_verilator_with_relative_paths(tmp_path, monkeypatch):
    """The API as a user calls it from their project folder: a relative build folder and a
    relative waveform path (the cocotb test itself runs inside the build folder)."""
    monkeypatch.chdir(tmp_path)
    network = reference_network((100, 200, 10), w_bits=4, density=0.3)
    config = HardwareConfig.uniform(network, lanes=[8, 2], format="csc", queue_depth=8)
    trains = np.random.default_rng(4).random((2, 4, 100)) < 0.2
    run = run_accelerator(network, config, trains, backend="verilator",
                          build_dir="build/cosim", waves="run.fst")
    check_against_golden(network, config, trains, run)
    assert (tmp_path / "run.fst").stat().st_size > 0
    assert (tmp_path / "build" / "cosim" / "out.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("iverilog") is None,
                    reason="Icarus Verilog is not installed (Debian: apt-get install iverilog)")
def test_random_network_on_icarus(tmp_path):
    network, config, trains = random_case(24, max_neurons=20)
    run = run_accelerator(network, config, trains, backend="icarus", build_dir=tmp_path)
    check_against_golden(network, config, trains, run)


def test_amaranth_waveform(tmp_path):
    network, config, trains = random_case(25, max_neurons=8, max_layers=1)
    run_accelerator(network, config, trains, waves=tmp_path / "run.vcd")
    assert (tmp_path / "run.vcd").read_text().startswith("$")


def test_event_stream_by_hand():
    trains = np.array([[[0, 1, 1], [0, 0, 0]], [[1, 0, 0], [0, 0, 1]]], dtype=bool)
    assert event_stream(trains) == [(0, 1), (0, 2), (1, 0), (1, 0), (2, 0),
                                    (0, 0), (1, 0), (0, 2), (1, 0), (2, 0)]


def test_bad_arguments():
    network, config, trains = random_case(26, max_neurons=6, max_layers=1)
    with pytest.raises(ValueError, match="backend = 'modelsim' is not allowed"):
        run_accelerator(network, config, trains, backend="modelsim")
    wrong = network.n_inputs + 1
    with pytest.raises(ValueError, match=f"spikes have {wrong} inputs per step"):
        run_accelerator(network, config, np.zeros((2, wrong)))


def test_cosimulate_in_chunks_agrees_with_the_golden_model():
    """Five samples, two per run, in the Amaranth simulator: the classes of every chunk in
    order, one result cycle per chunk, the simulated cycles summed."""
    network, config, trains = random_case(27, max_neurons=8, max_layers=2, batch=5)
    golden = simulate(network, trains)
    found = cosimulate(network, config, trains, chunk=2, backend="amaranth", golden=golden,
                       progress=False)
    assert found.agree and found.mismatches == []
    assert found.classes.tolist() == golden.predicted.tolist()
    assert found.counts.tolist() == golden.counts.tolist()
    assert len(found.chunk_cycles) == len(found.chunk_speeds) == 3
    assert found.sim_cycles >= sum(found.chunk_cycles)
    assert found.cycles_per_second == found.sim_cycles / found.wall_seconds


def test_cosimulate_reports_each_chunk_that_differs_numbered_in_the_whole_batch():
    network, config, trains = random_case(28, max_neurons=8, max_layers=1, batch=4)

    def wrong_run(at, calls):
        """``run_accelerator`` on the Amaranth simulator whose ``at``-th run goes wrong."""
        def run(network, config, part, **options):
            calls.append(options)
            hardware = run_accelerator(network, config, part,
                                       **{**options, "backend": "amaranth"})
            if len(calls) == at:
                hardware.classes = hardware.classes + 1
                hardware.spikes[0][-1] = ~hardware.spikes[0][-1]
            return hardware
        return run

    calls = []
    found = cosimulate(network, config, trains, chunk=2, progress=False,
                       run=wrong_run(2, calls))
    assert calls[0]["backend"] == "verilator"                   # the default
    assert not found.agree and len(found.mismatches) == 1
    line = found.mismatches[0]
    assert line.startswith("samples 2..3: layer 1 spikes differ in samples [3]"), line
    assert "classes differ" in line
    assert len(found.classes) == 4                              # it went on to the end
    stopped = cosimulate(network, config, trains, chunk=1, progress=False, stop=True,
                         run=wrong_run(2, []))
    assert stopped.mismatches == [line.replace("samples 2..3", "samples 1..1")
                                  .replace("samples [3]", "samples [1]")]
    assert len(stopped.classes) == 1 and len(stopped.chunk_cycles) == 1


EXIT_COUNTERS = ("events", "words", "synaptic_updates", "busy", "stall", "dropped")


def exit_case():
    """A random three-layer network (bitmap, dense, bitmap; queues of 13, 2 and 2) and six
    back-to-back samples of 10 steps of which some exit early under both rules and some run
    their 10 steps."""
    network, config, _ = random_case(50, max_neurons=30)
    trains = np.random.default_rng(50).random((6, 10, network.n_inputs)) < 0.5
    return network, config, trains


@pytest.mark.slow
def test_early_exit_on_verilator_equals_the_golden_and_cycle_models(tmp_path):
    """The generated Verilog built with ``exit=("margin", 2)`` under Verilator: classes,
    counts and the steps each sample ran equal the golden model with the same rule; every
    result cycle and every counter (``dropped`` included) the exit cycle model's; each
    layer's spikes the full run's in the steps it computed before the exit was visible."""
    from spikefab.model import cycle_model
    rule = ("margin", 2)
    network, config, trains = exit_case()
    golden = simulate(network, trains, exit=rule)
    assert (golden.ran < 10).sum() >= 3 and (golden.ran == 10).any()   # exits, and not
    run = run_accelerator(network, config, trains, backend="verilator", build_dir=tmp_path,
                          exit=rule)
    assert not run.error
    assert run.classes.tolist() == golden.predicted.tolist()
    assert run.counts.tolist() == golden.counts.tolist()
    assert run.steps.tolist() == golden.ran.tolist()
    report = cycle_model(network, golden, config)
    assert run.finish.tolist() == report.finish.tolist()
    for index, (got, want) in enumerate(zip(run.counters, report.layers)):
        assert got == {name: getattr(want, name) for name in EXIT_COUNTERS}, index
    assert run.counters[0]["dropped"] > 0                       # input events discarded
    full = simulate(network, trains)
    for got, want, emitted in zip(run.spikes, full.spikes, run.emitted):
        assert ((emitted >= golden.ran) & (emitted <= 10)).all()
        for b, k in enumerate(emitted):
            assert np.array_equal(got[b, :k], want[b, :k]) and not got[b, k:].any()
    # The harness's own comparison agrees, and it sees a run checked against another rule.
    assert mismatches(network, config, trains, run, exit=rule)[0] == []
    assert any("steps run differ" in p or "classes differ" in p
               for p in mismatches(network, config, trains, run, exit="exact")[0])


def test_cosimulate_with_early_exit_in_chunks():
    """``cosimulate(..., exit=)`` builds the accelerator with the rule (Amaranth simulator
    here), checks each chunk against the models with it and returns the steps run; a
    hardware run whose steps are off is reported."""
    network, config, trains = exit_case()
    golden = simulate(network, trains, exit="exact")
    found = cosimulate(network, config, trains, chunk=4, backend="amaranth", golden=golden,
                       progress=False, exit="exact")
    assert found.agree, found.mismatches
    assert found.steps.tolist() == golden.ran.tolist()
    assert found.classes.tolist() == golden.predicted.tolist()

    def off_by_one(network, config, part, **options):
        hardware = run_accelerator(network, config, part, **{**options, "backend": "amaranth"})
        hardware.steps = hardware.steps + 1
        return hardware

    wrong = cosimulate(network, config, trains, chunk=6, progress=False, exit="exact",
                       run=off_by_one)
    assert len(wrong.mismatches) == 1 and "steps run differ in samples" in wrong.mismatches[0]


@pytest.mark.slow
def test_a_build_folder_make_cannot_name_is_built_elsewhere_and_copied_in(tmp_path,
                                                                         monkeypatch):
    """Issue 23: ``spikefab cosim --out build/a:b`` stopped in Verilator's make (``:`` ends a
    make target). The build runs in a temporary folder (one for all chunks), its files land
    in the folder asked for, the temporary folder is removed, and the hardware equals the
    golden and cycle models."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    network, config, trains = random_case(27, max_neurons=8, max_layers=2, batch=3)
    folder = tmp_path / "a:b #1"
    found = cosimulate(network, config, trains, chunk=2, backend="verilator",
                       build_dir=folder, progress=False)
    assert found.agree, found.mismatches
    assert found.classes.tolist() == simulate(network, trains).predicted.tolist()
    assert (folder / "accelerator.v").exists() and (folder / "build.log").exists()
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_temporary_folder_make_cannot_name_is_refused_by_name(tmp_path, monkeypatch):
    import tempfile

    from spikefab.sim.cosim import verilator_build_dir
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "t:mp"))
    (tmp_path / "t:mp").mkdir()
    with verilator_build_dir(tmp_path / "plain") as folder:      # a safe path is used as is
        assert folder == (tmp_path / "plain").resolve() and folder.is_dir()
    with pytest.raises(ValueError, match=r"make does not take ':'.*choose an output folder"):
        with verilator_build_dir(tmp_path / "a:b"):
            pass
    assert list((tmp_path / "t:mp").iterdir()) == []


@pytest.mark.parametrize("seed", [4])
def test_a_direct_network_on_verilator(tmp_path, seed):
    """The generated Verilog of a direct first layer (docs/design.md §13): the events carry
    their value past the address bits, the PE lanes multiply, the STEP sweeps hold."""
    from spikefab.sim.random_networks import random_direct_case

    network, config, values = random_direct_case(np.random.default_rng(seed), batch=3,
                                                  x_bits=11, spread=True)
    run = run_accelerator(network, config, values, backend="verilator", build_dir=tmp_path)
    golden, _ = check_against_golden(network, config, values, run)
    assert all(spikes.any() for spikes in golden.spikes)      # every layer fires
