"""The ``SPIKES`` codes of the host protocol (boards/protocol.py, version 4): hand-made frames,
the frame split (every frame's cursor starts at 0), what a device must refuse, and the round
trip of any binary spike trains."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikefab.boards.protocol import (MAX_PAYLOAD, SPIKES_SAMPLE, SPIKES_SKIP, SPIKES_STEP,
                                      decode_spikes, encode_spikes)
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream


def test_codes_by_hand():
    # Inputs 3 and 4 (codes 3, then 1 from cursor 3), input 600 from cursor 4: 596 =
    # 2 * 252 + 92, STEP, input 0, SAMPLE.
    events = [(SPIKE, 3), (SPIKE, 4), (SPIKE, 600), (STEP, 0), (SPIKE, 0), (SAMPLE, 0)]
    assert encode_spikes(events) == [bytes([3, 1, SPIKES_SKIP, SPIKES_SKIP, 92, SPIKES_STEP,
                                            0, SPIKES_SAMPLE])]
    assert decode_spikes(encode_spikes(events)[0], 601) == events
    assert encode_spikes([]) == []
    # A gap of exactly 252: one SKIP, then code 0.
    assert encode_spikes([(SPIKE, 252)]) == [bytes([SPIKES_SKIP, 0])]


def test_each_frame_starts_its_cursor_at_zero():
    # limit 2: input 1 (code 1); input 300 from cursor 1 needs SKIP + 47, which does not fit:
    # a new frame, from cursor 0: SKIP + 48; STEP in a third frame.
    events = [(SPIKE, 1), (SPIKE, 300), (STEP, 0)]
    assert encode_spikes(events, limit=2) == [b"\x01", bytes([SPIKES_SKIP, 48]),
                                              bytes([SPIKES_STEP])]
    assert encode_spikes(events, limit=3) == [bytes([1, SPIKES_SKIP, 47]), bytes([SPIKES_STEP])]
    with pytest.raises(ValueError, match="a spike at input 300 needs 2 bytes; a frame holds 1"):
        encode_spikes(events, limit=1)
    with pytest.raises(ValueError, match=r"limit must be an integer in \[1, 512\], not 0"):
        encode_spikes(events, limit=0)


def test_what_spikes_frames_cannot_carry_or_a_device_must_refuse():
    assert encode_spikes([(SPIKE, 5), (SPIKE, 2)]) is None           # descending in a step
    assert encode_spikes([(SPIKE, 5), (SPIKE, 5)]) == [bytes([5, 0])]  # the same input twice
    assert encode_spikes([(SPIKE, 5), (STEP, 0), (SPIKE, 2)]) == [bytes([5, SPIKES_STEP, 2])]
    with pytest.raises(ValueError, match="event kind 3 is not SPIKE"):
        encode_spikes([(3, 0)])
    assert decode_spikes(bytes([9]), 10) == [(SPIKE, 9)]
    assert decode_spikes(bytes([10]), 10) is None                      # input 10 of 10
    assert decode_spikes(bytes([5, 4]), 10) == [(SPIKE, 5), (SPIKE, 9)]
    assert decode_spikes(bytes([5, 5]), 10) is None                    # 5 + 5 = 10
    assert decode_spikes(bytes([SPIKES_SKIP, 0]), 252) is None
    assert decode_spikes(bytes([SPIKES_SKIP, 0]), 253) == [(SPIKE, 252)]
    assert decode_spikes(bytes([SPIKES_SKIP] * 3 + [SPIKES_STEP]), 10) == [(STEP, 0)]
    assert decode_spikes(bytes([0xFF]), 10) is None


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 2000), st.integers(1, 6), st.floats(0.0, 0.2), st.integers(0, 2**32 - 1))
def test_any_spike_trains_round_trip(inputs, steps, density, seed):
    """Sorted per step (as event_stream gives them), every train is carried: the frames decode
    to the same events, each within MAX_PAYLOAD, and a frame is a byte per event plus a SKIP
    per 252 inputs of gap."""
    trains = np.random.default_rng(seed).random((steps, inputs)) < density
    events = event_stream(trains[None])
    payloads = encode_spikes(events)
    assert all(0 < len(p) <= MAX_PAYLOAD for p in payloads)
    assert sum((decode_spikes(p, inputs) for p in payloads), []) == events
    if len(payloads) == 1:
        skips = 0
        for step in trains:
            cursor = 0
            for address in np.flatnonzero(step):
                skips += (address - cursor) // 252
                cursor = address
        assert len(payloads[0]) == len(events) + skips
