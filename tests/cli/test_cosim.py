"""``spikefab cosim`` as a user runs it: the installed script from their folder with relative
paths, a saved conv network, its spike trains or the digits test images; the hardware checked
against the golden and cycle models, the figures equal to the models', and bad flags one line."""

import json

import numpy as np
import pytest

from spikefab.model import HardwareConfig, Network, cycle_model, simulate
from spikefab.sim.random_networks import random_conv_network
from tests.test_front_door import explain, spikefab


def conv_network(tmp_path):
    network = random_conv_network(np.random.default_rng(12), conv_layers=(2, 2))
    network.save(tmp_path / "net.npz")
    return network


def test_a_saved_conv_network_on_its_trains(tmp_path):
    network = conv_network(tmp_path)
    trains = np.random.default_rng(1).random((4, 6, network.n_inputs)) < 0.3
    np.save(tmp_path / "trains.npy", trains.astype(np.uint8))
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--spikes", "trains.npy",
                    "--samples", "3", "--lanes", "2", "--chunk", "2", "--backend", "amaranth",
                    "--out", "out")
    assert done.returncode == 0, explain(done)
    assert "hardware = golden model = cycle model on all 3 samples" in done.stdout
    assert "(convolution core)" in done.stdout
    summary = json.loads((tmp_path / "out" / "cosim.json").read_text())
    config = HardwareConfig.uniform(network, lanes=2)
    golden = simulate(network, trains[:3])
    alone = [int(cycle_model(network, simulate(network, t), config).latency[0])
             for t in trains[:3]]
    assert summary["cycles_alone_mean"] == np.mean(alone)
    assert summary["cycles_back_to_back"] == cycle_model(network, golden, config).total / 3
    assert summary["spikes"] == sum(int(s.sum()) for s in golden.spikes)
    assert summary["config"] == config.to_json()
    saved = np.load(tmp_path / "out" / "samples-T6.npz")["spikes"]
    assert np.array_equal(saved, trains[:3])
    assert summary["synth"].startswith("spikefab synth --board ulx3s --network net.npz")
    assert "--spikes out/samples-T6.npz" in summary["synth"]


@pytest.mark.parametrize("encoder", ["rate", "latency"])
def test_digits_test_images_and_their_accuracy(tmp_path, encoder):
    """The test images coded by ``--encoder`` (the model's encoder, not the CLI's)."""
    from spikefab.model import (encode_latency, encode_rate, load_dataset, reference_network,
                                to_intensity)
    network = reference_network((64, 12, 10), w_bits=4, density=0.5, seed=2)
    network.save(tmp_path / "net.npz")
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "digits",
                    "--samples", "4", "--steps", "5", "--lanes", "4", "--backend", "amaranth",
                    "--encoder", encoder, "--out", "out")
    assert done.returncode == 0, explain(done)
    assert f"test images, {encoder} code, T = 5" in done.stdout
    split = load_dataset("digits")
    trains = {"rate": encode_rate, "latency": encode_latency}[encoder](
        to_intensity(split.x_test[:4]), 5)
    assert np.array_equal(np.load(tmp_path / "out" / "samples-T5.npz")["spikes"], trains)
    golden = simulate(network, trains)
    accuracy = float(np.mean(golden.predicted == split.y_test[:4]))
    assert json.loads((tmp_path / "out" / "cosim.json").read_text())["accuracy"] == accuracy
    assert f"on these 4 images: {accuracy:.2%}" in done.stdout


def test_a_direct_network_on_its_images_values(tmp_path):
    """A direct first layer (docs/design.md §13): the file records the code ``direct``, the
    test images go in as their values (encode_direct) and the accuracy is the golden model's
    on them; ``--encoder rate`` for it, or ``--encoder direct`` for a spiking network, is one
    error line."""
    from spikefab.model import encode_direct, load_dataset, reference_network, to_intensity
    spiking = reference_network((64, 12, 10), w_bits=4, density=0.5, seed=2)
    network = Network((spiking[0].replace(x_bits=8, x_shift=7),) + spiking.layers[1:])
    network.save(tmp_path / "net.npz")
    spiking.save(tmp_path / "spiking.npz")
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "digits",
                    "--samples", "4", "--steps", "5", "--lanes", "4", "--backend", "amaranth",
                    "--out", "out")
    assert done.returncode == 0, explain(done)
    assert "test images, direct code, T = 5" in done.stdout
    split = load_dataset("digits")
    golden = simulate(network, encode_direct(to_intensity(split.x_test[:4]), 5))
    accuracy = float(np.mean(golden.predicted == split.y_test[:4]))
    assert json.loads((tmp_path / "out" / "cosim.json").read_text())["accuracy"] == accuracy
    for name, code, words in (("net.npz", "rate", "its images go in as values, --encoder "
                                                  "direct, not rate"),
                              ("spiking.npz", "direct", "spiking.npz's takes spikes")):
        done = spikefab(tmp_path, "cosim", "--network", name, "--dataset", "digits",
                        "--samples", "2", "--encoder", code, "--backend", "amaranth")
        assert done.returncode == 1 and words in done.stderr.strip().splitlines()[-1], \
            explain(done)


@pytest.mark.parametrize("flags, code, steps, line", [
    ((), "latency", 5, "input code: latency, T = 5 (recorded in net.npz)"),
    (("--encoder", "rate"), "rate", 5,
     "input code: rate (--encoder; net.npz records latency), T = 5 (recorded in net.npz)"),
    (("--steps", "3"), "latency", 3,
     "input code: latency (recorded in net.npz), T = 3 (--steps; net.npz records 5)"),
])
def test_the_code_and_t_the_network_file_records(tmp_path, flags, code, steps, line):
    """Without ``--encoder`` / ``--steps`` the test images are coded as the network file
    records (as ``spikefab train`` writes it); an option given wins; one line says which."""
    from spikefab.model import encode, load_dataset, reference_network, to_intensity
    reference_network((64, 12, 10), w_bits=4, density=0.5, seed=2).with_input(
        "latency", 5).save(tmp_path / "net.npz")
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "digits",
                    "--samples", "3", "--lanes", "4", "--backend", "amaranth", *flags,
                    "--out", "out")
    assert done.returncode == 0, explain(done)
    assert line in done.stdout.splitlines()
    assert f"test images, {code} code, T = {steps}" in done.stdout
    trains = encode(code, to_intensity(load_dataset("digits").x_test[:3]), steps)
    assert np.array_equal(np.load(tmp_path / "out" / f"samples-T{steps}.npz")["spikes"], trains)


def test_a_file_of_given_spikes_codes_no_images(tmp_path):
    """A network file recording ``spikes`` (trained on events) cannot code test images: one
    line; the trains themselves (``--spikes``) run, the file's code not in the way."""
    from spikefab.model import reference_network
    reference_network((64, 12, 10), w_bits=4, seed=2).with_input("spikes", 4).save(
        tmp_path / "net.npz")
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "digits")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: net.npz records the input code 'spikes' (given spike trains, e.g. "
        "mnist-saccades events), which does not code images; give the trains (--spikes or "
        "--dataset mnist-saccades where the command takes them) or --encoder rate|latency")
    np.save(tmp_path / "trains.npy", np.zeros((2, 4, 64), np.uint8))
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--spikes", "trains.npy",
                    "--lanes", "4", "--backend", "amaranth", "--out", "out")
    assert done.returncode == 0, explain(done)
    assert "input code" not in done.stdout


def test_an_encoder_needs_images(tmp_path):
    conv_network(tmp_path)
    np.save(tmp_path / "trains.npy", np.zeros((2, 3, 2 * 6 * 6), np.uint8))
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--spikes", "trains.npy",
                    "--encoder", "latency")
    assert done.returncode == 1 and "error: --encoder latency codes test images; --spikes " \
        "gives the trains themselves" in done.stderr, explain(done)


def test_fashion_mnist_from_a_data_path_and_the_models_on_more_images(tmp_path):
    """``--dataset fashion-mnist --data-path DIR`` reads the folder's t10k images (hand-made
    IDX files); ``--model-samples`` runs the golden and cycle models alone on more of them."""
    from tests.model.test_full_sets import write_set
    from spikefab.model import encode_rate, reference_network
    data = write_set(tmp_path / "data", train=10, test=12)
    network = reference_network((784, 8, 10), w_bits=4, density=0.5, seed=3)
    network.save(tmp_path / "net.npz")
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "fashion-mnist",
                    "--data-path", "data", "--samples", "2", "--steps", "2", "--lanes", "4",
                    "--backend", "amaranth", "--model-samples", "12", "--out", "out")
    assert done.returncode == 0, explain(done)
    pixels, labels = data["t10k"]
    trains = encode_rate(np.array(pixels), 2)
    config = HardwareConfig.uniform(network, lanes=4)
    alone = [int(cycle_model(network, simulate(network, t), config).latency[0]) for t in trains]
    accuracy = float(np.mean(simulate(network, trains).predicted == np.array(labels)))
    models = json.loads((tmp_path / "out" / "cosim.json").read_text())["models"]
    assert (models["samples"], models["accuracy"]) == (12, accuracy)
    assert (models["cycles_alone_mean"], models["cycles_alone_min"],
            models["cycles_alone_max"]) == (np.mean(alone), min(alone), max(alone))
    assert "the first 12 fashion-mnist test images" in done.stdout
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "digits",
                    "--data-path", "data", "--backend", "amaranth")
    assert done.returncode != 0 and "--data-path is for --dataset mnist, fashion-mnist" \
        in done.stderr and "Traceback" not in done.stderr


def test_bad_flags_are_one_line(tmp_path):
    conv_network(tmp_path)
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--lanes", "2", "3")
    assert done.returncode != 0 and "--lanes has 2 values for a network of 3 layers" \
        in done.stderr and "Traceback" not in done.stderr
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "digits",
                    "--backend", "amaranth")
    assert done.returncode != 0 and "takes" in done.stderr and "Traceback" not in done.stderr
    done = spikefab(tmp_path, "cosim", "--network", "missing.npz")
    assert done.returncode == 2 and "missing.npz" in done.stderr
    assert Network.load(tmp_path / "net.npz").n_inputs > 0


def test_the_event_workload_runs_its_test_events(tmp_path):
    """--dataset mnist-saccades: the ON/OFF events of the test images, exactly as
    spikefab train --dataset mnist-saccades makes them, into a 2-channel conv network."""
    from spikefab.model import Layer
    from spikefab.model.conv import Conv2dGeometry, ConvLayer
    from spikefab.model.datasets import load_events
    rng = np.random.default_rng(3)
    conv = ConvLayer(kernel=rng.integers(0, 4, (2, 2, 3, 3)), theta=3, w_bits=4, v_bits=8,
                     geometry=Conv2dGeometry(2, 34, 34, 2, kernel=3, stride=3))
    network = Network([conv, Layer(rng.integers(-1, 4, (10, conv.neurons)), theta=4,
                                   w_bits=4, v_bits=10)])
    network.save(tmp_path / "net.npz")
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--dataset", "mnist-saccades",
                    "--samples", "2", "--steps", "3", "--lanes", "2", "--backend", "amaranth",
                    "--out", "out")
    assert done.returncode == 0, explain(done)
    events = load_events("mnist-saccades", 3)
    saved = np.load(tmp_path / "out" / "samples-T3.npz")["spikes"]
    assert np.array_equal(saved, events.x_test[:2])
    golden = simulate(network, events.x_test[:2])
    accuracy = float(np.mean(golden.predicted == events.y_test[:2]))
    assert json.loads((tmp_path / "out" / "cosim.json").read_text())["accuracy"] == accuracy


def exit_network(tmp_path):
    """A small 10-12-4 classifier (csc, P = 3 then 2, queues of 4) and five samples of 12
    steps, one of them silent (it never exits), saved as ``net.npz`` and ``trains.npy``."""
    from spikefab.model import Layer
    rng = np.random.default_rng(1)
    network = Network([Layer(rng.integers(-4, 6, size=(12, 10)), theta=8, w_bits=4, v_bits=10),
                       Layer(rng.integers(-6, 5, size=(4, 12)), theta=4, w_bits=4, v_bits=10)])
    network.save(tmp_path / "net.npz")
    trains = np.random.default_rng(2).random((5, 12, 10)) < 0.5
    trains[2] = False
    np.save(tmp_path / "trains.npy", trains.astype(np.uint8))
    return network, trains, HardwareConfig.uniform(network, lanes=[3, 2], format="csc",
                                                   queue_depth=4)


@pytest.mark.parametrize("flag, rule", [("exact", "exact"), ("margin:2", ("margin", 2))])
def test_early_exit_from_the_command_line(tmp_path, flag, rule):
    """``spikefab cosim --exit exact`` and ``--exit margin:2`` (Amaranth simulator here; the
    Verilator run with exit is tests/sim/test_cosim.py): the hardware built with the rule
    equals the golden model run with it and the exit cycle model; the figures printed and
    written are the models'; the printed synth command carries the rule."""
    network, trains, config = exit_network(tmp_path)
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--spikes", "trains.npy",
                    "--samples", "5", "--lanes", "3", "2", "--queue-depth", "4", "--chunk", "5",
                    "--backend", "amaranth", "--exit", flag, "--model-samples", "5",
                    "--out", "out")
    assert done.returncode == 0, explain(done)
    assert "hardware = golden model = cycle model on all 5 samples" in done.stdout
    assert "and the steps each sample ran" in done.stdout
    golden = simulate(network, trains, exit=rule)
    assert (golden.ran < 12).sum() >= 3 and golden.ran[2] == 12     # exits, and one never
    summary = json.loads((tmp_path / "out" / "cosim.json").read_text())
    assert summary["exit"] == flag and summary["config"] == config.to_json()
    assert summary["steps_mean"] == golden.ran.mean()
    assert summary["spikes"] == sum(int(s.sum()) for s in golden.spikes)
    alone = [int(cycle_model(network, simulate(network, t, exit=rule), config).latency[0])
             for t in trains]
    plain = [int(cycle_model(network, simulate(network, t), config).latency[0]) for t in trains]
    assert summary["cycles_alone_mean"] == np.mean(alone) < np.mean(plain)
    assert summary["cycles_alone_mean_without_exit"] == np.mean(plain)
    # --model-samples runs the models with the same rule
    assert summary["models"]["cycles_alone_mean"] == np.mean(alone)
    assert f"first 5 trains of trains.npy, early exit {flag}:" in done.stdout
    assert summary["cycles_back_to_back"] == cycle_model(network, golden, config).total / 5
    assert f"early exit {flag}: {golden.ran.mean():.2f} steps run on average" in done.stdout
    assert f"--exit {flag}" in summary["synth"] and "--steps 12" in summary["synth"]
    assert f"a bitstream of this design: {summary['synth']}" in done.stdout


def test_bad_exit_values_name_the_allowed_forms(tmp_path):
    exit_network(tmp_path)
    for bad in ("fast", "margin:0", "margin:two", "margin:16777217"):
        done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--exit", bad)
        last = done.stderr.strip().splitlines()[-1]
        assert done.returncode == 2 and last.startswith("spikefab cosim: error: argument "
                                                        "--exit: "), explain(done)
        assert "allowed forms are none, exact or margin:N with N an integer in " \
               "[1, 16777216]" in last, last
        assert "Traceback" not in done.stderr
    conv_network(tmp_path)                       # the convolution core has no early exit
    done = spikefab(tmp_path, "cosim", "--network", "net.npz", "--exit", "exact", "--spikes",
                    "trains.npy")
    assert done.returncode == 1 and "error: --exit exact: early exit runs on the fully " \
        "connected layer cores" in done.stderr and "Traceback" not in done.stderr
