"""What the host link must answer: the reference the fuzzer (:mod:`spikefab.sim.link_fuzz`)
checks every reply against.

* :func:`parse_request_bytes` — what the link must make of a byte string sent back to back
  (frames, resynchronisation, length and CRC errors), written from the protocol's text
  (:mod:`spikefab.boards.protocol`), not from the RTL;
* :class:`Shadow` — the device's state as the protocol defines it (weights loaded, sample
  open, results waiting, the golden model's results of the events pushed), and the
  :class:`Expected` reply of each request; on a link built with early exit (protocol 3) the
  golden model runs with the link's rule, and the open sample's result may come before its
  ``SAMPLE`` (:meth:`Shadow.early_result`); on a link built with the on-chip encoder
  (protocol 5) the pixels written since the last start (:meth:`Shadow.pixels_frame`) and the
  encoder's sample, pushed as a whole at its start (:meth:`Shadow.start_encoder`; with the
  ``direct`` kind its result is the golden model of the values, not of spikes, and the
  shadow's ``direct`` tells the fuzzer that ``EVENTS``, ``SPIKES`` and ``INFER`` are refused);
* :func:`read_reply` — a reply read off the serial port, framing checked.

A reply that differs raises :class:`FuzzFailure`.
"""

import collections
import struct
from dataclasses import dataclass

import numpy as np

from spikefab.boards.host import device_images, encoder_trains
from spikefab.boards.protocol import (MAX_PAYLOAD, PIXELS_RESULT, PIXELS_START, REPLY_SYNC,
                                      REQUEST_SYNC, TARGETS, Command, Status, crc8,
                                      decode_spikes)
from spikefab.model import simulate
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream

__all__ = ["Expected", "FuzzFailure", "Parsed", "Reply", "Shadow", "parse_request_bytes",
           "read_reply", "request_events"]


class FuzzFailure(AssertionError):
    """A reply differed from what the protocol states (the message says how and where)."""


# -- the reference parser ---------------------------------------------------------------------
@dataclass
class Parsed:
    """What the link must make of a byte string sent back to back, then silence.

    ``end`` is the index of the byte after which it acts (``None``: it never does, the bytes
    are noise before a sync byte); ``status`` is ``BAD_LENGTH``, ``BAD_CRC`` or ``TIMEOUT``,
    or ``None`` for a well-framed request (``command``, ``payload``) whose status the
    device's state decides. ``command`` is ``None`` when only the sync byte came."""

    end: int = None
    status: Status = None
    command: int = None
    payload: bytes = b""


def parse_request_bytes(data):
    """Parse ``data`` as the link's receiver does (see :class:`Parsed`)."""
    state, body, command, length, payload = "idle", bytearray(), None, 0, bytearray()
    for index, byte in enumerate(data):
        if state == "idle":
            if byte == REQUEST_SYNC:
                state, body, command, payload = "command", bytearray(), None, bytearray()
        elif state == "command":
            command = byte
            body.append(byte)
            state = "length_low"
        elif state == "length_low":
            body.append(byte)
            length = byte
            state = "length_high"
        elif state == "length_high":
            body.append(byte)
            length |= byte << 8
            if length > MAX_PAYLOAD:
                return Parsed(index, Status.BAD_LENGTH, command)
            state = "checksum" if length == 0 else "payload"
        elif state == "payload":
            body.append(byte)
            payload.append(byte)
            if len(payload) == length:
                state = "checksum"
        else:
            if byte != crc8(body):
                return Parsed(index, Status.BAD_CRC, command)
            return Parsed(index, None, command, bytes(payload))
    if state == "idle":
        return Parsed()
    return Parsed(len(data) - 1, Status.TIMEOUT, command)


def request_events(command, payload, n_inputs):
    """The ``(kind, addr)`` events an ``EVENTS``, ``SPIKES`` or ``INFER`` payload carries, or
    ``None`` when the device must refuse it (``BAD_ARGUMENT``): an odd ``EVENTS`` length, a kind
    3, an input the network lacks, a code 255."""
    if command == Command.EVENTS:
        if len(payload) % 2:
            return None
        events = [(word >> 14, word & 0x3FFF)
                  for word in struct.unpack(f"<{len(payload) // 2}H", payload)]
        bad = any(kind > 2 or (kind == SPIKE and addr >= n_inputs) for kind, addr in events)
        return None if bad else events
    return decode_spikes(payload, n_inputs)


# -- the shadow of the device ------------------------------------------------------------------
@dataclass
class Expected:
    """A closed sample's result as the golden model gives it (``None`` fields: unknown)."""

    cls: int = None
    counts: tuple = None
    where: str = ""
    steps: int = None       # the steps the sample ran, on a link built with early exit


class Shadow:
    """What the device's state must be, from the requests it accepted.

    With early exit (``identity.exit``; :attr:`rule`, ``T`` = :attr:`exit_steps`) a sample's
    result comes at the ``STEP`` marker of its exit step, before its ``SAMPLE`` when the host
    has not sent that yet: a ``RESULT`` with nothing closed unread may then return the open
    sample's result (:meth:`early_result`), and that sample's ``SAMPLE`` closes it without a
    second one. Its events after the exit are dropped by the cores, so ``COUNTERS`` bounds
    layer 1's ``events`` + ``dropped`` by the spikes and ``STEP`` markers pushed."""

    def __init__(self, link, networks):
        self.identity = link.identity
        exit = self.identity.exit
        #: The early-exit rule as :func:`spikefab.model.simulate` takes it (``None``: none).
        self.rule = None if exit is None else "exact" if exit == "exact" else \
            ("margin", self.identity.exit_margin)
        self.exit_steps = self.identity.exit_steps
        self.network = link.accelerator.network
        self.n_inputs = self.network.n_inputs
        self.classes = self.network.n_outputs
        self.count_max = (1 << self.identity.count_bits) - 1
        self.images = {}
        for net in networks:                  # the networks whose images may be loaded
            image = self.fitting_image(net)
            if image is not None:
                self.images[id(net)] = image
        if id(networks[0]) not in self.images:
            raise ValueError("the link's memories cannot hold the first network's weights")
        self.networks = [net for net in networks if id(net) in self.images]
        self.memory = {}
        first = self.images[id(networks[0])]
        for key, (word_bytes, depth) in self._geometry().items():
            words = [None] * depth
            words[:len(first[key])] = first[key]
            self.memory[key] = words
        self.weights = networks[0]
        #: The on-chip encoder (``PIXELS``), as the identity names it, or ``None``.
        self.encoder = self.identity.encoder
        self.x_max = (1 << self.identity.encoder_x_bits) - 1
        #: A direct network (docs/design.md §13): its samples only come from ``PIXELS``, so
        #: ``EVENTS``, ``SPIKES`` and ``INFER`` answer ``BAD_COMMAND`` and change nothing.
        self.direct = self.encoder == "direct"
        self.values = None            # the input values of the encoder's direct sample
        self.reset()

    def _geometry(self):
        out = {}
        for layer, geometry in enumerate(self.identity.memories):
            for target, (word_bytes, depth) in enumerate(geometry):
                if word_bytes:
                    out[layer, target] = (word_bytes, depth)
        return out

    def _image_words(self, net):
        words = {}
        for index, image in enumerate(device_images(self.identity, net)):
            for target, name in enumerate(TARGETS):
                memory = image.memories.get(name)
                if memory is not None:
                    words[index, target] = [int(w) for w in memory.words]
        return words

    def fitting_image(self, net):
        """``net``'s words per memory as this link loads them, or ``None`` when they do not
        fit its pointer fields or memory depths."""
        try:
            image = self._image_words(net)
        except ValueError:
            return None
        geometry = self._geometry()
        if any(key not in geometry or len(words) > geometry[key][1]
               for key, words in image.items()):
            return None
        return image

    def reset(self):
        self.open = []                # events of the open sample
        self.open_tainted = False     # the weights changed while it was open
        self.pending = collections.deque()
        self.spikes_pushed = 0
        self.steps_pushed = 0         # STEP markers pushed since RESET
        self.early_read = False       # the open sample's result was read before its SAMPLE
        self.error_possible = False
        self.pixels = []              # written since the encoder's last start
        self.encoder_sample = None    # the Expected of the encoder's last sample

    @property
    def sample_open(self):
        return bool(self.open)

    @property
    def early_possible(self):
        """Whether the open sample's result may be out before its ``SAMPLE`` (early exit: a
        ``STEP`` of it went in and its result was not read yet)."""
        return (self.rule is not None and not self.early_read
                and any(kind == STEP for kind, _ in self.open))

    def early_result(self):
        """The open sample's result read before its ``SAMPLE`` (an :class:`Expected`; its
        fields ``None`` where the golden model cannot tell: doubled spikes, weights changed
        mid-sample, more than ``T`` steps, counts beyond their width), and the sample then
        marked as read. Raises :class:`FuzzFailure` when the rule cannot have held yet: the
        golden model of the steps pushed so far (any later steps cannot change a result taken
        before them) exits later than the steps pushed, or does not exit."""
        steps = self._steps()
        self.early_read = True
        where = "the open sample (read before its SAMPLE)"
        if steps is None or len(steps) > self.exit_steps or self.open_tainted \
                or (self.weights is None and any(steps)):
            return Expected(where=where)
        trains = np.zeros((self.exit_steps, self.n_inputs), dtype=bool)
        for t, step in enumerate(steps):
            trains[t, step] = True
        golden = simulate(self.weights or self.networks[0], trains[None], exit=self.rule)
        ran = int(golden.ran[0])
        if ran > len(steps) or ran >= self.exit_steps:
            raise FuzzFailure(f"a result came for the open sample after {len(steps)} of its "
                              f"steps; the golden model with exit {self.rule!r} exits at step "
                              f"{ran} of {self.exit_steps}" + (" (the last: no early result)"
                                                               if ran >= self.exit_steps
                                                               else ""))
        counts = tuple(int(c) for c in golden.counts[0])
        if max(counts) > self.count_max:
            return Expected(where=where)
        return Expected(int(golden.predicted[0]), counts, where, ran)

    @property
    def encoder_may_run(self):
        """Whether the encoder may still push a sample: its last sample's result is unread
        (the result comes after the encoder's ``SAMPLE``; the link's ``state`` byte shows the
        encoder busy as ``sample_open`` and ``busy``)."""
        return any(expected is self.encoder_sample for expected in self.pending)

    def pixels_frame(self, payload):
        """``(valid, flags, pixels)`` of a ``PIXELS`` payload as the link checks it (the
        protocol's text): a flags byte with bits 2-7 clear, pixels at most ``x_max``, no more
        than the inputs left since the last start, and with the start flag exactly those and
        no sample open from ``EVENTS``/``SPIKES``."""
        if not payload or payload[0] & ~(PIXELS_START | PIXELS_RESULT):
            return False, None, None
        flags, pixels = payload[0], list(payload[1:])
        total = len(self.pixels) + len(pixels)
        if any(value > self.x_max for value in pixels) or total > self.n_inputs:
            return False, flags, None
        if flags & PIXELS_START and (total != self.n_inputs or self.sample_open):
            return False, flags, None
        return True, flags, pixels

    def start_encoder(self, where):
        """The encoder's start: its sample (the golden code of the pixels written) pushed as a
        whole, as the link makes every later push wait for it."""
        trains = encoder_trains(self.identity, self.pixels)
        self.pixels = []
        if self.direct:                  # its events carry the values: predicted from them
            self.values = trains
        self.push(event_stream(trains[None]), where)
        self.values = None
        self.encoder_sample = self.pending[-1]

    @property
    def certainly_idle(self):
        """Nothing in flight: every closed sample's result was read, no sample open."""
        return not self.pending and not self.open

    # -- weights ----------------------------------------------------------------------------
    def load_frame_ok(self, payload):
        """``(valid, layer, target, addr, words)`` of a LOAD payload as the link checks it."""
        if len(payload) < 6:
            return False, None, None, None, None
        layer, target, addr, count = struct.unpack_from("<BBHH", payload)
        word_bytes, depth = self._geometry().get((layer, target), (0, 0))
        if word_bytes == 0 or 6 + count * word_bytes != len(payload) or addr + count > depth:
            return False, layer, target, addr, None
        words = [int.from_bytes(payload[6 + k * word_bytes:6 + (k + 1) * word_bytes], "little")
                 for k in range(count)]
        return True, layer, target, addr, words

    def apply_load(self, layer, target, addr, words):
        memory = self.memory[layer, target]
        changed = any(memory[addr + k] != w for k, w in enumerate(words))
        memory[addr:addr + len(words)] = words
        if changed:
            self.weights = self._match()
            if self.open:
                self.open_tainted = True

    def _match(self):
        for net in self.networks:
            image = self.images[id(net)]
            if all(self.memory[key][:len(words)] == words for key, words in image.items()):
                return net
        return None

    # -- events -----------------------------------------------------------------------------
    def push(self, events, where):
        for kind, addr in events:
            if kind == SAMPLE:
                if not self.early_read:
                    self.pending.append(self._predict(where))
                self.open, self.open_tainted, self.early_read = [], False, False
            else:
                self.open.append((kind, addr))
                if kind == SPIKE:
                    self.spikes_pushed += 1
                else:
                    self.steps_pushed += 1
                    if sum(k == STEP for k, _ in self.open) > self.count_max:
                        self.error_possible = True  # a count may saturate before SAMPLE

    def _steps(self):
        """The open sample's complete steps (lists of input addresses), or ``None`` when one
        has a doubled spike (not a binary train)."""
        steps, current = [], []
        for kind, addr in self.open:
            if kind == SPIKE:
                current.append(addr)
            else:
                steps.append(current)
                current = []
        # Spikes after the last STEP are discarded by the SAMPLE's clearing sweep.
        if any(len(set(step)) != len(step) for step in steps):
            return None
        return steps

    def _predict(self, where):
        steps = self._steps()
        if steps is None:
            return Expected(where=where)          # a doubled spike: not a binary train
        if any(len(step) > 0 for step in steps) and self.weights is None:
            return Expected(where=where)
        if self.open_tainted:
            return Expected(where=where)
        if not steps:
            return Expected(0, (0,) * self.classes, where)
        trains = np.zeros((len(steps), self.n_inputs), dtype=bool)
        for t, step in enumerate(steps):
            trains[t, step] = True
        if self.values is not None:     # the direct encoder's sample: its values
            trains = self.values
        if self.rule is not None and len(steps) != self.exit_steps:
            return Expected(where=where)     # early exit is defined for samples of T steps
        golden = simulate(self.weights or self.networks[0], trains[None], exit=self.rule)
        counts = tuple(int(c) for c in golden.counts[0])
        if max(counts) > self.count_max:
            self.error_possible = True
            return Expected(where=where)
        return Expected(int(golden.predicted[0]), counts, where,
                        None if self.rule is None else int(golden.ran[0]))


# -- reading replies ---------------------------------------------------------------------------
@dataclass
class Reply:
    status: int
    command: int
    payload: bytes
    latency: int         # cycles from the request's last bit to the reply's first byte


def read_reply(port, sent_until):
    """Read one reply strictly: the first byte must be the sync byte. ``None`` if nothing
    came within the port's timeout; raises :class:`FuzzFailure` on a partial or garbled
    reply."""
    first = port.read(1)
    if not first:
        return None
    latency = port.cycles - sent_until
    if first[0] != REPLY_SYNC:
        raise FuzzFailure(f"a reply starts with 0x{first[0]:02x}, not the sync byte")
    head = port.read(4)
    if len(head) != 4:
        raise FuzzFailure(f"a reply stops after {1 + len(head)} bytes")
    length = struct.unpack_from("<H", head, 2)[0]
    payload = port.read(length)
    check = port.read(1)
    if len(payload) != length or len(check) != 1:
        raise FuzzFailure(f"a reply of length {length} stops after {len(payload)} bytes")
    if crc8(head + payload) != check[0]:
        raise FuzzFailure("a reply with a bad CRC")
    return Reply(head[0], head[1], payload, latency)
