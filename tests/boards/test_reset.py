"""A host that dies mid-sample: the next session must not inherit its state.

Found by a new user against the simulated board top: a driver sent a sample's spikes and steps
without its ``SAMPLE`` and went away; the next driver identified the board and got a silently
wrong first answer (the open sample's membranes and counts leaked into it). ``RESET``, sent by
every :class:`Device` when it opens a session, returns the device to a clean state. Checked
here the way the defect was found: the dropped session, a seeded fuzz of dying hosts, and a
reset in the middle of an inference (back-pressured, mid-sweep), with weights loaded at run
time kept and counters zeroed."""

import struct

import numpy as np
import pytest

from spikefab.boards.host import Device, DeviceError
from spikefab.boards.link import HostLink
from spikefab.boards.protocol import (MAX_PAYLOAD, REPLY_SYNC, REQUEST_SYNC, Command, Identity,
                                        LinkState, ProtocolError, ResetReport, Status, encode_event,
                                        encode_request)
from spikefab.boards.simulated import SimulatedSerial
from spikefab.model import HardwareConfig, Layer, Network, simulate
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream

from .test_link import network


def board_for(net, config, *, port_timeout=0.001, **options):
    """A HostLink at 4 cycles per bit behind a simulated serial port (1 MHz clock). The port
    timeout, 1000 cycles by default, must exceed the device's frame timeout (200 cycles) and
    its longest silence before a reply, and is the price of every wait for a reply that does
    not come (the simulation runs about 10,000 cycles per second)."""
    options = dict(dict(divisor=4, timeout=200, max_steps=15), **options)
    link = HostLink(net, config, **options)
    return link, SimulatedSerial(link, timeout=port_timeout)


@pytest.fixture(scope="module")
def board():
    net, config = network(0)
    link, port = board_for(net, config, capacity=[40, 40])
    return net, link, port


def assert_golden(net, results, trains):
    golden = simulate(net, trains)
    assert [r.cls for r in results] == golden.predicted.tolist()
    assert [list(r.counts) for r in results] == golden.counts.tolist()


def zero_counters(counters):
    return (all(value == 0 for layer in counters["layers"] for value in layer.values())
            and counters["high_water"] == [0] * len(counters["high_water"]))


# -- the dropped session (the reported case) -----------------------------------------------
def dropped_events(trains, ending):
    """A sample's events as a host that went away sent them: ``steps`` — every spike and
    STEP but no SAMPLE (the reported case); ``mid_step`` — and then the next step's spikes
    without their STEP (partial sums left in the PE accumulators, and in dense mode bits in
    the input spike vector)."""
    events = [event for event in event_stream(trains) if event[0] != SAMPLE]
    if ending == "mid_step":
        events += [(SPIKE, int(a)) for a in np.flatnonzero(trains[0])]
    return events


@pytest.fixture(scope="module")
def dense_board():
    net, _ = network(0)
    config = HardwareConfig.uniform(net, lanes=2, format="dense", mode="dense", queue_depth=4)
    link, port = board_for(net, config)
    return net, link, port


@pytest.mark.parametrize("which, ending", [("board", "steps"), ("board", "mid_step"),
                                           ("dense_board", "mid_step")])
def test_dropped_session_leaves_nothing_behind(request, which, ending):
    net, link, port = request.getfixturevalue(which)
    rng = np.random.default_rng(11)
    dropped = rng.random((3, 5)) < 0.6
    trains = rng.random((3, 4, 5)) < 0.5
    golden = simulate(net, trains)
    if ending == "steps":
        # The case discriminates: the dropped steps leaking into the first sample change it.
        leaked = simulate(net, np.concatenate([dropped, trains[0]])[None])
        assert leaked.counts.tolist() != golden.counts[:1].tolist()

    first = Device(port)
    first.send_events(dropped_events(dropped, ending))
    del first                                                      # ... and goes away

    device = Device(port)
    assert_golden(net, device.infer(trains), trains)
    assert device.discarded.sample_open
    assert not device.discarded.result_waiting and device.discarded.unread == 0
    assert device.identify().sample_open is False


# -- a seeded fuzz of hosts that die at any point ------------------------------------------
def read_reply(port):
    """The next reply's ``(status, command, payload)``, or None if none comes in time or it
    is garbled (a careless host does not check)."""
    while True:
        byte = port.read(1)
        if not byte:
            return None
        if byte[0] == REPLY_SYNC:
            break
    head = port.read(4)
    if len(head) < 4:
        return None
    payload = port.read(struct.unpack("<H", head[2:4])[0])
    port.read(1)
    return head[0], head[1], payload


def random_events(rng, count):
    raw = bytearray()
    for _ in range(count):
        pick = rng.random()
        if pick < 0.55:
            raw += encode_event(SPIKE, int(rng.integers(5)))
        elif pick < 0.85:
            raw += encode_event(STEP, 0)
        elif pick < 0.95:
            raw += encode_event(SAMPLE, 0)
        else:
            raw += struct.pack("<H", int(rng.integers(1 << 16)))     # mostly invalid
    return bytes(raw)


def random_frame(rng, identity):
    """One request of a careless or dying host: valid-CRC frames of every command with random
    (often invalid) payloads, unknown commands, and corrupt, truncated, noisy or oversized
    frames. Returns ``(bytes, complete)``; an incomplete frame gets no reply until the
    device's timeout."""
    pick = rng.choice(["events", "events", "load", "result", "counters", "identify",
                       "reset", "unknown"])
    payload = b""
    if pick == "events":
        command, payload = Command.EVENTS, random_events(rng, int(rng.integers(1, 20)))
    elif pick == "load":
        command = Command.LOAD
        if rng.random() < 0.6:                   # well-formed: random words where they fit
            layer, target = int(rng.integers(2)), int(rng.choice([0, 2]))
            word_bytes, depth = identity.memories[layer][target]
            count = int(rng.integers(1, 4))
            addr = int(rng.integers(0, depth - count + 1))
            payload = struct.pack("<BBHH", layer, target, addr, count)
            payload += rng.integers(0, 256, size=count * word_bytes, dtype=np.uint8).tobytes()
        else:
            payload = rng.integers(0, 256, size=int(rng.integers(0, 12)),
                                   dtype=np.uint8).tobytes()
    elif pick == "unknown":
        command = int(rng.choice([0, 7, 0x42, 0xFF]))
    else:
        command = {"result": Command.RESULT, "counters": Command.COUNTERS,
                   "identify": Command.IDENTIFY, "reset": Command.RESET}[pick]
        if rng.random() < 0.2:
            payload = bytes([int(rng.integers(256))])                 # BAD_ARGUMENT
    frame = encode_request(command, payload)
    damage = rng.random()
    if damage < 0.12:                                                 # bad CRC
        at = int(rng.integers(1, len(frame)))
        frame = frame[:at] + bytes([frame[at] ^ 1 << int(rng.integers(8))]) + frame[at + 1:]
    elif damage < 0.22:                                               # cut short
        return frame[:int(rng.integers(1, len(frame)))], False
    elif damage < 0.27:                                               # noise first
        frame = bytes([0x00, 0x5A, 0xFF])[:int(rng.integers(1, 4))] + frame
    elif damage < 0.30:                                               # oversized
        frame = (bytes([REQUEST_SYNC, Command.EVENTS]) + struct.pack("<H", MAX_PAYLOAD + 1)
                 + bytes(int(rng.integers(0, 8))))
    return frame, True


def test_fuzz_dying_hosts_then_a_new_session_answers_exactly(board):
    net, link, port = board
    rng = np.random.default_rng(20240929)
    for round_ in range(30):
        frames = int(rng.integers(1, 4))
        for index in range(frames):
            frame, complete = random_frame(rng, link.identity)
            port.write(frame)
            dies = index == frames - 1 and rng.random() < 0.35
            if complete and not dies:
                read_reply(port)                 # a careless host: any reply will do
        # ... the host went away, possibly mid-frame or before reading its last reply.
        device = Device(port)
        device.load(net)
        trains = rng.random((1, int(rng.integers(1, 5)), 5)) < 0.5
        results = device.infer(trains)
        golden = simulate(net, trains)
        assert ([results[0].cls], [list(results[0].counts)]) == \
            (golden.predicted.tolist(), golden.counts.tolist()), f"round {round_}"
    assert not device.counters()["error"]


# -- RESET under back-pressure and mid-sweep; weights kept; counters and flags -------------
def test_reset_under_back_pressure(board):
    net, link, port = board
    device = Device(port)
    rng = np.random.default_rng(3)
    first, second = rng.random((2, 3, 5)) < 0.7
    # The first sample's result is not read, so the second sample's events pile up behind it:
    # the last layer stalls on the readout, the queues fill.
    device.send_events(event_stream(first) + dropped_events(second[:1], "steps"))
    counters = device.counters()
    assert counters["layers"][-1]["stall"] > 0 and not counters["idle"]
    assert counters["sample_open"]
    assert counters["state"] == LinkState(sample_open=True, result_waiting=True, busy=True,
                                          error=False)
    stall = counters["layers"][-1]["stall"]
    assert device.counters()["layers"][-1]["stall"] > stall           # still stalled

    start = port.cycles
    assert device.reset() == ResetReport(sample_open=True, result_waiting=True, busy=True,
                                         error=False, unread=1)
    after = device.counters()
    assert zero_counters(after) and after["idle"] and not after["error"]
    assert not after["sample_open"] and after["state"] == LinkState(False, False, False, False)
    assert device.result(wait=False) is None                          # the result is gone
    trains = rng.random((2, 4, 5)) < 0.5
    results = device.infer(trains)
    assert_golden(net, results, trains)
    assert results[0].cycles < port.cycles - start                    # the count restarted


@pytest.mark.parametrize("compact, command", [(False, "EVENTS"), (True, "SPIKES")])
def test_events_behind_an_unread_result_stall_and_reset_recovers(board, compact, command):
    net, link, port = board
    device = Device(port)
    rng = np.random.default_rng(4)
    trains = rng.random((1, 3, 5)) < 0.7
    device.send_events(event_stream(trains))                          # result left unread
    more = [(SPIKE, 1), (STEP, 0)] * 20                               # far more than fits
    with pytest.raises(DeviceError, match=f"{command} stalled: the device took") as error:
        device.send_events(more, compact=compact)
    assert error.value.status == Status.STALLED and 0 < error.value.taken < len(more)
    assert device.identify().sample_open
    report = device.reset()
    assert report.sample_open and report.result_waiting and report.unread == 1
    assert_golden(net, device.infer(trains), trains)


def test_reset_mid_sweep():
    # 64 neurons in one lane: each STEP sweeps 64 rows, so a queue of STEPs keeps the layer
    # sweeping long after the EVENTS reply, when the RESET arrives.
    rng = np.random.default_rng(5)
    w1 = rng.integers(-4, 8, size=(64, 4))
    w1[rng.random(w1.shape) < 0.3] = 0
    net = Network([Layer(w1, theta=6, w_bits=4, v_bits=8, leak="shift", k=3),
                   Layer(rng.integers(-2, 4, size=(2, 64)), theta=8, w_bits=4, v_bits=10,
                         timing="delayed")])
    config = HardwareConfig.uniform(net, lanes=1, format="csc", queue_depth=16)
    link, port = board_for(net, config, max_steps=31, port_timeout=0.01)
    device = Device(port)
    busy = np.concatenate([rng.random((12, 4)) < 0.6, np.zeros((10, 4), bool)])
    device.send_events(dropped_events(busy, "mid_step"))
    report = device.reset()
    assert report.busy and report.sample_open and not report.result_waiting
    assert zero_counters(device.counters())
    trains = rng.random((2, 4, 4)) < 0.5
    assert_golden(net, device.infer(trains), trains)


def test_reset_keeps_weights_loaded_at_run_time(board):
    net, link, port = board
    device = Device(port)
    rng = np.random.default_rng(9)
    new = Network([layer.replace(weights=rng.integers(-8, 8, size=layer.weights.shape))
                   for layer in net])
    trains = rng.random((2, 4, 5)) < 0.6
    assert simulate(new, trains).counts.tolist() != simulate(net, trains).counts.tolist()
    device.load(new)
    device.send_events([(SPIKE, 0), (SPIKE, 3), (STEP, 0), (SPIKE, 2)])
    assert device.reset().sample_open
    assert_golden(new, device.infer(trains), trains)
    assert_golden(new, Device(port).infer(trains), trains)         # a new session, too
    device.load(net)


def test_open_sample_flag_and_rejected_resets(board):
    net, link, port = board
    device = Device(port)
    assert device.discarded == ResetReport(False, False, False, False, 0)
    assert device.discarded.clean
    assert device.identify().sample_open is False
    assert device.identify() == link.identity                       # the state is not compared
    device.send_events([(SPIKE, 2), (STEP, 0)])
    assert device.identify().sample_open is True
    assert device.counters()["sample_open"] is True
    # A RESET that is corrupt or carries a payload is refused and changes nothing.
    frame = encode_request(Command.RESET)
    for bad, status in ((frame[:-1] + bytes([frame[-1] ^ 0x10]), Status.BAD_CRC),
                        (encode_request(Command.RESET, b"\x00"), Status.BAD_ARGUMENT)):
        port.write(bad)
        assert read_reply(port)[:2] == (status, Command.RESET)
    assert device.identify().sample_open is True
    device.send_events([(SAMPLE, 0)])
    state = device.counters()["state"]
    assert not state.sample_open and state.result_waiting
    assert device.result().counts is not None
    assert device.counters()["state"] == LinkState(False, False, False, False)
    # Without the session-opening RESET a new driver sees what was left.
    device.send_events([(SPIKE, 0)])
    assert Device(port, reset=False).identify().sample_open is True
    assert Device(port).discarded == ResetReport(True, False, False, False, 0)


def test_identify_reply_decodes_exactly(board):
    net, link, port = board
    block = link.identity.encode()
    for byte, state in ((0, LinkState(False, False, False, False)),
                        (0b1011, LinkState(True, True, False, True))):
        ident = Identity.decode_reply(block + bytes([byte]))
        assert ident == link.identity and ident.state == state
    for bad in (block, block + b"\x00\x00", block + b"\x10"):     # no state, one too many,
        with pytest.raises(ProtocolError, match="bytes|reserved"):  # reserved bit set
            Identity.decode_reply(bad)
    assert ResetReport.decode(b"\x05\x02\x00") == ResetReport(True, False, True, False, 2)
    with pytest.raises(ProtocolError, match="RESET reply of 2 bytes"):
        ResetReport.decode(b"\x05\x02")
