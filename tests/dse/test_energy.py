"""Energy per inference (spikefab.dse.energy): the operation counts against independent NumPy
counts from the golden spikes and weights, the energy against a hand computation with a table
of round numbers, static energy by hand, monotonicity in activity, and bad input."""

import json

import numpy as np
import pytest

from spikefab.boards.registry import BOARDS
from spikefab.model import (FORMATS, HardwareConfig, Layer, Network, cycle_model,
                              reference_network, simulate)
from spikefab.model.events import event_stream
from spikefab.dse.energy import (CLASSES, DEFAULT_TABLE, PUBLISHED, EnergyTable,
                                   estimate_energy, operation_counts)

SAMPLES, STEPS = 3, 6

#: Round numbers, each a different power of ten, so a wrong term shows in the total.
ROUND = EnergyTable.from_values(memory_read_bit=1, memory_write_bit=10, add_bit=100,
                                compare_bit=1000, multiply_bit2=10000,
                                static_mw={"iCE40UP5K": 5, "ecp5": 50})


def _random_network(seed):
    rng = np.random.default_rng(seed)
    sizes = (12, 10, 5)
    layers = []
    for index, (fan_in, n) in enumerate(zip(sizes, sizes[1:])):
        w = rng.integers(-7, 8, size=(n, fan_in))
        w[rng.random(w.shape) < 0.5] = 0
        kinds = [dict(leak="shift", k=2, reset="subtract", timing="immediate"),
                 dict(leak="mul", m=3, f=2, reset="zero", timing="delayed",
                      bias=rng.integers(-2, 3, size=n))]
        layers.append(Layer(w, theta=int(rng.integers(2, 6)), w_bits=4, v_bits=10,
                            **kinds[index]))
    return Network(layers)


def _run(net, spikes, *, lanes=3, format="csc", mode="sparse"):
    result = simulate(net, spikes)
    config = HardwareConfig.uniform(net, lanes=lanes, format=format, mode=mode)
    return result, config, cycle_model(net, result, config)


@pytest.fixture(scope="module")
def net():
    return _random_network(7)


@pytest.fixture(scope="module")
def spikes():
    return np.random.default_rng(3).random((SAMPLES, STEPS, 12)) < 0.35


@pytest.mark.parametrize("format", FORMATS)
def test_counts_match_independent_numpy_counts(net, spikes, format):
    lanes = 3
    result, config, report = _run(net, spikes, lanes=lanes, format=format)
    counts = operation_counts(net, config, report, samples=SAMPLES, steps=STEPS)
    assert counts.cycles == report.total / SAMPLES
    for index, (layer, ops) in enumerate(zip(net, counts.layers)):
        trains = np.asarray(result.layer_inputs(index), dtype=np.int64)    # [B, T, fan_in]
        nonzero = layer.weights != 0                                       # [N, fan_in]
        # (a) synaptic updates: over steps, the non-zero weights in the spiking columns
        sops = sum(int(nonzero[:, np.flatnonzero(step)].sum())
                   for sample in trains for step in sample)
        assert ops.synaptic_updates * SAMPLES == pytest.approx(sops)
        # (b) events: the golden spike totals
        assert ops.events * SAMPLES == pytest.approx(int(trains.sum()))
        # (c) the sweep: every neuron every step
        assert ops.neuron_updates * SAMPLES == STEPS * layer.neurons * SAMPLES
        assert ops.neuron_clears * SAMPLES == layer.neurons * SAMPLES
        # queue: the entries of the event stream, pushed and popped once
        assert ops.queue_pushes * SAMPLES == pytest.approx(len(event_stream(trains)))
        assert ops.queue_operations == 2 * ops.queue_pushes
        # weight words: rows per event for dense, else the busiest lane's non-zeros
        rows = -(-layer.neurons // lanes)
        padded = np.zeros((rows * lanes, layer.fan_in), dtype=bool)
        padded[:layer.neurons] = nonzero
        per_column = (np.full(layer.fan_in, rows) if format == "dense" else
                      padded.reshape(rows, lanes, layer.fan_in).sum(axis=0).max(axis=0))
        assert ops.words * SAMPLES == pytest.approx(int((trains * per_column).sum()))
        assert ops.pointer_reads == (0 if format == "dense" else ops.events)
        assert ops.bitmap_reads == (ops.events if format == "bitmap" else 0)
    assert counts.synaptic_operations == pytest.approx(
        sum(layer.synaptic_updates for layer in counts.layers))


def test_neuron_datapath_by_hand(net, spikes):
    """Both neuron kinds of the fixture: fan-in 12 -> acc_bits 4 + 4 = 8, internal width
    max(10, 8) + 3 = 13, sums and compares of 14 bits."""
    _, config, report = _run(net, spikes)
    first, second = operation_counts(net, config, report, samples=SAMPLES, steps=STEPS).layers
    assert first.acc_bits == second.acc_bits == 8
    # shift leak (11-bit subtract), immediate subtract reset, no bias
    assert first.neuron_update.to_json() == dict(
        read=8 + 10, write=8 + 10, add=11 + 14 + 14, compare=3 * 14, multiply=0)
    assert first.neuron_clear.to_json() == dict(read=8, write=18, add=0, compare=0, multiply=0)
    # mul leak (10 x 3-bit multiply), delayed zero reset (refractory bit), a bias (read, add)
    assert second.neuron_update.to_json() == dict(
        read=8 + 10 + 10 + 1, write=8 + 10 + 1, add=13 + 14, compare=3 * 14, multiply=30)
    assert second.neuron_clear.to_json() == dict(read=8, write=19, add=0, compare=0,
                                                 multiply=0)
    assert second.neuron_update.pj(ROUND) == 29 * 1 + 19 * 10 + 27 * 100 + 42 * 1000 \
        + 30 * 10000


def test_dense_baseline_reads_every_column_every_step(net, spikes):
    _, config, report = _run(net, spikes, lanes=3, mode="dense")
    counts = operation_counts(net, config, report, samples=SAMPLES, steps=STEPS)
    for layer, ops in zip(net, counts.layers):
        assert ops.words == STEPS * layer.fan_in * -(-layer.neurons // 3)
        assert ops.pointer_reads == ops.bitmap_reads == 0


def test_total_equals_a_hand_computation():
    # One layer, every width by hand: N = 4, fan-in 3, P = 2, csc, w_bits 4, v_bits 8,
    # shift leak, immediate subtract reset, no bias.
    weights = np.array([[1, 0, 2], [0, 3, 0], [4, 0, 0], [0, 0, -5]])
    net = Network([Layer(weights, theta=3, w_bits=4, v_bits=8, leak="shift", k=1)])
    spikes = np.array([[[1, 0, 1], [1, 1, 0]], [[0, 0, 1], [0, 1, 1]]])    # B = 2, T = 2
    result, config, report = _run(net, spikes, lanes=2, format="csc")
    estimate = estimate_energy(net, config, report, samples=2, steps=2, board="icebreaker",
                               table=ROUND)
    read, write, add, compare = 1, 10, 100, 1000        # ROUND; no multiply (shift leak)

    events = 7 / 2                                  # spikes per sample
    nnz = (weights != 0).sum(axis=0)                # [2, 1, 2]
    sops = float((spikes * nnz).sum()) / 2          # (2+2)+(2+1) + 2+(1+2) = 12 -> 6
    assert sops == 6
    # csc words per column: lane p holds neurons p, p + 2; column 0: lane 0 holds 0 and 2
    col_words = np.array([2, 1, 1])
    words = float((spikes * col_words).sum()) / 2
    entries = events + 2 + 1                        # spikes, 2 STEPs, 1 SAMPLE
    entry_bits = 2 + 2                              # kind + addr_bits(3)
    slot = 1 + 1 + 4                                # valid, index_bits(rows 2), w_bits
    word_bits = 2 * slot
    start_bits, length_bits = 2, 2                  # starts 0, 2, 3; lengths <= 2
    acc = 4 + 2                                     # w_bits + ceil(log2(3))
    width = max(8, acc) + 3                         # the LIF core's internal width
    update = ((acc + 8) * read + (acc + 8) * write        # current read+clear, membrane r/w
              + ((8 + 1) + (width + 1) + (width + 1)) * add    # leak, sum, subtract reset
              + 3 * (width + 1) * compare)
    clear = acc * read + (acc + 8) * write
    dynamic = {
        "queue": entries * entry_bits * (read + write),
        "weights": words * word_bits * read,
        "pointers": events * (start_bits + length_bits) * read,
        "accumulate": sops * acc * (read + write + add),
        "sweep": 2 * 4 * update + 4 * clear,
    }
    for name in CLASSES:
        assert estimate.dynamic_pj[name] == pytest.approx(dynamic[name]), name
    static = 5 * (report.total / 2) / 12.0 * 1e3    # mW x us at the 12 MHz board clock
    assert estimate.static_pj == pytest.approx(static)
    assert estimate.total_pj == pytest.approx(sum(dynamic.values()) + static)
    assert estimate.total_uj == pytest.approx(estimate.total_pj * 1e-6)
    assert estimate.synaptic_operations == sops
    assert estimate.pj_per_sop == pytest.approx(estimate.total_pj / sops)
    assert estimate.dynamic_pj_per_sop == pytest.approx(sum(dynamic.values()) / sops)


@pytest.mark.parametrize("board, clock", [("icebreaker", None), ("icebreaker", 30.0),
                                          ("ulx3s", 100), ("orangecrab", None)])
def test_static_energy_is_power_times_time(net, spikes, board, clock):
    _, config, report = _run(net, spikes)
    estimate = estimate_energy(net, config, report, samples=SAMPLES, steps=STEPS, board=board,
                               clock_mhz=clock, table=ROUND)
    mhz = BOARDS[board].clock_mhz if clock is None else clock
    seconds = report.total / SAMPLES / (mhz * 1e6)
    milliwatts = 5 if board == "icebreaker" else 50     # by device, else by family
    assert estimate.clock_mhz == mhz
    assert estimate.time_us == pytest.approx(seconds * 1e6)
    assert estimate.static_pj == pytest.approx(milliwatts * 1e-3 * seconds * 1e12)


def test_energy_grows_with_activity(net):
    draw = np.random.default_rng(11).random((SAMPLES, STEPS, 12))
    low, high = draw < 0.1, draw < 0.5          # the high-activity trains hold every low spike
    estimates = []
    for spikes in (low, high):
        _, config, report = _run(net, spikes)
        estimates.append(estimate_energy(net, config, report, samples=SAMPLES, steps=STEPS,
                                         board="icebreaker"))
    quiet, busy = estimates
    assert busy.counts.layers[0].events > quiet.counts.layers[0].events
    assert busy.synaptic_operations > quiet.synaptic_operations
    for name in ("queue", "weights", "pointers", "accumulate"):
        assert busy.dynamic_pj[name] > quiet.dynamic_pj[name], name
    assert busy.dynamic_pj["sweep"] == pytest.approx(quiet.dynamic_pj["sweep"])   # T x N
    assert busy.dynamic_total_pj > quiet.dynamic_total_pj
    assert busy.total_pj > quiet.total_pj


def test_default_table_every_board_and_json(net, spikes):
    _, config, report = _run(net, spikes)
    for name in BOARDS:
        estimate = estimate_energy(net, config, report, samples=SAMPLES, steps=STEPS,
                                   board=name)
        assert estimate.static_mw == DEFAULT_TABLE.static_power(name).value > 0
        assert estimate.total_pj > estimate.dynamic_total_pj > 0
        out = json.loads(json.dumps(estimate.to_json()))
        assert out["estimate"] is True and out["board"] == name
        assert out["total_uj"] == pytest.approx(estimate.total_uj)
        assert sum(out["dynamic_pj"].values()) == pytest.approx(estimate.dynamic_total_pj)
        assert [p["name"] for p in out["published"]] == ["ODIN", "Loihi", "TrueNorth"]
        assert len(estimate.comparison()) == 2 + len(PUBLISHED)
    for entry in (DEFAULT_TABLE.memory_read_bit, DEFAULT_TABLE.memory_write_bit,
                  DEFAULT_TABLE.add_bit, DEFAULT_TABLE.compare_bit,
                  DEFAULT_TABLE.multiply_bit2, *DEFAULT_TABLE.static_mw.values()):
        assert entry.value > 0 and entry.citation and entry.figure
    assert DEFAULT_TABLE.memory_read_bit.value == 10 / 64            # Horowitz, 8 KB SRAM
    assert DEFAULT_TABLE.add_bit.value == pytest.approx(0.1 / 32 * 14)
    assert DEFAULT_TABLE.static_mw["iCE40UP5K"].value == pytest.approx(0.12)
    assert {name: p.pj_per_sop for name, p in PUBLISHED.items()} == {
        "ODIN": 12.7, "Loihi": 23.6, "TrueNorth": 26.0}


def test_no_synaptic_operation_gives_no_ratio(net):
    _, config, report = _run(net, np.zeros((1, 2, 12), dtype=bool))
    estimate = estimate_energy(net, config, report, samples=1, steps=2, board="icebreaker")
    assert estimate.synaptic_operations == 0
    assert estimate.pj_per_sop is None and estimate.dynamic_pj_per_sop is None
    assert estimate.total_pj > 0                                  # sweeps and static remain
    json.dumps(estimate.to_json())


def _bad_cases():
    small = reference_network((6, 4), w_bits=4, seed=2, steps=4)
    spikes = np.random.default_rng(0).random((2, 4, 6)) < 0.4
    result = simulate(small, spikes)
    config = HardwareConfig.uniform(small, lanes=2)
    report = cycle_model(small, result, config)
    two = reference_network((6, 4, 3), w_bits=4, seed=2, steps=4)
    config2 = HardwareConfig.uniform(two, lanes=2)
    report2 = cycle_model(two, simulate(two, spikes), config2)
    ok = dict(network=small, config=config, report=report, samples=2, steps=4,
              board="icebreaker")
    return [
        (dict(ok, network="net"), TypeError, "network"),
        (dict(ok, config=None), TypeError, "config"),
        (dict(ok, report=result), TypeError, "report"),
        (dict(ok, samples=0), ValueError, r"samples = 0 .*\[1, "),
        (dict(ok, samples=2.0), TypeError, "samples"),
        (dict(ok, samples=3), ValueError, "samples = 3 .*allowed: 2"),
        (dict(ok, steps=0), ValueError, r"steps = 0 .*\[1, "),
        (dict(ok, clock_mhz=-12), ValueError, r"clock_mhz = -12 .*\(0, "),
        (dict(ok, clock_mhz=0), ValueError, "clock_mhz"),
        (dict(ok, clock_mhz="fast"), TypeError, "clock_mhz"),
        (dict(ok, board="arty"), ValueError, "unknown board 'arty'; known boards"),
        (dict(ok, board=7), TypeError, "board"),
        (dict(ok, table={}), TypeError, "table"),
        (dict(ok, report=report2), ValueError, "report has 2 layers, the network 1"),
        (dict(ok, config=config2), ValueError, "configuration has 2 layers"),
        (dict(ok, table=EnergyTable.from_values(
            memory_read_bit=1, memory_write_bit=1, add_bit=1, compare_bit=1,
            multiply_bit2=1, static_mw={"LFE5U-85F": 1})), ValueError,
         "board 'icebreaker'.*iCE40UP5K.*'LFE5U-85F'"),
    ]


@pytest.mark.parametrize("kwargs, error, match", _bad_cases())
def test_bad_input_names_the_argument(kwargs, error, match):
    kwargs = dict(kwargs)
    args = [kwargs.pop(name) for name in ("network", "config", "report")]
    with pytest.raises(error, match=match):
        estimate_energy(*args, **kwargs)


def test_bad_table_values():
    with pytest.raises(ValueError, match=r"memory_read_bit = -1 .*\[0, inf\]"):
        EnergyTable.from_values(memory_read_bit=-1, memory_write_bit=1, add_bit=1,
                                compare_bit=1, multiply_bit2=1, static_mw={"ice40": 1})
    with pytest.raises(ValueError, match=r"static_mw\['ice40'\] = -2"):
        EnergyTable.from_values(memory_read_bit=1, memory_write_bit=1, add_bit=1,
                                compare_bit=1, multiply_bit2=1, static_mw={"ice40": -2})
    with pytest.raises(TypeError, match="static_mw"):
        EnergyTable.from_values(memory_read_bit=1, memory_write_bit=1, add_bit=1,
                                compare_bit=1, multiply_bit2=1, static_mw=3)
    with pytest.raises(TypeError, match="add_bit"):
        EnergyTable(DEFAULT_TABLE.memory_read_bit, DEFAULT_TABLE.memory_write_bit, 0.1,
                    DEFAULT_TABLE.compare_bit, DEFAULT_TABLE.multiply_bit2,
                    DEFAULT_TABLE.static_mw)


def test_example_figures_are_finite():
    """The reference network at a realistic activity: pJ/SOP in a plausible band (an
    estimate; this only guards against unit slips of orders of magnitude)."""
    net = reference_network((64, 32, 10), density=0.5, w_bits=8, seed=1, steps=16)
    spikes = np.random.default_rng(0).random((4, 16, 64)) < 0.1
    _, config, report = _run(net, spikes, lanes=8)
    estimate = estimate_energy(net, config, report, samples=4, steps=16, board="icebreaker")
    sops = report.layers[0].synaptic_updates / 4 + report.layers[1].synaptic_updates / 4
    assert estimate.synaptic_operations == pytest.approx(sops)
    assert estimate.dynamic_pj_per_sop == pytest.approx(
        sum(estimate.dynamic_pj.values()) / sops)
    assert estimate.pj_per_sop == pytest.approx(
        (sum(estimate.dynamic_pj.values()) + estimate.static_pj) / sops)
    # Per-bit energies of 0.04-0.16 pJ on 8-bit weights and ~10-bit sums: a few pJ per
    # operation, not fJ or nJ (a unit slip would move it by 1000x).
    assert 1 < estimate.dynamic_pj_per_sop < 100
