"""The host driver against the simulated board top (HostLink) through a simulated UART:
identification, inference and run-time loading checked against the golden model, and every
kind of malformed request answered with an error that leaves the device responsive and
unchanged."""

import struct

import numpy as np
import pytest

from spikefab.boards.host import Device, DeviceError
from spikefab.boards.link import HostLink
from spikefab.boards.protocol import (REQUEST_SYNC, SPIKES_SAMPLE, Command, Identity,
                                      ProtocolError, Status, crc8, encode_event, encode_request)
from spikefab.boards.simulated import SimulatedSerial
from spikefab.boards.top import BoardTop
from spikefab.hw.verilog import convert
from spikefab.model import (HardwareConfig, Layer, Network, cycle_model, simulate)
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream


def network(seed, fmt="csc"):
    rng = np.random.default_rng(seed)
    w1 = rng.integers(-8, 8, size=(6, 5))
    w1[rng.random(w1.shape) < 0.4] = 0
    w2 = rng.integers(-8, 8, size=(3, 6))
    net = Network([Layer(w1, theta=4, w_bits=4, v_bits=8, leak="shift", k=2),
                   Layer(w2, theta=3, w_bits=4, v_bits=8, timing="delayed")])
    return net, HardwareConfig.uniform(net, lanes=2, format=fmt, queue_depth=4)


@pytest.fixture(scope="module")
def board():
    net, config = network(0)
    link = HostLink(net, config, divisor=4, timeout=200, max_steps=15, capacity=[40, 40])
    port = SimulatedSerial(link)
    return net, config, link, port, Device(port)


def raw(port, data):
    """Send raw bytes and return the device's reply (status, command, payload)."""
    port.write(data)
    return Device(port, reset=False)._reply()


def test_identify(board):
    net, config, link, port, device = board
    ident = device.identify()
    assert ident == link.identity
    assert ident.shape == (5, 6, 3) and ident.lanes == (2, 2) and ident.formats == ("csc", "csc")
    assert Identity.decode(ident.encode()) == ident
    device.check(net, config)


def test_inference_matches_golden(board):
    net, config, link, port, device = board
    trains = np.random.default_rng(1).random((3, 4, 5)) < 0.5
    before = device.counters()
    results = device.infer(trains)
    golden = simulate(net, trains)
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    after = device.counters()
    report = cycle_model(net, golden, config)
    for layer, (a, b) in enumerate(zip(before["layers"], after["layers"])):
        for name in ("events", "words", "synaptic_updates"):
            assert b[name] - a[name] == getattr(report.layers[layer], name), (layer, name)
    assert after["idle"] and not after["error"]


def test_run_time_load_replaces_the_weights(board):
    net, config, link, port, device = board
    rng = np.random.default_rng(9)
    new = Network([layer.replace(weights=rng.integers(-8, 8, size=layer.weights.shape))
                   for layer in net])
    trains = rng.random((2, 4, 5)) < 0.6
    assert device.load(new) > 0
    results = device.infer(trains)
    assert [list(r.counts) for r in results] == simulate(new, trains).counts.tolist()
    device.load(net)                                     # and back
    results = device.infer(trains)
    assert [list(r.counts) for r in results] == simulate(net, trains).counts.tolist()


def test_malformed_requests_get_errors_and_change_nothing(board):
    net, config, link, port, device = board
    trains = np.random.default_rng(2).random((1, 3, 5)) < 0.5
    expected = simulate(net, trains).counts.tolist()

    good = encode_request(Command.IDENTIFY)
    bad_crc = good[:-1] + bytes([good[-1] ^ 0x40])
    assert raw(port, bad_crc)[0] == Status.BAD_CRC
    assert raw(port, encode_request(0x7E))[0:2] == (Status.BAD_COMMAND, 0x7E)
    assert raw(port, b"\x00\x13\x37" + good)[0] == Status.OK         # noise before sync
    assert raw(port, encode_request(Command.IDENTIFY, b"\x01"))[0] == Status.BAD_ARGUMENT
    # Too long: refused at once; the rest of the frame is skipped until the line is quiet.
    too_long = bytes([REQUEST_SYNC, Command.EVENTS]) + struct.pack("<H", 600) + bytes(600)
    assert raw(port, too_long)[0] == Status.BAD_LENGTH
    port.idle(0.03)              # the rest of the 600 bytes (40 cycles each), then quiet
    # Truncated: half a frame, then silence.
    frame = encode_request(Command.EVENTS, encode_event(SPIKE, 1) * 4)
    assert raw(port, frame[:7])[0] == Status.TIMEOUT
    # An EVENTS frame with one bad event in the middle: nothing is pushed.
    events = (encode_event(SPIKE, 0) + encode_event(SPIKE, 5) + encode_event(STEP, 0)
              + encode_event(SAMPLE, 0))                           # input 5 does not exist
    before = device.counters()
    assert raw(port, encode_request(Command.EVENTS, events))[0] == Status.BAD_ARGUMENT
    assert raw(port, encode_request(Command.EVENTS, events[:-1]))[0] == Status.BAD_ARGUMENT
    assert raw(port, encode_request(Command.EVENTS, struct.pack("<H", 3 << 14)))[0] == \
        Status.BAD_ARGUMENT                                          # kind 3
    assert device.counters() == before
    # LOAD outside the memory, with a wrong length, for a memory csc does not have.
    for body in (struct.pack("<BBHH", 0, 2, 39, 2) + bytes(4),      # addr + count > 40
                 struct.pack("<BBHH", 0, 2, 0, 2) + bytes(3),       # 2 words need 4 bytes
                 struct.pack("<BBHH", 0, 1, 0, 1) + bytes(1),       # no bitmap memory
                 struct.pack("<BBHH", 2, 2, 0, 1) + bytes(2),       # no layer 2
                 b"\x00\x02"):                                       # no header
        assert raw(port, encode_request(Command.LOAD, body))[0] == Status.BAD_ARGUMENT
    assert raw(port, encode_request(Command.RESULT))[0] == Status.EMPTY
    # Still responsive, and still computing exactly the same.
    assert [list(r.counts) for r in device.infer(trains)] == expected


def test_load_while_busy_is_refused(board):
    net, config, link, port, device = board
    device.send_events([(SPIKE, 1), (STEP, 0), (SAMPLE, 0)])           # result left unread
    with pytest.raises(DeviceError, match="LOAD failed: BUSY"):
        device.load(net)
    assert device.result().counts is not None
    device.load(net)


@pytest.mark.parametrize("position, expected", [(1, Status.BAD_CRC), (3, Status.TIMEOUT)])
def test_driver_retries_a_corrupted_request(board, position, expected):
    # Flipping the command byte breaks the CRC; flipping the length's high byte makes the
    # device wait for 256 more bytes that never come. Either way it acts on nothing and the
    # driver sends the request again.
    net, config, link, port, device = board
    seen = []
    original = device._reply

    def spy():
        reply = original()
        seen.append(reply[0])
        return reply

    flips = [True]

    def corrupt_once(data):
        if flips:
            flips.pop()
            return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]
        return data

    port.corrupt, device._reply = corrupt_once, spy
    try:
        assert device.identify() == link.identity
    finally:
        port.corrupt, device._reply = None, original
    assert seen == [expected, Status.OK]


def test_driver_checks_the_network(board):
    net, config, link, port, device = board
    other, _ = network(0)
    with pytest.raises(ValueError, match="built for a 5-6-3 network, not 5-7-3"):
        device.check(Network([Layer(np.ones((7, 5), int), theta=1, w_bits=2, v_bits=4),
                              Layer(np.ones((3, 7), int), theta=1, w_bits=2, v_bits=4)]))
    with pytest.raises(ValueError, match="layer 1's neuron parameters or bias differ"):
        device.check(Network([other[0].replace(theta=5), other[1]]))
    with pytest.raises(ValueError, match=r"lanes \(2, 2\) and formats"):
        device.check(net, HardwareConfig.uniform(net, lanes=3))


def test_link_converts_to_verilog_and_the_board_top_elaborates():
    # Verilog conversion catches driver conflicts the simulator misses (the link drives the
    # accelerator's reset, event stream and result ready from several states).
    net, config = network(0)
    text = convert(HostLink(net, config, divisor=4, capacity=[40, 40]), "link")
    assert "module link" in text and "reset_accelerator" in text
    icebreaker = pytest.importorskip("amaranth_boards.icebreaker")
    plan = icebreaker.ICEBreakerPlatform().prepare(BoardTop(net, config))
    assert "top.il" in plan.files


def test_reply_crc_is_checked():
    class Port:
        timeout = 0.1

        def __init__(self, data):
            self.data = bytearray(data)

        def write(self, data):
            return len(data)

        def read(self, n):
            out, self.data = bytes(self.data[:n]), self.data[n:]
            return out

    body = bytes([Status.OK, Command.IDENTIFY, 0, 0])
    with pytest.raises(ProtocolError, match="bad CRC"):
        Device(Port(b"\x5a" + body + bytes([crc8(body) ^ 1])), retries=0,
               reset=False).identify()
    with pytest.raises(ProtocolError, match="no reply from the device"):
        Device(Port(b""), retries=0, reset=False).identify()


def test_a_lost_reply_is_resent_only_when_a_second_copy_is_harmless():
    """A corrupted reply to IDENTIFY is answered by a resend; to EVENTS or RESULT it is not
    (the device may have pushed the spikes or handed out the result: a resend would duplicate
    spikes or lose a result) and the driver says what to do."""
    class Port:
        """Answers every request with a reply whose CRC is wrong."""
        timeout = 0.1

        def __init__(self):
            self.writes, self.pending = 0, bytearray()

        def write(self, data):
            self.writes += 1
            body = bytes([Status.OK, data[1], 0, 0])
            self.pending += b"\x5a" + body + bytes([crc8(body) ^ 1])
            return len(data)

        def read(self, n):
            out, self.pending = bytes(self.pending[:n]), self.pending[n:]
            return out

    for command, payload, resent in ((Command.IDENTIFY, b"", True),
                                     (Command.COUNTERS, b"", True),
                                     (Command.EVENTS, encode_event(STEP, 0), False),
                                     (Command.RESULT, b"", False)):
        port = Port()
        device = Device(port, retries=2, reset=False)
        with pytest.raises(ProtocolError,
                           match="bad CRC" if resent else "so it is not sent again"):
            device.request(command, payload)
        assert port.writes == (3 if resent else 1), command


def test_identity_holds_every_lane_count_the_generator_accepts(board):
    """Up to 256 PEs per layer (the PE array's limit): the block keeps lanes in 16 bits."""
    import dataclasses
    net, config, link, port, device = board
    wide = dataclasses.replace(link.identity, lanes=(256, 1))
    assert Identity.decode(wide.encode()) == wide


def test_configurations_the_protocol_cannot_load_are_refused_up_front():
    """LOAD addresses words with a u16 and frames hold whole words of at most 255 bytes: a
    784-128-10 network on one dense lane (100,352 words) and 256 lanes of 16-bit weights
    (512-byte words) are refused when the link is built, naming the layer and what to change."""
    deep = Network([Layer(np.ones((128, 784), int), theta=5, w_bits=4, v_bits=12),
                    Layer(np.ones((10, 128), int), theta=5, w_bits=4, v_bits=12)])
    with pytest.raises(ValueError, match=r"layer 1's weights memory needs 100352 words; the "
                                         r"host link addresses at most 65535 words per memory"):
        HostLink(deep, HardwareConfig.uniform(deep, lanes=1, format="dense"), divisor=4)
    wide = Network([Layer(np.ones((256, 2), int), theta=5, w_bits=16, v_bits=20)])
    with pytest.raises(ValueError, match=r"layer 1's weights words are 512 bytes wide; the host "
                                         r"link loads words of at most 255 bytes"):
        HostLink(wide, HardwareConfig.uniform(wide, lanes=256, format="dense"), divisor=4)


def test_runtime_weight_store_computes_only_what_was_loaded():
    # The SPRAM-mappable weight store (no initial contents, one address): before LOAD the
    # weights read zero (nothing fires: counts all zero); after LOAD the device equals golden.
    net, config = network(3, fmt="dense")
    link = HostLink(net, config, divisor=4, timeout=200, max_steps=15,
                    runtime_weights=[True, True])
    device = Device(SimulatedSerial(link))
    trains = np.random.default_rng(4).random((2, 4, 5)) < 0.7
    golden = simulate(net, trains)
    assert golden.counts.any()
    blank = device.infer(trains)
    assert all(not any(r.counts) for r in blank)
    device.load(net)
    results = device.infer(trains)
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    assert [r.cls for r in results] == golden.predicted.tolist()


def test_a_conv_layer_on_the_convolution_core_through_the_host_link():
    """A conv layer with format kernel (hw/conv_core.py) behind the UART: the identity names
    format kernel and no loadable memory, LOAD frames go only to the fully connected layer, and
    inference equals the golden model."""
    from spikefab.model.conv import Conv2dGeometry, ConvLayer
    rng = np.random.default_rng(7)
    conv = ConvLayer(kernel=rng.integers(-1, 6, (3, 1, 3, 3)),
                     geometry=Conv2dGeometry(1, 4, 4, 3, kernel=3, padding=1), theta=6,
                     w_bits=4, v_bits=9)
    net = Network([conv, Layer(rng.integers(-2, 8, (3, conv.neurons)), theta=8, w_bits=4,
                               v_bits=10)])
    config = HardwareConfig.uniform(net, lanes=2, format="csc", queue_depth=4)
    assert [c.format for c in config.layers] == ["kernel", "csc"]
    link = HostLink(net, config, divisor=4, timeout=200, max_steps=15)
    device = Device(SimulatedSerial(link))
    ident = device.identify()
    assert ident.formats == ("kernel", "csc") and ident.memories[0] == ((0, 0),) * 3
    assert Identity.decode(ident.encode()) == ident
    device.check(net, config)
    loaded = device.load(net)
    assert loaded >= 1                      # the fully connected layer's words only
    trains = rng.random((2, 4, 16)) < 0.4
    results = device.infer(trains)
    golden = simulate(net, trains)
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert np.array_equal([r.counts for r in results], golden.counts)


def test_early_exit_through_the_host_link():
    # Protocol version 3: the identity names the rule and T, RESULT ends with the steps the
    # sample ran, COUNTERS has each layer's dropped events. The driver sends a whole sample
    # before reading its result; the readout takes an exited sample's later events even
    # while its result waits, so this never stalls behind the early result.
    net, config = network(0)
    steps = 15
    link = HostLink(net, config, divisor=4, timeout=200, max_steps=steps, exit=("margin", 2),
                    steps=steps)
    device = Device(SimulatedSerial(link))
    ident = device.identify()
    assert (ident.exit, ident.exit_margin, ident.exit_steps) == ("margin", 2, steps)
    assert Identity.decode(ident.encode()) == ident
    trains = np.random.default_rng(1).random((3, steps, 5)) < 0.7
    golden = simulate(net, trains, exit=("margin", 2))
    assert golden.ran.min() < steps                  # an early exit happens
    results = device.infer(trains)
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    assert [r.steps for r in results] == golden.ran.tolist()
    counters = device.counters()
    assert counters["layers"][0]["dropped"] > 0 and counters["idle"]
    assert not counters["error"]
    # INFER after the result was read before its SAMPLE: no result is due, EMPTY at once.
    exits = int(np.argmin(golden.ran))
    events = event_stream(trains[exits:exits + 1])
    device.send_events(events[:-1])                       # all but the SAMPLE
    early = device.result()
    assert (early.cls, early.steps) == (int(golden.predicted[exits]), int(golden.ran[exits]))
    assert raw(device.port, encode_request(Command.INFER, bytes([SPIKES_SAMPLE])))[0] == \
        Status.EMPTY
    assert device.counters()["idle"]


def test_a_neuron_placement_is_fixed_by_the_build_and_checked_by_load():
    """A balanced placement (docs/design.md §3, §9) behind the UART with run-time loaded
    weight stores: the identity's neuron fingerprint covers the placement, ``load`` finds the
    balanced one, refuses the identity by name, and the device then equals the golden model
    (counts in the user's order, the lowest-index tie rule) and the cycle model's counters."""
    rng = np.random.default_rng(11)
    w1 = rng.integers(1, 8, size=(6, 5)) * (rng.random((6, 5)) < 0.3)
    w1[[0, 2, 4]] = rng.integers(1, 8, size=(3, 5))        # the identity's lane 0 gets them all
    net = Network([Layer(w1, theta=4, w_bits=4, v_bits=8, bias=[0, 1, 0, 0, 2, 0]),
                   Layer(rng.integers(-2, 8, size=(3, 6)), theta=3, w_bits=4, v_bits=8)])
    config = HardwareConfig.uniform(net, lanes=2, format="csc", queue_depth=4,
                                    placement="balanced")
    link = HostLink(net, config, divisor=4, timeout=200, max_steps=15,
                    runtime_weights=[True, False])
    assert link.accelerator.images[0].placement is not None
    device = Device(SimulatedSerial(link))
    with pytest.raises(ValueError, match=r"layer 1's neuron parameters or bias differ .* or "
                                         r"its neuron placement is not placement identity"):
        device.load(net, placements=["identity", "identity"])
    found = device.check(net)
    assert found[0].tolist() == link.accelerator.images[0].placement.tolist()
    assert device.load(net) > 0
    trains = rng.random((3, 4, 5)) < 0.5
    before = device.counters()
    results = device.infer(trains)
    golden = simulate(net, trains)
    assert golden.spikes[0].any()
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    assert [r.cls for r in results] == golden.predicted.tolist()
    report = cycle_model(net, golden, config)
    after = device.counters()
    for layer, (a, b) in enumerate(zip(before["layers"], after["layers"])):
        for name in ("events", "words", "synaptic_updates"):
            assert b[name] - a[name] == getattr(report.layers[layer], name), (layer, name)


class _Written:
    """A port that logs each request with the simulated cycle the host wrote it."""

    def __init__(self, port):
        self.port, self.written = port, []

    def write(self, data):
        self.written.append((self.port.cycles, bytes(data)))
        return self.port.write(data)

    def __getattr__(self, name):
        return getattr(self.port, name)


def test_spikes_and_events_frames_in_one_session_as_the_cycle_model_says():
    """A sample in EVENTS frames (two bytes an event), then samples in INFER frames (SPIKES
    codes, a byte each, SKIP codes for gaps of 252 inputs and more, the reply the sample's
    result): classes and counts as the golden model,
    and every result's cycle count as the cycle model fed each frame when the link offers its
    events (4 cycles an event for EVENTS, 3 a code for SPIKES, skips included)."""
    from spikefab.boards.link import link_cycle_model, offered_frames
    from spikefab.boards.protocol import SPIKES_SKIP
    rng = np.random.default_rng(5)
    w1 = rng.integers(-8, 8, size=(4, 600))
    w1[rng.random(w1.shape) < 0.6] = 0
    net = Network([Layer(w1, theta=4, w_bits=4, v_bits=8, leak="shift", k=2),
                   Layer(rng.integers(-8, 8, size=(3, 4)), theta=3, w_bits=4, v_bits=8)])
    config = HardwareConfig.uniform(net, lanes=2, format="csc", queue_depth=4)
    link = HostLink(net, config, divisor=4, timeout=400, max_steps=15)
    trains = rng.random((3, 4, 600)) < 0.03
    trains[1:, 0, :] = False
    trains[1:, 0, 599] = True         # the first step's only spike: two SKIPs, then 95
    trains[2, 2, 300:560] = False     # a gap of 260 inputs mid-step
    trains[2, 2, [299, 560]] = True
    port = _Written(SimulatedSerial(link))
    device = Device(port)
    results = device.infer(trains[:1], compact=False) + device.infer(trains[1:], compact=True)
    golden = simulate(net, trains)
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    sent = [(request[1], request[4:-1]) for _, request in port.written
            if request[1] in (Command.EVENTS, Command.SPIKES, Command.INFER)]
    # EVENTS then RESULT; a sample in one INFER each (its reply the result)
    assert [command for command, _ in sent] == [Command.EVENTS, Command.INFER, Command.INFER]
    assert [request[1] for _, request in port.written].count(Command.RESULT) == 1
    assert sent[1][1][:3] == bytes([SPIKES_SKIP, SPIKES_SKIP, 599 - 2 * 252])
    assert len(sent[1][1]) == trains[1].sum() + 2 + 4 + 1      # a byte a spike and marker
    frames, _ = offered_frames(port.written, link.divisor)
    assert [r.cycles for r in results] == \
        link_cycle_model(net, trains, config, frames).finish.tolist()


def test_infer_answers_with_the_oldest_result():
    """INFER pushes a sample and answers with a result: its own, or the one left unread
    before it (then RESULT gives its own); EMPTY at once when no result is due."""
    from spikefab.boards.protocol import SPIKES_STEP
    net, config = network(0)
    link = HostLink(net, config, divisor=4, timeout=200, max_steps=15)
    device = Device(SimulatedSerial(link))
    trains = np.random.default_rng(6).random((2, 4, 5)) < 0.6
    golden = simulate(net, trains)
    for payload in (b"", bytes([1, SPIKES_STEP])):             # no SAMPLE: nothing due
        assert raw(device.port, encode_request(Command.INFER, payload))[0] == Status.EMPTY
    assert raw(device.port, encode_request(Command.INFER, bytes([0xFF])))[0] == \
        Status.BAD_ARGUMENT
    device.reset()
    device.send_events(event_stream(trains[:1]))                 # its result left unread
    older = device.send_events(event_stream(trains[1:]), infer=True)
    newer = device.result()
    assert [older.cls, newer.cls] == golden.predicted.tolist()
    assert [list(older.counts), list(newer.counts)] == golden.counts.tolist()
    assert device.result(wait=False) is None


def test_spikes_frames_a_device_must_refuse():
    """A code 255, a spike past the last input (directly or after SKIPs), each refused whole
    (BAD_ARGUMENT, nothing pushed); events out of order cannot be SPIKES frames."""
    from spikefab.boards.protocol import SPIKES_SKIP, SPIKES_STEP
    net, config = network(0)
    link = HostLink(net, config, divisor=4, timeout=200, max_steps=15)
    port = SimulatedSerial(link)
    device = Device(port)
    for payload in (bytes([0, SPIKES_STEP, 0xFF]), bytes([4, 1, SPIKES_STEP]),
                    bytes([SPIKES_SKIP, 0]),
                    bytes([1, 2, SPIKES_STEP, SPIKES_SAMPLE, 5])):
        assert raw(port, encode_request(Command.SPIKES, payload))[0] == Status.BAD_ARGUMENT
    assert not device.identify().sample_open                   # nothing went in
    assert raw(port, encode_request(Command.SPIKES, bytes([SPIKES_SKIP, SPIKES_STEP])))[0] \
        == Status.OK                                           # a skip alone is no spike
    assert device.identify().sample_open
    assert raw(port, encode_request(Command.SPIKES, bytes([4, 0, SPIKES_STEP])))[0] \
        == Status.OK                                           # input 4 twice
    device.reset()
    with pytest.raises(ValueError, match="in ascending address order"):
        device.send_events([(SPIKE, 3), (SPIKE, 1), (STEP, 0)], compact=True)


def _pixels_network(n_inputs=20):
    rng = np.random.default_rng(3)
    w1 = rng.integers(-8, 8, size=(6, n_inputs))
    w1[rng.random(w1.shape) < 0.4] = 0
    net = Network([Layer(w1, theta=4, w_bits=4, v_bits=8, leak="shift", k=2),
                   Layer(rng.integers(-8, 8, size=(3, 6)), theta=3, w_bits=4, v_bits=8)])
    return net, HardwareConfig.uniform(net, lanes=2, format="csc", queue_depth=4)


def _pixels(flags, values):
    return encode_request(Command.PIXELS, bytes([flags]) + bytes(int(v) for v in values))


@pytest.mark.parametrize("kind", ["rate", "latency"])
def test_pixels_through_the_on_chip_encoder_as_the_golden_and_cycle_models_say(kind):
    """Samples as SPIKES codes and as PIXELS frames (one frame; a frame without the start
    flag then one with it; all pixels, then a start frame without pixels) in one session:
    classes and counts as the golden model fed encode_rate / encode_latency of the pixels,
    and every result's cycle as the cycle model fed the encoder's schedule from the cycle the
    link starts it (which the SPIKES sample before pins down)."""
    from spikefab.boards.link import link_cycle_model, offered_frames
    from spikefab.boards.protocol import PIXELS_RESULT, PIXELS_START
    from spikefab.model.encoders import encode_latency, encode_rate
    net, config = _pixels_network()
    encoder = dict(kind=kind, steps=5, scan=3)
    link = HostLink(net, config, divisor=4, timeout=400, max_steps=15, encoder=encoder)
    port = _Written(SimulatedSerial(link))
    device = Device(port)
    ident = device.identity
    assert (ident.protocol, ident.encoder, ident.encoder_x_bits, ident.encoder_steps,
            ident.encoder_scan) == (5, kind, 8, 5, 3)
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, size=(5, 20))
    x[rng.random(x.shape) < 0.3] = 0
    x[4] = 0                                                  # an all-dark image
    trains = (encode_rate if kind == "rate" else encode_latency)(x, 5)
    results = device.infer(trains[:1], compact=True)          # pins the first event's cycle
    results += device.infer_pixels(x[1:3])
    both = PIXELS_START | PIXELS_RESULT
    for requests in ([_pixels(0, x[3, :12]), _pixels(both, x[3, 12:])],
                     [_pixels(0, x[4]), _pixels(both, [])]):
        for request in requests:
            status, _, data = raw(port, request)
            assert status == Status.OK
        results.append(device._result_of(data))
    golden = simulate(net, trains)
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    frames, _ = offered_frames(port.written, link.divisor, encoder)
    assert [len(f) for f in frames] == [3] * 5
    assert [r.cycles for r in results] == \
        link_cycle_model(net, trains, config, frames).finish.tolist()


def test_a_direct_network_takes_its_images_as_pixels():
    """A direct first layer (docs/design.md §13) behind the encoder's ``direct`` kind: the
    images as PIXELS (one frame each, and one split in two), classes, counts and every
    result's cycle as the golden model of encode_direct and the cycle model of the encoder's
    schedule say; EVENTS, SPIKES and INFER, which carry no values, answer BAD_COMMAND."""
    from spikefab.boards.link import link_cycle_model, offered_frames
    from spikefab.boards.protocol import PIXELS_RESULT, PIXELS_START
    from spikefab.model import encode_direct
    rng = np.random.default_rng(8)
    spiking, config = _pixels_network()
    first = spiking[0].replace(theta=40, v_bits=12, x_bits=8, x_shift=6)
    net = Network((first,) + spiking.layers[1:])
    encoder = dict(kind="direct", steps=6, scan=4)
    link = HostLink(net, config, divisor=4, timeout=400, max_steps=15, encoder=encoder)
    port = _Written(SimulatedSerial(link))
    device = Device(port)
    assert (device.identity.encoder, device.identity.encoder_steps) == ("direct", 6)
    x = rng.integers(0, 256, size=(4, 20))
    x[rng.random(x.shape) < 0.4] = 0
    results = device.infer_pixels(x[:3])
    both = PIXELS_START | PIXELS_RESULT
    for request in (_pixels(0, x[3, :7]), _pixels(both, x[3, 7:])):
        status, _, data = raw(port, request)
        assert status == Status.OK
    results.append(device._result_of(data))
    values = encode_direct(x, 6)
    golden = simulate(net, values)
    assert golden.spikes[0].any() and golden.counts.any()
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    frames, _ = offered_frames(port.written, link.divisor, encoder)
    assert [r.cycles for r in results] == \
        link_cycle_model(net, values, config, frames).finish.tolist()
    for command in (Command.EVENTS, Command.SPIKES, Command.INFER):
        assert raw(port, encode_request(command, bytes([1, 0])))[0] == Status.BAD_COMMAND
    assert not device.identify().sample_open                  # nothing went in
    with pytest.raises(ValueError, match="takes its samples through the on-chip encoder"):
        HostLink(net, config, divisor=4, encoder=dict(kind="rate", steps=6))
    with pytest.raises(ValueError, match="encoder kind 'direct' needs a direct network"):
        HostLink(spiking, config, divisor=4, encoder=encoder)


def test_pixels_frames_a_device_must_refuse_and_what_waits_for_the_encoder():
    """Refused whole (BAD_ARGUMENT, nothing written): reserved flag bits, a pixel above
    x_max, more pixels than inputs, a start before all inputs were written, a start while a
    sample is open from SPIKES, no flags byte; a device without an encoder answers
    BAD_COMMAND. A SPIKES sample sent while the encoder pushes one waits for it; PIXELS behind
    samples whose results nobody read answers STALLED having written nothing; RESET stops
    the encoder mid-sample. Every result as the golden model."""
    from spikefab.boards.protocol import PIXELS_RESULT, PIXELS_START, SPIKES_STEP
    from spikefab.model.encoders import encode_rate
    net, config = _pixels_network()
    link = HostLink(net, config, divisor=4, timeout=300, max_steps=15,
                    encoder=dict(kind="rate", steps=5, scan=4, x_bits=4))
    port = SimulatedSerial(link)
    device = Device(port)
    rng = np.random.default_rng(8)
    x = rng.integers(0, 16, size=(6, 20))
    golden = simulate(net, encode_rate(x, 5, x_bits=4))
    both = PIXELS_START | PIXELS_RESULT
    for request in (_pixels(0x04, x[0]), _pixels(0, [*x[0, :5], 16]),
                    _pixels(0, [*x[0], 0]), _pixels(PIXELS_START, x[0, :19]),
                    encode_request(Command.PIXELS, b"")):
        assert raw(port, request)[0] == Status.BAD_ARGUMENT
    assert raw(port, _pixels(0, x[0, :10]))[0] == Status.OK
    assert raw(port, _pixels(0, x[0, :11]))[0] == Status.BAD_ARGUMENT   # 21 of 20
    assert raw(port, encode_request(Command.SPIKES, bytes([3, SPIKES_STEP])))[0] == Status.OK
    assert raw(port, _pixels(both, x[0, 10:]))[0] == Status.BAD_ARGUMENT  # a sample is open
    device.reset()
    assert [r.cls for r in device.infer_pixels(x[:2])] == golden.predicted[:2].tolist()
    # The encoder pushes sample 2; SPIKES sample 3 waits for it, then goes in after it.
    assert raw(port, _pixels(PIXELS_START, x[2]))[0] == Status.OK
    device.send_events(event_stream(encode_rate(x[3:4], 5, x_bits=4)), compact=True)
    # Two results unread: the encoder's sample 4 and PIXELS 5 wait behind them for good.
    assert raw(port, _pixels(PIXELS_START, x[4]))[0] == Status.OK
    status, _, data = raw(port, _pixels(0, x[5]))
    assert (status, data) == (Status.STALLED, bytes(2))
    results = [device.result() for _ in range(3)]
    assert [list(r.counts) for r in results] == golden.counts[2:5].tolist()
    assert [r.cls for r in device.infer_pixels(x[5])] == golden.predicted[5:].tolist()
    # RESET while the encoder is busy: discarded, and the next sample is clean.
    assert raw(port, _pixels(PIXELS_START, x[0]))[0] == Status.OK
    report = device.reset()
    assert report.unread == 1 and not report.clean
    assert [list(r.counts) for r in device.infer_pixels(x[:1])] == golden.counts[:1].tolist()
    plain = Device(SimulatedSerial(HostLink(net, config, divisor=4, timeout=300)))
    assert raw(plain.port, _pixels(both, x[0]))[0] == Status.BAD_COMMAND
    with pytest.raises(ValueError, match="no on-chip input encoder"):
        plain.infer_pixels(x[0])
    with pytest.raises(ValueError, match=r"integers in \[0, 15\]"):
        device.infer_pixels(np.full(20, 16))
