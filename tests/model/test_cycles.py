"""Cycle model: hand-computed timelines, the one-layer closed form, and invariants."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.model import (FORMATS, HardwareConfig, Layer, LayerConfig, Network, Timing,
                              reference_network,
                              compile_weights, cycle_model, lower_bound, simulate,
                              single_layer_cycles)
from spikefab.model.events import event_stream


def test_one_layer_timeline_by_hand():
    # N = 3, fan-in 2, P = 2 (rows = 2), csc: column 0 has 2 words, column 1 has 1 word.
    # theta = 2: step 0 (inputs 0 and 1) gives I = [1, -2, 3] -> neuron 2 (row 1) fires;
    # step 1 (input 1) gives no spike. Default timing: queue 1, drain 2, sweep 3, readout 1.
    #   pop SPIKE(0) at 1, busy 2            -> 3
    #   SPIKE(1) 1                           -> 4
    #   STEP: chunks (S = P = 2) from 6; chunk 0 silent (6); chunk 1 issued 7 pushes its
    #         spike at 10; the marker issues at 8 (one item held, emit_depth 4) -> free 9;
    #         the emitter pushes it at 11
    #   SPIKE(1) 1                           -> 10
    #   STEP: chunks 12, 13; marker issued 14 -> free 15 (pushed 17)
    #   SAMPLE: drain to 17, clear chunks 17, 18; marker issued 19, pushed 22; result at 23
    layer = Layer(np.array([[1, 0], [0, -2], [3, 0]]), theta=2, w_bits=4, v_bits=8)
    net = Network([layer])
    result = simulate(net, np.array([[1, 1], [0, 1]]))
    assert result.spikes[0].astype(int).tolist() == [[0, 0, 1], [0, 0, 0]]
    report = cycle_model(net, result, HardwareConfig.uniform(net, lanes=2, format="csc"))
    assert report.total == 23
    assert report.latency.tolist() == [23]
    stats = report.layers[0]
    assert (stats.events, stats.words, stats.synaptic_updates, stats.stall) == (3, 4, 4, 0)
    assert stats.busy == 19            # every cycle from the first pop to the last marker's issue
    # Lower bound: step 0 reaches 3 synapses -> ceil(3/2) + 2 = 4; step 1: 1 -> 1 + 2 = 3
    assert report.lower_bound == 7
    image = compile_weights(layer, 2, "csc")
    assert single_layer_cycles(layer, image, result.inputs, result.spikes[0]) == 23


def test_back_pressure_timeline_by_hand():
    # Input 1 -> layer 1 (4 neurons, P = 4, all fire on the input) -> layer 2 (4 neurons,
    # P = 1: 4 words per column, never fires). Queue 2 has depth 2.
    #   core 1: SPIKE(0) popped 1 -> 2; STEP popped 2, chunk 0 issued 4 pushes 4 spikes from 7:
    #           #0 at 7, #1 at 8, #2 at 9 (core 2 popped #0 at 8), #3 waits for the pop of #1
    #           at 12 -> 13 (3 stall cycles). The marker, issued at 5 (free 6), wants 14
    #           (after #3), waits for the pop of #2 at 16 -> 17 (3 stalls). SAMPLE popped 6,
    #           drains to 8, clears chunk 8, marker issued 9 wants 18 (after the STEP marker),
    #           waits for the pop of #3 at 20 -> 21 (3 stalls).
    #   core 2: #0 at 8 -> 12, #1 -> 16, #2 -> 20, #3 -> 24; STEP at 24: chunks 26..29, marker
    #           issued 30 (pushed 33) -> free 31; SAMPLE at 31: drain to 33, clear 33..36,
    #           marker issued 37 pushed 40, result 41.
    net = Network([Layer(np.full((4, 1), 5), theta=4, w_bits=4, v_bits=8),
                   Layer(np.full((4, 4), 5), theta=100, w_bits=4, v_bits=10)])
    result = simulate(net, np.array([[1]]))
    assert result.spikes[0].tolist() == [[True] * 4]
    shallow = cycle_model(net, result, HardwareConfig(
        (LayerConfig(4, "csc", 16), LayerConfig(1, "csc", 2))))
    assert shallow.total == 41
    assert [s.stall for s in shallow.layers] == [9, 0]
    deep = cycle_model(net, result, HardwareConfig(
        (LayerConfig(4, "csc", 16), LayerConfig(1, "csc", 16))))
    assert deep.total == 41
    assert [s.stall for s in deep.layers] == [0, 0]


def test_dense_baseline_by_hand():
    # Same one-layer network as the first test, dense baseline, P = 2 (rows = 2, fan-in 2):
    #   SPIKE latches at 1 and 2 -> 3; STEP at 3 streams 2 columns x 2 words, drains 2 -> chunks
    #   from 9: silent (9), spiking (10, push 13), marker issued 11 -> free 12; SPIKE 12 -> 13;
    #   STEP at 13: streams to 17, chunks from 19, marker issued 21 -> 22; SAMPLE at 22:
    #   drain to 24, chunks 24, 25, marker issued 26 pushed 29, result 30.
    layer = Layer(np.array([[1, 0], [0, -2], [3, 0]]), theta=2, w_bits=4, v_bits=8)
    net = Network([layer])
    result = simulate(net, np.array([[1, 1], [0, 1]]))
    report = cycle_model(net, result, HardwareConfig.uniform(net, lanes=2, mode="dense"))
    assert report.total == 30
    image = compile_weights(layer, 2, "dense")
    assert single_layer_cycles(layer, image, result.inputs, result.spikes[0], dense=True) == 30


@st.composite
def one_layer_cases(draw):
    n, fan_in = draw(st.integers(1, 24)), draw(st.integers(1, 16))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    weights = rng.integers(-8, 8, size=(n, fan_in))
    weights[rng.random(weights.shape) >= draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))] = 0
    layer = Layer(weights, theta=draw(st.integers(1, 12)), w_bits=4, v_bits=10,
                  reset=draw(st.sampled_from(["subtract", "zero"])))
    steps, batch = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    trains = rng.random((batch, steps, fan_in)) < draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    lanes = min(n, draw(st.sampled_from([1, 2, 3, 4, 8])))
    timing = Timing(queue_latency=draw(st.integers(1, 3)), drain=draw(st.integers(0, 4)),
                    sweep_latency=draw(st.integers(1, 3)), readout_latency=draw(st.integers(0, 2)),
                    emit_depth=draw(st.integers(1, 5)))
    sweep = draw(st.sampled_from([d for d in range(1, lanes + 1) if lanes % d == 0]))
    return layer, trains, lanes, sweep, timing, draw(st.integers(timing.queue_latency + 1, 8))


@settings(max_examples=150, deadline=None)
@given(one_layer_cases(), st.sampled_from(FORMATS + ("baseline",)))
def test_one_layer_model_equals_closed_form(case, fmt):
    layer, trains, lanes, sweep, timing, depth = case
    net = Network([layer])
    result = simulate(net, trains)
    dense = fmt == "baseline"
    config = HardwareConfig.uniform(net, lanes=lanes, format="dense" if dense else fmt,
                                    queue_depth=depth, mode="dense" if dense else "sparse",
                                    timing=timing, sweep_lanes=sweep)
    assert config.layers[0].sweep_lanes == sweep
    image = compile_weights(layer, lanes, "dense" if dense else fmt)
    singles = [single_layer_cycles(layer, image, trains[b], result.spikes[0][b], timing, dense,
                                   sweep_lanes=sweep)
               for b in range(len(trains))]
    for b in range(len(trains)):
        alone = cycle_model(net, simulate(net, trains[b]), config)
        assert alone.total == singles[b]
        assert alone.layers[0].stall == 0
    # Back to back: the stepped machine again, and the core never idles from its first pop
    # to its last marker's issue (busy is that span; the emitter's tail and the readout
    # follow).
    report = cycle_model(net, result, config)
    assert report.total == single_layer_cycles(layer, image, trains, result.spikes[0], timing,
                                               dense, sweep_lanes=sweep)
    assert report.total <= sum(singles)
    tail = timing.sweep_latency + timing.readout_latency
    assert report.layers[0].busy <= report.total - timing.queue_latency - tail + 1
    assert report.layers[0].lower_bound <= report.layers[0].busy


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 31), st.sampled_from(FORMATS), st.sampled_from([2, 3, 8, 1 << 16]))
def test_pipeline_invariants(seed, fmt, depth):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, 20)) for _ in range(int(rng.integers(2, 4)) + 1)]
    layers = []
    for fan_in, n in zip(sizes, sizes[1:]):
        w = rng.integers(-8, 8, size=(n, fan_in))
        w[rng.random(w.shape) < 0.5] = 0
        layers.append(Layer(w, theta=int(rng.integers(1, 8)), w_bits=4, v_bits=10))
    net = Network(layers)
    result = simulate(net, rng.random((2, 5, sizes[0])) < 0.4)
    config = HardwareConfig.uniform(net, lanes=int(rng.integers(1, 5)), format=fmt,
                                    queue_depth=depth)
    report = cycle_model(net, result, config)
    assert report.total >= max(s.busy for s in report.layers)
    assert report.total >= report.pipeline_bound
    for index, stats in enumerate(report.layers):
        assert stats.events == int(result.layer_inputs(index).sum())
        assert stats.lower_bound <= stats.busy
    if depth == 1 << 16:
        assert all(s.stall == 0 for s in report.layers)
    if fmt == "dense":   # the baseline streams every column, the sparse core only active ones
        dense = cycle_model(net, result, HardwareConfig.uniform(
            net, lanes=[c.lanes for c in config.layers], mode="dense", queue_depth=depth))
        assert dense.layers[0].busy >= report.layers[0].busy


def test_sweep_overlaps_emission_by_hand():
    # 8 neurons, fan-in 1, P = 8, S = 2 (4 chunks). Input 0 makes neurons 0, 1, 2 fire
    # (chunks 0 and 1 hold 2 and 1 spikes). SPIKE(0) popped 1 -> 2; STEP popped 2: chunks
    # issue 4, 5, 6, 7 (at most 3 items held); chunk 0 pushes 7, 8; chunk 1 pushes 9; marker
    # issued 8 -> free 9 (pushed 11); SAMPLE popped 9: drain to 11, chunks 11..14, marker 15
    # pushed 18, result 19.
    layer = Layer(np.array([[5], [5], [5], [0], [0], [0], [0], [0]]), theta=4, w_bits=4,
                  v_bits=8)
    net = Network([layer])
    result = simulate(net, np.array([[1]]))
    config = HardwareConfig.uniform(net, lanes=8, sweep_lanes=2)
    assert cycle_model(net, result, config).total == 19
    # emit_depth 1: nothing issues while an item is held. Chunk 1 waits for chunk 0's last
    # push (8), issues at 9 and pushes at 12; silent chunk 2 issues at 13 and is held at 14
    # (its silence known only then), so chunk 3 issues at 15 and the marker at 17 -> free
    # 18 (pushed 20, held until then); SAMPLE popped 18: chunks 21, 23, 25, 27, marker 29
    # pushed 32, result 33.
    narrow = HardwareConfig.uniform(net, lanes=8, sweep_lanes=2, timing=Timing(emit_depth=1))
    assert cycle_model(net, result, narrow).total == 33
    image = compile_weights(layer, 8, "csc")
    assert single_layer_cycles(layer, image, result.inputs, result.spikes[0],
                               Timing(emit_depth=1), sweep_lanes=2) == 33


def test_sweep_lanes_rules():
    net = Network([Layer(np.ones((12, 2), dtype=int), theta=1, w_bits=2, v_bits=4)])
    config = HardwareConfig.uniform(net, lanes=12, sweep_lanes=5)
    assert config.layers[0].sweep_lanes == 4          # the largest divisor of 12 up to 5
    assert config.layers[0].chunks(12) == 3
    assert HardwareConfig.uniform(net, lanes=12).layers[0].sweep_lanes == 12
    with pytest.raises(ValueError, match=r"sweep_lanes = 5 must divide lanes = 12 \(allowed: "
                                         r"1, 2, 3, 4, 6, 12\)"):
        LayerConfig(lanes=12, sweep_lanes=5)
    with pytest.raises(ValueError, match=r"sweep_lanes = 13 is out of range; allowed range is "
                                         r"\[1, 12\]"):
        LayerConfig(lanes=12, sweep_lanes=13)


def test_lower_bound_by_hand():
    # W: column nnz [2, 1]; P = 2, rows = 2. Step inputs [1,1] -> ceil(3/2)+2 = 4; [0,1] -> 3.
    layer = Layer(np.array([[1, 0], [0, -2], [3, 0]]), theta=2, w_bits=4, v_bits=8)
    net = Network([layer])
    result = simulate(net, np.array([[1, 1], [0, 1], [0, 0]]))
    bounds = lower_bound(net, result, HardwareConfig.uniform(net, lanes=2))
    assert bounds[0].tolist() == [[4, 3, 2]]


@pytest.mark.parametrize("make, error, message", [
    (lambda: LayerConfig(lanes=0), ValueError, r"lanes = 0 is out of range; allowed range is \[1, 65536\]"),
    (lambda: LayerConfig(format="coo"), ValueError, "format = 'coo' is not allowed"),
    (lambda: LayerConfig(queue_depth=1), ValueError, r"queue_depth = 1 .*\[2, 65536\]"),
    (lambda: HardwareConfig((LayerConfig(),), mode="fast"), ValueError, "mode = 'fast' is not allowed; choose one of sparse, dense"),
    (lambda: HardwareConfig((LayerConfig(format="csc"),), mode="dense"), ValueError, "needs format 'dense'"),
    (lambda: HardwareConfig(()), TypeError, "non-empty sequence of LayerConfig"),
    (lambda: Timing(queue_latency=0), ValueError, r"queue_latency = 0 .*\[1, 64\]"),
    (lambda: Timing(drain=-1), ValueError, r"timing.drain = -1 .*\[0, 64\]"),
    (lambda: Timing(sweep_latency=0), ValueError, r"timing.sweep_latency = 0 .*\[1, 64\]"),
    (lambda: Timing(emit_depth=0), ValueError, r"timing.emit_depth = 0 .*\[1, 64\]"),
    (lambda: HardwareConfig.uniform(reference_network(), lanes="8"), TypeError,
     r"lanes must be an integer in \[1, 65536\], not '8'"),
    (lambda: HardwareConfig.uniform(reference_network(), lanes=[2, "a"]), TypeError,
     r"lanes must be an integer in \[1, 65536\], not 'a'"),
    (lambda: HardwareConfig.uniform("net.npz"), TypeError,
     r"network must be a spikefab.model.Network, not str"),
])
def test_config_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_config_must_fit_network():
    net = Network([Layer(np.ones((3, 2), dtype=int), theta=1, w_bits=2, v_bits=4)])
    result = simulate(net, np.ones((1, 2)))
    with pytest.raises(ValueError, match=r"layers\[0\].lanes = 4 is out of range; allowed range is \[1, 3\]"):
        cycle_model(net, result, HardwareConfig((LayerConfig(lanes=4),)))
    with pytest.raises(ValueError, match="the hardware configuration has 2 layers, the network 1"):
        cycle_model(net, result, HardwareConfig((LayerConfig(), LayerConfig())))
    assert HardwareConfig.uniform(net, lanes=8).layers[0].lanes == 3   # capped at N


# --- the input schedule (a host link's EVENTS frames) ------------------------------------------

def _schedule_case():
    net = reference_network((12, 8, 3), w_bits=4, seed=5)
    rng = np.random.default_rng(5)
    trains = rng.random((2, 5, 12)) < 0.4
    return net, simulate(net, trains), HardwareConfig.uniform(net, lanes=2, queue_depth=64)


def test_the_default_schedule_is_one_frame_from_cycle_0_one_event_per_cycle():
    net, result, config = _schedule_case()
    events = len(event_stream(np.asarray(result.inputs)))
    default = cycle_model(net, result, config)
    explicit = cycle_model(net, result, config, frames=[(0, events)], interval=1)
    assert default.finish.tolist() == explicit.finish.tolist()
    # With a deep queue nothing waits: event i goes in at cycle i.
    assert default.input_push.tolist() == list(range(events))


def test_frames_and_interval_set_when_each_input_event_goes_in():
    net, result, config = _schedule_case()
    events = len(event_stream(np.asarray(result.inputs)))
    first = events // 2
    frames = [(10, first), (500, events - first)]
    report = cycle_model(net, result, config, frames=frames, interval=4)
    expected = [10 + 4 * i for i in range(first)] + [500 + 4 * i for i in range(events - first)]
    assert report.input_push.tolist() == expected             # deep queues: never held back
    # A later feed can only delay the results, never change what is computed.
    assert all(report.finish >= cycle_model(net, result, config).finish)
    assert report.finish[-1] > 500 + 4 * (events - first - 1)


def test_a_slow_feed_behind_a_full_queue_waits_for_room():
    net, result, _ = _schedule_case()
    tight = HardwareConfig.uniform(net, lanes=1, queue_depth=2)
    report = cycle_model(net, result, tight, interval=1)
    pushes = report.input_push
    assert np.all(np.diff(pushes) >= 1) and pushes[-1] > len(pushes) - 1   # held back at times


@pytest.mark.parametrize("frames, interval, error, message", [
    ([(0, 1)], 1, ValueError, "the frames carry 1 events; the input spike trains have"),
    ([(-1, 0)], 1, ValueError, "start cycles and event counts >= 0"),
    ("abc", 1, TypeError, r"frames must be a list of \(start cycle, event count\) or"),
    ([(0, 1, 2, 3)], 1, TypeError, r"frames must be a list of \(start cycle, event count\) or"),
    ([(0, 2, [0])], 1, ValueError, r"a frame of 2 events needs 2 delays >= 0, not \[0\]"),
    ([(0, 1, [-1])], 1, ValueError, r"a frame of 1 events needs 1 delays >= 0"),
    (None, 0, ValueError, r"interval = 0 is out of range; allowed range is \[1, 1048576\]"),
])
def test_bad_schedules_are_refused(frames, interval, error, message):
    net, result, config = _schedule_case()
    with pytest.raises(error, match=message):
        cycle_model(net, result, config, frames=frames, interval=interval)
