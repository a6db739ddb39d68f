"""The frames the host-link fuzzer (:mod:`spikefab.sim.link_fuzz`) sends: one item of each
class, valid or broken on purpose, made from the seeded stream and the shadow of the device's
state (:class:`~spikefab.sim.link_reference.Shadow`), and put on the line through the
session's ``send``, which checks the reply.

**What is sent** (one *frame* is one item put on the line; the classes and their shares):

* ``valid`` — ``IDENTIFY``, ``COUNTERS``, ``RESULT``, ``RESET``, ``EVENTS``, ``SPIKES`` or
  ``INFER`` (its reply a result, checked as ``RESULT``'s) with a whole sample or a piece of
  one, ``EVENTS`` with no events, ``LOAD`` of a slice of the weights already loaded (or of
  unused words past the image), ``LOAD`` of zero words; on a link with the on-chip encoder,
  ``PIXELS`` with the next pixels of an image (any number up to the inputs left), the last
  ones with the start flag most of the time (else a start without pixels follows), half of
  the starts with the result flag, or the rest of an image in frames one after the other;
* ``malformed`` — a bad sync byte, an unknown command, a bad CRC, a payload the command does
  not take (a payload for ``IDENTIFY``, an odd ``EVENTS`` length, a ``LOAD`` out of range, of
  the wrong length, for a memory or a layer that does not exist, without its header), an
  event for an input that does not exist or of kind 3 in the middle of good ones, a
  ``SPIKES`` code 255 or a spike past the last input among good codes (half the time on
  the first input past the last, from the cursor where it goes, the step's later spikes
  left out); with the encoder, ``PIXELS`` with flag bits 2-7 set, a pixel above ``x_max``,
  more pixels than the inputs left, a start before the last pixel, no flags byte;
* ``truncated`` — a valid frame (or a ``LOAD`` of *poison* weights) cut after any byte, then
  silence: ``TIMEOUT``;
* ``oversized`` — a length above ``MAX_PAYLOAD`` followed by any number of bytes:
  ``BAD_LENGTH`` at once, the rest skipped until the line is quiet;
* ``corrupted`` — a valid or poison frame with 1-3 bits flipped anywhere (sync, header,
  payload, CRC);
* ``out_of_order`` — ``RESULT`` with nothing to read, a sample left open, a poison ``LOAD``
  behind an unread result (``BUSY``), ``EVENTS`` behind an unread result (``OK`` or
  ``STALLED``), a sample of no steps, markers with address bits set, more steps than the
  counts hold, ``RESET`` and ``LOAD`` in the middle of a sample;
* ``random`` — random bytes, some of them sync bytes;
* ``line`` — a valid frame with one-cycle glitches or pauses shorter than the frame timeout
  between its bytes, and breaks (the line held low for up to 30 bit times) between frames.

:class:`FuzzFrames` is the half of :class:`~spikefab.sim.link_fuzz.LinkFuzzer` that makes
them; its other half (the session: sending, the reply checks, the report) is in
:mod:`spikefab.sim.link_fuzz`. An item of several frames (a ``RESULT`` to drain first, an
image in ``LOAD`` frames) sends them one by one, each made after the shadow followed the last.

**Spikes.** A sample's density ``d`` (0.1 to 0.9) is the chance that an input with synapses
(:func:`~spikefab.sim.link_fuzz_design.live_inputs`) spikes in a step; any other input spikes
with chance ``d / n_inputs`` (on the 600-input network about ``d`` spikes a step among all of
them). On the 6-input network every input has synapses. On the 600-input one, a step's
spikes in two groups 300 inputs apart, or only in the last group, need ``SKIP`` codes in
their ``SPIKES`` and ``INFER`` frames (the report counts them).
"""

import struct

import numpy as np
from spikefab.boards.protocol import (MAX_PAYLOAD, PIXELS_RESULT, PIXELS_START, REQUEST_SYNC,
                                      SPIKES_SKIP, Command, encode_request, encode_spikes)
from spikefab.model import Network
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream

from spikefab.sim.link_fuzz_design import live_inputs
from spikefab.sim.link_reference import parse_request_bytes

__all__ = ["CLASSES", "SHARES", "FuzzFrames"]

#: The classes of items the fuzzer sends, and the share of the items of each.
CLASSES = ("valid", "malformed", "truncated", "oversized", "corrupted", "out_of_order",
           "random", "line")
SHARES = (0.25, 0.15, 0.10, 0.05, 0.15, 0.15, 0.08, 0.07)


class FuzzFrames:
    """The frame generators of :class:`~spikefab.sim.link_fuzz.LinkFuzzer` (a mixin).

    They draw from ``self.rng`` and read ``self.shadow``, ``self.networks``,
    ``self.poison``, ``self.link``, ``self.max_steps`` and ``self.device_timeout``; they
    put each frame on the line with ``self.send(cls, kind, data, pieces=...)`` (a break:
    ``self.send_break(bits)``) and report a broken invariant with ``self.fail(message)``.
    """

    def _fitting_poison(self, poison):
        """``poison`` as an image this link's memories take; if it does not fit, the first
        network's synapses with other values (every word differs where a weight is; the
        pointers are the same)."""
        image = self.shadow.fitting_image(poison)
        if image is None:
            first = self.networks[0]
            other = Network([layer.replace(weights=_other_values(layer)) for layer in first])
            image = self.shadow.fitting_image(other)
        return image

    def _events_bytes(self, events):
        return b"".join(struct.pack("<H", addr | kind << 14) for kind, addr in events)

    def _events_frame(self, events):
        """An ``EVENTS`` request of ``events`` or, when they fit one, ``SPIKES`` or ``INFER``."""
        payloads = encode_spikes(events) if self.rng.random() < 0.6 else None
        if payloads is not None and len(payloads) == 1:
            infer = self.rng.random() < 0.5
            return encode_request(Command.INFER if infer else Command.SPIKES, payloads[0])
        return encode_request(Command.EVENTS, self._events_bytes(events))

    def _trains(self, steps=None, density=None):
        if steps is None and self.shadow.rule is not None and self.rng.random() < 0.75:
            steps = self.shadow.exit_steps             # early exit is defined for T steps
        steps = steps or int(self.rng.integers(1, self.max_steps + 1))
        density = self.rng.uniform(0.1, 0.9) if density is None else density
        return self.rng.random((steps, self.shadow.n_inputs)) < density * self._input_rates()

    def _input_rates(self):
        """Each input's chance to spike relative to the sample's density: 1 with synapses,
        ``1 / n_inputs`` without (all 1 on a network of at most 9 inputs)."""
        if getattr(self, "_rates", None) is None:
            n = self.shadow.n_inputs
            self._rates = np.full(n, 1 / n)
            self._rates[live_inputs(n)] = 1.0
        return self._rates

    def _sample_events(self, **options):
        return event_stream(self._trains(**options)[None])

    def _load_slice(self, image, *, beyond=False):
        """A LOAD payload: a random slice of ``image``'s words of one memory (or, with
        ``beyond``, random words past the end of the current image)."""
        key = list(image)[int(self.rng.integers(len(image)))]
        word_bytes, depth = self.shadow._geometry()[key]
        words = image[key]
        if beyond:
            start_min = max(len(w) for net in self.networks
                            for k, w in self.shadow.images[id(net)].items() if k == key)
            if start_min >= depth:
                beyond = False
        if beyond:
            addr = int(self.rng.integers(start_min, depth))
            count = int(self.rng.integers(1, depth - addr + 1))
            chunk = [int.from_bytes(self.rng.bytes(word_bytes), "little")
                     for _ in range(count)]
        else:
            addr = int(self.rng.integers(0, len(words)))
            count = int(self.rng.integers(1, min(len(words) - addr,
                                                 (MAX_PAYLOAD - 6) // word_bytes) + 1))
            chunk = words[addr:addr + count]
        body = struct.pack("<BBHH", key[0], key[1], addr, len(chunk))
        return body + b"".join(w.to_bytes(word_bytes, "little") for w in chunk)

    def _current_image(self):
        net = self.shadow.weights or self.networks[0]
        return self.shadow.images[id(net)]

    def _valid_request(self):
        """A valid request whose effect the shadow can follow."""
        shadow = self.shadow
        choices = ["identify", "counters", "result", "events_sample", "events_piece",
                   "events_empty", "load_same", "load_beyond", "load_zero", "reset", "pixels"]
        weights = [1, 1, 2, 3, 2, 0.3, 1.5, 0.5, 0.3, 0.4, 3 * (shadow.encoder is not None)]
        kind = choices[_pick(self.rng, weights)]
        if kind == "pixels":
            return kind, self._pixels_frame()
        if kind == "identify":
            return kind, encode_request(Command.IDENTIFY)
        if kind == "counters":
            return kind, encode_request(Command.COUNTERS)
        if kind == "result":
            return kind, encode_request(Command.RESULT)
        if kind == "reset":
            return kind, encode_request(Command.RESET)
        if kind == "events_sample":
            return kind, self._events_frame(self._sample_events())
        if kind == "events_piece":
            events = self._sample_events()
            cut = int(self.rng.integers(1, len(events) + 1))
            start = int(self.rng.integers(0, cut))
            return kind, self._events_frame(events[start:cut])
        if kind == "events_empty":
            return kind, encode_request(Command.EVENTS)
        if kind == "load_zero":
            key = list(self._current_image())[0]
            return kind, encode_request(Command.LOAD, struct.pack("<BBHH", *key, 0, 0))
        if kind == "load_beyond":
            return kind, encode_request(Command.LOAD,
                                        self._load_slice(self._current_image(), beyond=True))
        if shadow.weights is None:
            return "identify", encode_request(Command.IDENTIFY)
        return kind, encode_request(Command.LOAD, self._load_slice(self._current_image()))

    def _pixels_frame(self, *, bad=None):
        """A ``PIXELS`` request: the next pixels of an image (valid), or with the flaw ``bad``
        (``"flags"``, ``"range"``, ``"count"``, ``"early_start"``, ``"empty"``)."""
        rng, shadow = self.rng, self.shadow
        left = shadow.n_inputs - len(shadow.pixels)
        if bad == "empty":
            return encode_request(Command.PIXELS)
        if bad == "count":
            count = int(rng.integers(left + 1, left + 40))
        elif left == 0:
            count = 0
        else:               # mostly the rest of the image (a frame holds 511), or any part
            count = min(left, MAX_PAYLOAD - 1) if rng.random() < 0.7 else \
                int(rng.integers(1, min(left, MAX_PAYLOAD - 1) + 1))
            if bad == "early_start" and count == left:
                count -= 1
        count = min(count, MAX_PAYLOAD - 1)
        pixels = rng.integers(0, shadow.x_max + 1, size=count)
        pixels[rng.random(count) < 0.5] = 0
        if bad == "range" and count and shadow.x_max < 0xFF:
            pixels[int(rng.integers(count))] = int(rng.integers(shadow.x_max + 1, 256))
        flags = 0
        if (count == left and rng.random() < 0.8) or bad == "early_start":
            flags = PIXELS_START | (PIXELS_RESULT if rng.random() < 0.5 else 0)
        if bad == "flags":
            flags |= int(rng.integers(1, 64)) << 2
        return encode_request(Command.PIXELS, bytes([flags]) + bytes(pixels.astype(np.uint8)))

    def _poison_load(self):
        return encode_request(Command.LOAD, self._load_slice(self.poison))

    def item(self):
        """Generate and send one item of a random class."""
        cls = CLASSES[_pick(self.rng, SHARES)]
        getattr(self, f"_item_{cls}")()

    def _item_valid(self):
        shadow = self.shadow
        if self.rng.random() < 0.03 and shadow.certainly_idle and shadow.weights is not None:
            # Switch to the other weights: every word of every memory, in valid frames.
            other = self.networks[(self.networks.index(shadow.weights) + 1)
                                  % len(self.networks)]
            for body in self._image_frames(shadow.images[id(other)]):
                self.send("valid", "load_switch", encode_request(Command.LOAD, body))
            if shadow.weights is not other:
                self.fail("the shadow did not follow a complete reload")
            return
        if shadow.encoder is not None and self.rng.random() < 0.12:
            # A whole image: the rest of its pixels, the last frame starting the encoder.
            for _ in range(4):                   # (a STALLED frame wrote nothing)
                frame = self._pixels_frame()
                self.send("valid", "pixels_image", frame)
                if frame[4] & PIXELS_START or not shadow.pixels:
                    break
            return
        kind, frame = self._valid_request()
        self.send("valid", kind, frame)

    def _image_frames(self, image):
        frames = []
        for (layer, target), words in image.items():
            word_bytes, _ = self.shadow._geometry()[layer, target]
            per_frame = (MAX_PAYLOAD - 6) // word_bytes
            for start in range(0, len(words), per_frame):
                chunk = words[start:start + per_frame]
                frames.append(struct.pack("<BBHH", layer, target, start, len(chunk))
                              + b"".join(w.to_bytes(word_bytes, "little") for w in chunk))
        return frames

    def _item_malformed(self):
        rng, shadow = self.rng, self.shadow
        kind = ["bad_sync", "bad_command", "bad_crc", "bad_payload", "load_bad",
                "events_bad", "spikes_bad", "max_length", "pixels_bad"][
            _pick(rng, [1, 1, 1, 1, 1, 1, 1, 0.3, 1.5 * (shadow.encoder is not None)])]
        if kind == "bad_sync":
            _, frame = self._valid_request()
            wrong = int(rng.integers(0, 255))
            wrong += wrong >= REQUEST_SYNC
            frame = bytes([wrong]) + frame[1:]
        elif kind == "bad_command":
            command = int(rng.choice([0, *range(10 if shadow.encoder else 9, 256)]))
            size = int(rng.integers(0, 9))
            frame = encode_request(command, rng.bytes(size))
        elif kind == "bad_crc":
            _, frame = self._valid_request()
            if rng.random() < 0.3:
                frame = self._poison_load()
            frame = frame[:-1] + bytes([frame[-1] ^ int(rng.integers(1, 256))])
        elif kind == "bad_payload":
            command = [Command.IDENTIFY, Command.COUNTERS, Command.RESULT, Command.RESET,
                       Command.EVENTS, Command.SPIKES][int(rng.integers(6))]
            size = int(rng.integers(1, 12))
            if command == Command.EVENTS:
                size |= 1                                 # an odd length
            frame = encode_request(command, rng.bytes(size))
        elif kind == "load_bad":
            frame = encode_request(Command.LOAD, self._bad_load())
        elif kind == "pixels_bad":
            flaw = ["flags", "range", "count", "early_start", "empty"][int(rng.integers(5))]
            frame = self._pixels_frame(bad=flaw)
        elif kind == "max_length":                        # exactly MAX_PAYLOAD random bytes
            command = int(rng.choice([Command.LOAD, Command.EVENTS, Command.SPIKES,
                                      int(rng.integers(9, 256))]))
            frame = encode_request(command, rng.bytes(MAX_PAYLOAD))
        elif kind == "spikes_bad":            # a code 255 or a spike past the last input
            payload = encode_spikes(self._sample_events())[0][:400]
            at = int(rng.integers(len(payload) + 1))
            head, rest = payload[:at], payload[at:]
            if rng.random() < 0.5:
                bad = bytes([0xFF])
            else:           # from the cursor there: SKIP codes, a spike; the step ends there
                n = shadow.n_inputs
                addr = n if rng.random() < 0.5 else _boundary(rng, n + 1, n + 600)
                gap = addr - _spikes_cursor(head)
                bad = bytes([SPIKES_SKIP] * (gap // SPIKES_SKIP) + [gap % SPIKES_SKIP])
                markers = [i for i, code in enumerate(rest) if code > SPIKES_SKIP]
                rest = rest[markers[0]:] if markers else b""
            frame = encode_request(Command.SPIKES, head + bad + rest)
        else:
            events = self._sample_events()
            position = int(rng.integers(len(events) + 1))
            if rng.random() < 0.6:                   # the first missing input, or any
                bad = (SPIKE, _boundary(rng, shadow.n_inputs, 1 << 14))
            else:
                bad = (3, int(rng.integers(0, 1 << 14)))
            events = events[:position] + [bad] + events[position:]
            frame = encode_request(Command.EVENTS, self._events_bytes(events[:256]))
        self.send("malformed", kind, frame)

    def _bad_load(self):
        rng, shadow = self.rng, self.shadow
        body = self._load_slice(self.poison)
        layer, target, addr, count = struct.unpack_from("<BBHH", body)
        word_bytes, depth = shadow._geometry()[layer, target]
        how = int(rng.integers(6))
        if how == 0:                                  # past the end of the memory
            addr = _boundary(rng, depth - count + 1, 0x10000)
        elif how == 1:                                # a word short or long
            body = body[:-1] if rng.random() < 0.5 else body + rng.bytes(1)
            return body
        elif how == 2:                                # count disagrees with the words
            count = (count + (1 if rng.random() < 0.3 else -1 if rng.random() < 0.4
                              else int(rng.integers(1, 0x10000)))) & 0xFFFF
        elif how == 3:                                # a memory the format does not have
            missing = [t for t in range(256) if (layer, t) not in shadow._geometry()]
            target = int(rng.choice(missing))
        elif how == 4:                                # a layer that does not exist
            layer = int(rng.integers(len(self.link.identity.shape) - 1, 256))
        else:                                         # no whole header
            return rng.bytes(int(rng.integers(0, 6)))
        return struct.pack("<BBHH", layer, target, addr, count) + body[6:]

    def _item_truncated(self):
        _, frame = self._valid_request()
        kind = "valid_cut"
        if self.rng.random() < 0.35:
            frame, kind = self._poison_load(), "poison_load_cut"
        cut = int(self.rng.integers(1, len(frame)))
        self.send("truncated", kind, frame[:cut])

    def _item_oversized(self):
        rng = self.rng
        length = int(rng.integers(MAX_PAYLOAD + 1, 0x10000))
        command = int(rng.choice([*Command, int(rng.integers(0, 256))]))
        extra = int(rng.integers(0, min(length, 700) + 1))
        frame = bytes([REQUEST_SYNC, command]) + struct.pack("<H", length) + rng.bytes(extra)
        self.send("oversized", "length_above_max", frame)

    def _item_corrupted(self):
        rng = self.rng
        if rng.random() < 0.3:
            kind, frame = "poison_load", self._poison_load()
        else:
            kind, frame = self._valid_request()
        data = bytearray(frame)
        for _ in range(int(rng.integers(1, 4))):
            bit = int(rng.integers(8 * len(data)))
            data[bit // 8] ^= 1 << (bit % 8)
        data = bytes(data)
        parsed = parse_request_bytes(data)
        if parsed.status is None and parsed.command == Command.LOAD and kind == "poison_load":
            valid, *_ = self.shadow.load_frame_ok(parsed.payload)
            if valid and not self.shadow.pending:
                return self._item_corrupted()     # would load poison: draw again
        self.send("corrupted", f"flipped_{kind}", data)

    def _item_out_of_order(self):
        rng, shadow = self.rng, self.shadow
        kinds = ["result_empty", "sample_left_open", "load_behind_result",
                 "events_behind_result", "sample_no_steps", "markers_with_address",
                 "too_many_steps", "reset_mid_sample", "load_mid_sample", "step_only"]
        if shadow.rule is not None:
            kinds.append("result_before_sample")      # early exit only (same stream without)
        kind = kinds[int(rng.integers(len(kinds)))]
        if kind == "result_empty":
            if shadow.pending:                         # drain first (counted as valid)
                self.send("valid", "result", encode_request(Command.RESULT))
            self.send("out_of_order", kind, encode_request(Command.RESULT))
        elif kind == "sample_left_open":
            events = [e for e in self._sample_events() if e[0] != SAMPLE]
            if rng.random() < 0.5:
                events += [(SPIKE, int(a)) for a in
                           np.flatnonzero(rng.random(shadow.n_inputs)
                                          < 0.5 * self._input_rates())]
            self.send("out_of_order", kind,
                      self._events_frame(events[:256]))
        elif kind == "load_behind_result":
            if not shadow.pending:
                self.send("valid", "events_sample", self._events_frame(self._sample_events()))
            if shadow.pending:
                self.send("out_of_order", kind, self._poison_load())
        elif kind == "events_behind_result":
            if not shadow.pending:
                self.send("valid", "events_sample", self._events_frame(self._sample_events()))
            events = []
            while len(events) < 40:
                events += self._sample_events(density=0.9)
            self.send("out_of_order", kind,
                      self._events_frame(events[:256]))
        elif kind == "sample_no_steps":
            self.send("out_of_order", kind,
                      self._events_frame([(SAMPLE, 0)]))
        elif kind == "markers_with_address":
            events = [(k, int(rng.integers(0, 1 << 14))) if k != SPIKE else (k, a)
                      for k, a in self._sample_events()]
            self.send("out_of_order", kind,
                      encode_request(Command.EVENTS, self._events_bytes(events)))
        elif kind == "too_many_steps":
            trains = self._trains(steps=int(rng.integers(self.max_steps + 1,
                                                         self.max_steps + 40)), density=0.7)
            events = event_stream(trains[None])
            for start in range(0, len(events), 256):
                self.send("out_of_order", kind,
                          self._events_frame(events[start:start + 256]))
        elif kind == "reset_mid_sample":
            if not shadow.sample_open:
                events = [e for e in self._sample_events() if e[0] != SAMPLE]
                self.send("valid", "events_piece",
                          self._events_frame(events))
            self.send("out_of_order", kind, encode_request(Command.RESET))
        elif kind == "result_before_sample":
            # A sample's T steps without its SAMPLE, RESULT (its result if it exited), SAMPLE.
            if shadow.pending:
                self.send("valid", "result", encode_request(Command.RESULT))
            if shadow.sample_open:
                self.send("valid", "events_piece",
                          self._events_frame([(SAMPLE, 0)]))
            events = [e for e in self._sample_events(steps=shadow.exit_steps) if e[0] != SAMPLE]
            self.send("valid", "events_piece",
                      self._events_frame(events[:256]))
            self.send("out_of_order", kind, encode_request(Command.RESULT))
            self.send("valid", "events_piece",
                      self._events_frame([(SAMPLE, 0)]))
        elif kind == "load_mid_sample":
            if shadow.weights is not None:
                self.send("out_of_order", kind,
                          encode_request(Command.LOAD, self._load_slice(self._current_image())))
        else:
            self.send("out_of_order", kind,
                      self._events_frame([(STEP, 0)] * int(rng.integers(1, 4))))

    def _item_random(self):
        rng = self.rng
        size = int(rng.integers(1, 65))
        data = bytearray(rng.bytes(size))
        for index in np.flatnonzero(rng.random(size) < 0.05):
            data[index] = REQUEST_SYNC
        parsed = parse_request_bytes(bytes(data))
        if parsed.status is None and parsed.command == Command.LOAD:
            valid, *_ = self.shadow.load_frame_ok(parsed.payload)
            if valid:
                return self._item_random()
        self.send("random", "bytes", bytes(data))

    def _item_line(self):
        rng = self.rng
        kind = ["glitch", "pause", "break"][int(rng.integers(3))]
        if kind == "break":
            return self.send_break(int(rng.integers(1, 31)))
        _, frame = self._valid_request()
        pieces, position = [], 0
        for cut in sorted(set(int(c) for c in rng.integers(1, len(frame),
                                                           size=int(rng.integers(1, 4))))):
            pieces.append(frame[position:cut])
            if kind == "glitch":
                pieces.append(("glitch", 1))
            else:
                pieces.append(("pause", int(rng.integers(1, self.device_timeout // 2))))
            position = cut
        pieces.append(frame[position:])
        self.send("line", kind, frame, pieces=pieces)


def _other_values(layer):
    """``layer``'s weights with every non-zero one changed (and kept non-zero, in range)."""
    weights = layer.weights.copy()
    low, high = -(1 << (layer.w_bits - 1)), (1 << (layer.w_bits - 1)) - 1
    other = np.where(weights > 0, weights - 1, weights + 1)
    other[other == 0] = np.where(weights[other == 0] > 0, high, low)
    other[weights == 0] = 0
    other[(other == weights) & (weights != 0)] = -weights[(other == weights) & (weights != 0)]
    return np.clip(other, low, high)


def _boundary(rng, low, high):
    """An integer in ``[low, high)``: ``low`` (the first bad value) or ``low + 1`` half the
    time, else uniform."""
    if rng.random() < 0.5:
        return min(low + int(rng.integers(0, 2)), high - 1)
    return int(rng.integers(low, high))


def _spikes_cursor(codes):
    """The cursor after ``SPIKES`` codes (the input of the last spike, or where the last
    ``SKIP`` moved it; 0 after a marker)."""
    cursor = 0
    for code in codes:
        cursor = cursor + code if code <= SPIKES_SKIP else 0
    return cursor


def _pick(rng, weights):
    weights = np.asarray(weights, dtype=float)
    return int(rng.choice(len(weights), p=weights / weights.sum()))
