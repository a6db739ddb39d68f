"""Bad input everywhere a user can reach it (issue 12, item 5): one clear error per class of
bad value — wrong type, wrong shape, out of range, not finite, unreadable file — naming the
field and, where there is one, the allowed range; intensities and spike arrays with values
out of range are refused, never clipped or wrapped.

The command-line flags are swept by ``tests/test_cli_flags.py``; this file covers the Python
API: every callable that ``spikefab.model`` exports (found by walking ``__all__``, so a new
export is covered without editing this file) and the hardware, co-simulation and board entry
points listed below.
"""

import inspect
import re

import numpy as np
import pytest

import spikefab.model as model
from spikefab.boards.host import Device
from spikefab.boards.link import HostLink
from spikefab.boards.protocol import encode_event, encode_request
from spikefab.boards.registry import get_board
from spikefab.boards.top import BoardTop
from spikefab.hw.accelerator import Accelerator
from spikefab.hw.event_queue import EventQueue
from spikefab.hw.layer_core import LayerCore
from spikefab.hw.lif_core import LIFCore
from spikefab.hw.pe_array import PEArray
from spikefab.hw.weight_memory import WeightMemory
from spikefab.model import (HardwareConfig, Layer, Network, compile_weights, cycle_model,
                              encode_latency, encode_rate, encode_spikes, leak_for_beta, prune,
                              quantize_layer, quantize_network, reference_network, simulate,
                              to_intensity, weight_scale)
from spikefab.sim.cosim import run_accelerator

NET = reference_network((16, 12, 4), w_bits=4, seed=3)
CONFIG = HardwareConfig.uniform(NET, lanes=2)


class Odd:
    """A value of no type any spikefab function accepts."""

    def __repr__(self):
        return "<odd>"


# --- 1. wrong type: every callable of spikefab.model ------------------------------------------

# Records the library builds and returns (dataclasses holding results); users read them, they do
# not construct them, so their fields are not validated.
RECORDS = {"SimResult", "CycleReport", "LayerCycles", "Memory", "WeightImage", "LayerImport",
           "NIRImport", "TrainedSNN", "MNISTReference", "Split"}

# Where the message names the field by what it is rather than by the parameter's name.
ALIASES = {("encode", "kind"): "encoder", ("encode_rate", "x"): "intensities",
           ("encode_latency", "x"): "intensities", ("to_intensity", "values"): "values",
           ("from_nir", "graph_or_path"): "graph", ("import_nir", "graph_or_path"): "graph",
           ("encode_spikes", "spikes"): "spikes", ("load_dataset", "name"): "dataset"}


def _required(callable_):
    params = inspect.signature(callable_).parameters.values()
    return [p for p in params if p.default is p.empty and p.kind in
            (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def _api():
    for name in model.__all__:
        value = getattr(model, name)
        if callable(value) and name not in RECORDS and _required(value):
            yield name


@pytest.mark.parametrize("name", sorted(_api()))
def test_every_model_function_names_a_wrongly_typed_argument(name):
    function = getattr(model, name)
    required = _required(function)
    args = [Odd() for p in required if p.kind != p.KEYWORD_ONLY]
    kwargs = {p.name: Odd() for p in required if p.kind == p.KEYWORD_ONLY}
    with pytest.raises((TypeError, ValueError)) as info:
        function(*args, **kwargs)
    message = str(info.value)
    names = [ALIASES.get((name, p.name), p.name) for p in required]
    assert any(re.search(rf"\b{re.escape(n)}\b", message) for n in names), \
        f"{name}: the error does not name the argument: {message}"
    # Python's own complaints about the value mean nothing was checked.
    for leak in ("has no attribute", "not supported between", "object is not iterable",
                 "has no len()", "could not convert", "ufunc"):
        assert leak not in message, f"{name}: unchecked argument: {message}"


def test_the_sweep_reaches_the_whole_model_api():
    """The sweep above is not vacuous: it calls the functions a user starts with."""
    swept = set(_api())
    assert {"simulate", "cycle_model", "compile_weights", "quantize_network", "prune",
            "encode_rate", "from_nir", "to_nir", "train_snn", "Layer",
            "HardwareConfig", "convert_mlp"} <= swept


# --- 2. the hardware, co-simulation and board entry points ---------------------------------------

IMAGE = compile_weights(NET.layers[0], 2)
O = Odd()

HARDWARE = [
    (lambda: LIFCore(O, lanes=2, acc_bits=8), TypeError, "layer must be a spikefab.model.Layer"),
    (lambda: LIFCore(NET.layers[0], lanes=O, acc_bits=8), TypeError, r"lanes must be an integer in \[1, 12\]"),
    (lambda: LIFCore(NET.layers[0], lanes=13, acc_bits=8), ValueError, r"lanes = 13 .*\[1, 12\]"),
    (lambda: EventQueue(O, 4), TypeError, r"addr_bits must be an integer in \[1, 24\]"),
    (lambda: EventQueue(25, 4), ValueError, r"addr_bits = 25 .*\[1, 24\]"),
    (lambda: EventQueue(4, 1), ValueError, r"depth = 1 .*\[2, 65536\]"),
    (lambda: PEArray(lanes=2, rows=0, w_bits=4, acc_bits=8), ValueError, r"rows = 0 .*\[1, 65536\]"),
    (lambda: PEArray(lanes=2, rows=4, w_bits=8, acc_bits=4), ValueError, r"acc_bits = 4 .*\[8, 48\]"),
    (lambda: WeightMemory(O), TypeError, "image must be a spikefab.model.WeightImage"),
    (lambda: LayerCore(NET.layers[1], IMAGE), ValueError, "image was not compiled from this layer"),
    (lambda: Accelerator(O, CONFIG), TypeError, "network must be a spikefab.model.Network"),
    (lambda: Accelerator(NET, O), TypeError, "config must be a spikefab.model.HardwareConfig"),
    (lambda: Accelerator(NET, HardwareConfig.uniform(reference_network((16, 4), w_bits=4))),
     ValueError, "configuration has 1 layers, the network 2"),
    (lambda: run_accelerator(O, CONFIG, np.zeros((1, 2, 16), bool)), TypeError, "network must be"),
    (lambda: run_accelerator(NET, CONFIG, np.zeros((1, 2, 16), bool), backend="ghdl"),
     ValueError, "backend = 'ghdl' is not allowed; choose one of amaranth, verilator"),
    (lambda: get_board("de10"), ValueError, "unknown board 'de10'; known boards are 'icebreaker'"),
    (lambda: get_board(O), TypeError, "board must be a board name or a Board"),
    (lambda: HostLink(NET, CONFIG, divisor=1), ValueError, r"divisor = 1 .*\[4, "),
    (lambda: BoardTop(O, CONFIG), TypeError, "network must be a spikefab.model.Network"),
    (lambda: BoardTop(NET, CONFIG, baud=0), ValueError, r"baud = 0 .*\[300, 12000000\]"),
    (lambda: BoardTop(NET, HardwareConfig.uniform(NET, lanes=[12, 5])), ValueError,
     r"layers\[1\].lanes = 5 .*\[1, 4\]"),
    (lambda: Device(O), TypeError, "port must be an open serial port"),
    (lambda: encode_request(O), TypeError, r"command must be a Command .*\[0, 255\]"),
    (lambda: encode_request(1, bytes(513)), ValueError, r"513 bytes is too long; allowed range is \[0, 512\]"),
    (lambda: encode_event(0, 1 << 14), ValueError, r"event address 16384 .*\[0, 16383\]"),
    (lambda: encode_event(0, 1.5), TypeError, r"event address must be an integer"),
]


@pytest.mark.parametrize("call, error, message", HARDWARE, ids=range(len(HARDWARE)))
def test_hardware_and_board_entry_points_name_the_bad_value(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- 3. wrong shape ---------------------------------------------------------------------------

SHAPES = [
    (lambda: simulate(NET, np.zeros((1, 4, 15), bool)), "15 inputs per step, the network expects 16"),
    (lambda: simulate(NET, np.zeros((1, 2, 4, 16), bool)), r"spikes must have shape \[T, 16\] or \[B, T, 16\]"),
    (lambda: encode_rate(np.zeros((2, 2, 2), int), 4), r"intensities must have shape \[N0\] or \[B, N0\]"),
    (lambda: Layer(np.ones(4, int), theta=1, w_bits=4, v_bits=8), "weights must be a 2-D array"),
    (lambda: Layer(np.ones((4, 3), int), theta=1, w_bits=4, v_bits=8, bias=np.ones(5, int)),
     r"bias must have shape \(4,\)"),
    (lambda: quantize_layer(np.ones(3), w_bits=4), "weights must be a 2-D array"),
    (lambda: quantize_network([np.ones((4, 3)), np.ones((5, 2))], w_bits=4),
     "layers\\[1\\].weights has fan-in 2, but layers\\[0\\] has 4 neurons"),
    (lambda: model.convert_mlp([np.ones((3, 4))], [np.zeros(4)], np.ones((5, 4)), w_bits=4),
     r"biases\[0\] has shape \(4,\), but weights\[0\] has 3 outputs"),
    (lambda: prune(np.ones(5), 0.5), "weights must be a 2-D array"),
    (lambda: HardwareConfig.uniform(NET, lanes=[1, 2, 3]), "lanes has 3 entries for 2 layers"),
    (lambda: cycle_model(NET, simulate(reference_network((16, 8, 4), w_bits=4),
                                       np.zeros((1, 2, 16), bool)), CONFIG),
     r"result has layer widths \(16, 8, 4\), but the network's shape is \(16, 12, 4\)"),
    (lambda: run_accelerator(NET, CONFIG, np.zeros((0, 2, 16), bool)), "batch of 0 samples"),
]


@pytest.mark.parametrize("call, message", SHAPES, ids=range(len(SHAPES)))
def test_wrong_shapes_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- 4. out of range and not finite -------------------------------------------------------------

RANGES = [
    (lambda: Layer(np.full((4, 3), 100), theta=1, w_bits=4, v_bits=8),
     r"holds 100, which does not fit w_bits = 4 \(signed range \[-8, 7\]\)"),
    (lambda: Layer(np.ones((4, 3), int), theta=0, w_bits=4, v_bits=8), r"theta .* = 0 .*\[1, 126\]"),
    (lambda: Layer(np.ones((4, 3), int), theta=1, w_bits=4, v_bits=99), r"v_bits = 99 .*\[3, 32\]"),
    (lambda: quantize_layer(np.ones((2, 2)), w_bits=17), r"w_bits = 17 .*\[2, 16\]"),
    (lambda: weight_scale(np.ones((2, 2)), 1), r"w_bits = 1 .*\[2, 16\]"),
    (lambda: prune(np.ones((4, 3)), 1.5), r"density = 1.5 .*\(0, 1\]"),
    (lambda: prune(np.ones((4, 3)), 0.5, lanes=5), r"lanes = 5 .*\[1, 4\]"),
    (lambda: leak_for_beta(1.5), r"beta = 1.5 .*\[0, 1\]"),
    (lambda: leak_for_beta(np.nan), r"beta = nan .*\[0, 1\]"),
    (lambda: HardwareConfig.uniform(NET, queue_depth=1), r"queue_depth = 1 .*\[2, 65536\]"),
    (lambda: encode_rate(np.arange(16), 0), r"steps = 0 .*\[1, 65536\]"),
    (lambda: model.TrainConfig(epochs=0), r"epochs = 0 .*\[1, 100000\]"),
    # Not finite: refused by name, never quantized to a number.
    (lambda: quantize_layer(np.array([[1.0, np.nan], [0.5, 0.2]]), w_bits=4),
     r"weights must be finite \(it holds NaN or infinity\)"),
    (lambda: quantize_layer(np.array([[1.0, np.inf]]), w_bits=4), "weights must be finite"),
    (lambda: prune(np.array([[np.nan, 1.0]]), 0.5), "weights must be finite"),
    (lambda: model.convert_mlp([np.ones((3, 4))], [np.zeros(3)], np.full((5, 4), np.nan), w_bits=4),
     "calibration must be finite"),
]


@pytest.mark.parametrize("call, message", RANGES, ids=range(len(RANGES)))
def test_out_of_range_and_non_finite_values_are_refused_with_the_range(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- 5. intensities and spike arrays: refused, never clipped or wrapped ---------------------------

SPIKES = np.zeros((1, 3, 16))
REFUSED_VALUES = [
    (lambda: encode_rate(np.full(16, 256), 4), r"intensities must lie in \[0, 255\]"),
    (lambda: encode_rate(np.full(16, -1), 4), r"intensities must lie in \[0, 255\]"),
    (lambda: encode_rate(np.full(16, 300), 4, x_bits=8), r"got values in \[300, 300\]"),
    (lambda: encode_rate(np.full(16, 0.5), 4), r"intensities must be integers in \[0, 255\]"),
    (lambda: encode_rate(np.full(16, np.nan), 4), "intensities must be integers"),
    (lambda: encode_latency(np.full(16, 16), 4, x_bits=4), r"intensities must lie in \[0, 15\]"),
    (lambda: to_intensity(np.array([1.5])), r"values must lie in \[lo, hi\] = \[0.0, 1.0\]"),
    (lambda: to_intensity(np.array([-0.1])), r"values must lie in \[lo, hi\] = \[0.0, 1.0\]"),
    (lambda: to_intensity(np.array([np.inf])), "values must be finite"),
    (lambda: encode_spikes(SPIKES + 2), "spikes must be binary"),
    (lambda: simulate(NET, SPIKES - 1), "spikes must be binary"),
    (lambda: simulate(NET, SPIKES + 0.5), "spikes must be binary"),
    (lambda: simulate(NET, SPIKES + np.nan), "spikes must be binary"),
    (lambda: simulate(NET, SPIKES + 256), "spikes must be binary"),      # would wrap to 0 in a u8
    (lambda: run_accelerator(NET, CONFIG, SPIKES + 2), "spikes must be binary"),
    (lambda: model.train_snn(np.full((4, 16), 256), np.zeros(4, int)),
     r"images: intensities must lie in \[0, 255\]"),
]


@pytest.mark.parametrize("call, message", REFUSED_VALUES, ids=range(len(REFUSED_VALUES)))
def test_out_of_range_intensities_and_spikes_are_refused_not_clipped(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_clipping_happens_only_when_asked():
    """The one way to clip: ``to_intensity(..., clip=True)``, and then exactly at the ends."""
    values = np.array([-0.5, 0.0, 0.5, 1.0, 1.5])
    assert to_intensity(values, clip=True).tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError):
        to_intensity(values)


# --- 6. unreadable files -------------------------------------------------------------------------

def _files(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip archive")
    empty = tmp_path / "empty.nir"
    empty.write_bytes(b"")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, something=np.ones(3))
    return garbage, empty, foreign


def test_unreadable_network_files_are_named(tmp_path):
    garbage, _, foreign = _files(tmp_path)
    for path, message in [(garbage, "not a spikefab network file"),
                          (foreign, "not a spikefab network file|missing"),
                          (tmp_path / "absent.npz", "cannot read it"),
                          (tmp_path, "cannot read it")]:
        with pytest.raises(ValueError, match=message) as info:
            Network.load(path)
        assert str(path) in str(info.value)


def test_unreadable_nir_files_are_named(tmp_path):
    pytest.importorskip("nir")
    garbage, empty, _ = _files(tmp_path)
    for path, message in [(garbage, "not a readable NIR file"), (empty, "not a readable NIR file"),
                          (tmp_path / "absent.nir", "no such NIR file")]:
        with pytest.raises(ValueError, match=message) as info:
            model.from_nir(path)
        assert str(path) in str(info.value)


def test_missing_mnist_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST folder .* does not exist"):
        model.load_mnist(tmp_path / "absent")
