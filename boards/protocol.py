"""The UART host-link protocol: framed, checksummed request/reply (host and device side).

Request (host → device)::

    0xA5 | command | length (u16 LE) | payload (length bytes) | CRC-8

Reply (device → host)::

    0x5A | status | command | length (u16 LE) | payload | CRC-8

The CRC is CRC-8/SMBUS (polynomial 0x07, initial 0, ``amaranth.lib.crc``) over every byte after
the sync byte. Bytes before a sync byte are ignored (resynchronisation). A request whose bytes
stop arriving for ``timeout`` cycles is answered ``TIMEOUT``; a bad CRC ``BAD_CRC``; an unknown
command ``BAD_COMMAND``; a payload longer than :data:`MAX_PAYLOAD` ``BAD_LENGTH`` (the rest of
the frame is skipped until the line is quiet); a payload that is well-framed but invalid
(address out of range, event for a non-existent input, wrong length for the command)
``BAD_ARGUMENT``. The device acts on a request only after its CRC checked and its payload
validated, so a rejected request changes nothing. The protocol is strictly request/reply: send
the next request after the reply.

Commands and payloads (all integers little-endian):

``IDENTIFY`` (no payload) → the :class:`Identity` block, then the link's ``state u8``.

``LOAD`` ``layer u8, target u8, addr u16, count u16, words`` — writes ``count`` words of
    ``word_bytes`` bytes each into weight memory ``target`` (0 pointers, 1 bitmaps, 2 weights)
    of ``layer`` from ``addr`` on. Refused with ``BUSY`` unless the accelerator is idle.

``EVENTS`` ``u16 events`` — pushed into the accelerator in order; an event is
    ``addr | kind << 14`` (kind 0 SPIKE, 1 STEP, 2 SAMPLE). The accelerator takes them as fast
    as it can; it stops taking them for good only when a result waits unread and its queues
    have filled behind it. If it then takes no event for ``timeout`` cycles the push stops and
    the reply is ``STALLED`` with payload ``taken u16``: the first ``taken`` events of the
    frame went in, the rest did not (the one reply that reports a partly applied request;
    read the result, or ``RESET``).

``SPIKES`` ``u8 codes`` (version 4) — the same events, one byte each where it can: a cursor
    starts at input 0 with the frame and after each ``STEP`` and ``SAMPLE``; a code ``c`` below
    :data:`SPIKES_SKIP` (252) is a SPIKE at ``cursor + c`` (which must be an input of the
    network), which becomes the cursor; ``SPIKES_SKIP`` moves the cursor 252 inputs on (no
    event); :data:`SPIKES_STEP` (253) is a STEP and :data:`SPIKES_SAMPLE` (254) a SAMPLE (both
    put the cursor back to 0); 255 is invalid. A step's spikes therefore go in ascending
    address order (an input twice: code 0), each taking a byte (plus a ``SKIP`` per 252 inputs
    of gap); a host with events in another order sends ``EVENTS``. Pushed and answered as
    ``EVENTS`` (the ``STALLED`` reply's ``taken`` counts events, not bytes);
    :func:`encode_spikes` and :func:`decode_spikes` are the two directions.

``INFER`` ``u8 codes`` (version 4) — pushed as ``SPIKES`` pushes them; then the reply waits
    for a result and is ``RESULT``'s reply: the oldest result (the sample this frame closed
    with its ``SAMPLE``, when none was left unread before), or ``EMPTY`` when none is due (no
    ``SAMPLE`` pushed whose result is unread). One round trip per sample instead of two or
    more; ``STALLED`` as for ``EVENTS``.

``PIXELS`` ``flags u8, pixels u8...`` (version 5; a device built with an on-chip input encoder,
    whose identity names it) — one sample's intensities in raster order, continuing where the
    last ``PIXELS`` frame since the last start stopped (input 0 after a start or ``RESET``);
    each at most the encoder's ``x_max = 2**x_bits - 1``. ``flags`` bit 0 (:data:`PIXELS_START`):
    after writing them, start the encoder on the sample (all ``N0`` pixels must then have been
    written since the last start, and no sample may be open from ``EVENTS``/``SPIKES``); it
    pushes the sample's events — the rate or latency trains of the golden model, per step in
    ascending address order, ``STEP``, and ``SAMPLE`` after the last step — while the link
    takes the next requests. Bit 1 (:data:`PIXELS_RESULT`): then answer as ``INFER`` does (the
    oldest result, or ``EMPTY``). Other bits must be 0. Anything else is ``BAD_ARGUMENT`` and
    writes nothing. A ``PIXELS``, ``EVENTS``, ``SPIKES`` or ``INFER`` request that arrives
    while the encoder still pushes a sample waits for it (``STALLED`` with ``taken`` 0 after
    ``timeout`` cycles without progress behind an unread result). A device without an encoder
    answers ``BAD_COMMAND``.

``RESULT`` (no payload) → ``cls u16, counts u16 x classes, cycles u32`` of the oldest result
    (then ``steps u16`` on a device built with early exit), or status ``EMPTY``.

``COUNTERS`` (no payload) → per layer ``events, words, synaptic_updates, busy, stall`` (and
    ``dropped`` with early exit) (u32),
    then per layer the queue ``high_water`` (u16), then ``error u8, idle u8, state u8``.

``RESET`` (no payload) → ``discarded u8, unread u16``: returns the accelerator to the state
    of a freshly configured board, keeping the weights. It empties the event queues, clears
    every membrane, refractory bit and accumulator, drops the result waiting and those still
    in flight, clears the sticky error flag, and zeroes the performance counters, the queue
    high-water marks and the result cycle counter. ``discarded`` is the link's ``state`` byte
    as it stood just before (what the reset threw away) and ``unread`` the number of samples
    closed by a ``SAMPLE`` whose results were never read (waiting or still in flight). The
    reply comes after the reset is complete; the link takes no other request meanwhile, so
    a reset is never half applied.

The link's ``state`` byte (:class:`LinkState`), live when sent: bit 0 ``sample_open`` (events
went in since the last ``SAMPLE``: a sample was started and not closed), bit 1
``result_waiting`` (a result waits unread), bit 2 ``busy`` (the accelerator is not idle: events
in flight or a result waiting), bit 3 ``error`` (the accelerator's sticky error flag); bits
4-7 are 0.

A host that opens a session sends ``RESET`` first (:class:`~spikefab.boards.host.Device`
does): whatever an earlier host left behind — a sample without its ``SAMPLE``, a result never
read, events half through the pipeline — would otherwise leak into the first answers.

Version 2 added ``RESET``, the ``STALLED`` reply and the ``state`` byte (version 1 had none of
them, and an ``EVENTS`` push behind an unread result could hang the link). Version 3 added
early exit (docs/design.md §4): the identity block's ``exit u8, exit_margin u16, exit_steps
u16`` after ``count_bits``, and on a device built with it the ``steps u16`` a sample ran at the
end of a ``RESULT`` and a sixth counter, ``dropped``, per layer in ``COUNTERS``. Version 4
added ``SPIKES`` and ``INFER`` (a host sends ``EVENTS`` and ``RESULT`` to a version-3
device). Version 5 added ``PIXELS`` and, in the identity block after ``exit_steps``, the
on-chip encoder: ``encoder u8, x_bits u8, steps u16, scan u8, seed u32``
(:data:`ENCODER_CODES`; all 0 without one).
"""

import enum
import operator
import struct
from dataclasses import dataclass, field, replace

from amaranth.lib import crc

__all__ = ["REQUEST_SYNC", "REPLY_SYNC", "MAX_PAYLOAD", "PROTOCOL_VERSION", "Command",
           "Status", "ProtocolError", "crc8", "encode_request", "encode_event", "encode_spikes",
           "decode_spikes", "SPIKES_SKIP", "SPIKES_STEP", "SPIKES_SAMPLE",
           "Identity", "LinkState", "ResetReport", "FORMAT_CODES", "EXIT_CODES", "ENCODER_CODES",
           "PIXELS_START", "PIXELS_RESULT"]

REQUEST_SYNC = 0xA5
REPLY_SYNC = 0x5A
MAX_PAYLOAD = 512
PROTOCOL_VERSION = 5
MAGIC = b"SPKF"
FORMAT_CODES = {"dense": 0, "csc": 1, "bitmap": 2, "kernel": 3}
TARGETS = ("pointers", "bitmaps", "weights")
#: The identity block's ``exit`` byte: no early exit, ``exact``, ``margin``.
EXIT_CODES = {None: 0, "exact": 1, "margin": 2}
#: The identity block's ``encoder`` byte (version 5): no on-chip encoder, ``rate``, ``latency``,
#: ``direct`` (a direct network's values, docs/design.md §13).
ENCODER_CODES = {None: 0, "rate": 1, "latency": 2, "direct": 3}

CRC8 = crc.catalog.CRC8_SMBUS(data_width=8)


class Command(enum.IntEnum):
    IDENTIFY = 1
    LOAD = 2
    EVENTS = 3
    RESULT = 4
    COUNTERS = 5
    RESET = 6
    SPIKES = 7
    INFER = 8
    PIXELS = 9


#: ``PIXELS`` flags: start the sample after these pixels; then answer with a result.
PIXELS_START, PIXELS_RESULT = 0x01, 0x02


#: ``SPIKES`` codes: below ``SPIKES_SKIP`` a spike at the cursor plus the code; then the cursor
#: skip, the ``STEP`` and ``SAMPLE`` markers (the markers' low two bits are their event kinds).
SPIKES_SKIP, SPIKES_STEP, SPIKES_SAMPLE = 0xFC, 0xFD, 0xFE


class Status(enum.IntEnum):
    OK = 0
    BAD_CRC = 1
    BAD_COMMAND = 2
    BAD_LENGTH = 3
    BAD_ARGUMENT = 4
    TIMEOUT = 5
    EMPTY = 6
    BUSY = 7
    STALLED = 8


class ProtocolError(RuntimeError):
    """A reply was malformed, or the device answered with an error status."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def crc8(data):
    return CRC8.compute(bytes(data))


def _is_index(value):
    """An integer (Python, NumPy or an IntEnum member), not a bool or a float."""
    try:
        operator.index(value)
    except TypeError:
        return False
    return not isinstance(value, bool)


def encode_request(command, payload=b""):
    if not _is_index(command) or not 0 <= command <= 0xFF:
        raise TypeError(f"command must be a Command (or a byte in [0, 255]), not {command!r}")
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError(f"payload must be bytes, not {type(payload).__name__}")
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is too long; allowed range is "
                         f"[0, {MAX_PAYLOAD}]")
    body = bytes([int(command)]) + struct.pack("<H", len(payload)) + payload
    return bytes([REQUEST_SYNC]) + body + bytes([crc8(body)])


def encode_event(kind, addr):
    if not _is_index(addr):
        raise TypeError(f"event address must be an integer in [0, 16383], not {addr!r}")
    if not 0 <= addr < 1 << 14:
        raise ValueError(f"event address {addr} is out of range; allowed range is [0, 16383]")
    return struct.pack("<H", addr | int(kind) << 14)


def _spike_codes(kind, addr, cursor):
    """The ``SPIKES`` codes of one event from ``cursor`` and the cursor after it (``None``
    when the event cannot follow the cursor: a spike below it)."""
    if kind == 0:                                    # SPIKE
        if addr < cursor:
            return None, cursor
        skips, code = divmod(addr - cursor, SPIKES_SKIP)
        return bytes([SPIKES_SKIP] * skips + [code]), addr
    if kind in (1, 2):
        return bytes([SPIKES_STEP if kind == 1 else SPIKES_SAMPLE]), 0
    raise ValueError(f"event kind {kind} is not SPIKE (0), STEP (1) or SAMPLE (2)")


def encode_spikes(events, limit=MAX_PAYLOAD):
    """The payloads of ``SPIKES`` frames (at most ``limit`` bytes each, every frame starting
    its cursor at 0) that carry ``(kind, addr)`` events in order, or ``None`` when a step's
    spikes are not in ascending address order (send them as ``EVENTS``)."""
    if not _is_index(limit) or not 1 <= limit <= MAX_PAYLOAD:
        raise ValueError(f"limit must be an integer in [1, {MAX_PAYLOAD}], not {limit!r}")
    payloads, frame, cursor = [], bytearray(), 0
    for kind, addr in events:
        codes, after = _spike_codes(int(kind), int(addr), cursor)
        if codes is None:
            return None
        if len(frame) + len(codes) > limit:           # a new frame: its cursor starts at 0
            payloads.append(bytes(frame))
            codes, after = _spike_codes(int(kind), int(addr), 0)
            if len(codes) > limit:
                raise ValueError(f"a spike at input {addr} needs {len(codes)} bytes; a frame "
                                 f"holds {limit}")
            frame = bytearray()
        frame += codes
        cursor = after
    if frame:
        payloads.append(bytes(frame))
    return payloads


def decode_spikes(payload, n_inputs):
    """The ``(kind, addr)`` events of a ``SPIKES`` payload for a network of ``n_inputs``
    inputs, or ``None`` when the device must refuse it (``BAD_ARGUMENT``: a code 255, or a
    spike at an input the network does not have)."""
    events, cursor = [], 0
    for code in bytes(payload):
        if code < SPIKES_SKIP:
            if cursor + code >= n_inputs:
                return None
            cursor += code
            events.append((0, cursor))
        elif code == SPIKES_SKIP:
            cursor += SPIKES_SKIP
        elif code in (SPIKES_STEP, SPIKES_SAMPLE):
            events.append((code & 3, 0))
            cursor = 0
        else:
            return None
    return events


@dataclass(frozen=True)
class LinkState:
    """The link's live ``state`` byte (see the module docstring for its bits)."""

    sample_open: bool
    result_waiting: bool
    busy: bool
    error: bool

    BITS = ("sample_open", "result_waiting", "busy", "error")

    def encode(self):
        return bytes([sum(bool(getattr(self, name)) << bit
                          for bit, name in enumerate(self.BITS))])

    @classmethod
    def decode(cls, value):
        if isinstance(value, (bytes, bytearray)):
            if len(value) != 1:
                raise ProtocolError(f"a state byte is 1 byte, not {len(value)}")
            value = value[0]
        if value >> len(cls.BITS):
            raise ProtocolError(f"state byte 0x{value:02x} has reserved bits set")
        return cls(*(bool(value >> bit & 1) for bit in range(len(cls.BITS))))


@dataclass(frozen=True)
class ResetReport:
    """What a ``RESET`` discarded: the :class:`LinkState` just before it (a sample was open, a
    result waited unread, the accelerator was busy, the error flag was set) and ``unread``, the
    samples closed by ``SAMPLE`` whose results were never read. ``clean`` when nothing was
    discarded."""

    sample_open: bool
    result_waiting: bool
    busy: bool
    error: bool
    unread: int

    SIZE = 3

    @property
    def clean(self):
        return not (self.sample_open or self.result_waiting or self.busy or self.error
                    or self.unread)

    def encode(self):
        state = LinkState(self.sample_open, self.result_waiting, self.busy, self.error)
        return state.encode() + struct.pack("<H", self.unread)

    @classmethod
    def decode(cls, data):
        data = bytes(data)
        if len(data) != cls.SIZE:
            raise ProtocolError(f"RESET reply of {len(data)} bytes, expected {cls.SIZE}")
        state = LinkState.decode(data[0])
        return cls(state.sample_open, state.result_waiting, state.busy, state.error,
                   struct.unpack_from("<H", data, 1)[0])


@dataclass(frozen=True)
class Identity:
    """What ``IDENTIFY`` tells about a device: protocol and spikefab version, the network
    shape, the hardware configuration, and for every layer the geometry of its weight
    memories (``word_bytes`` and ``depth`` per target, 0 where a format has no such memory).

    The block: ``b"SPKF", protocol u8, version u8 x3, layers u8, shape u16 x (layers + 1)``,
    per layer ``lanes u16, format u8, queue_depth u16``, then ``dense_baseline u8,
    count_bits u8, exit u8, exit_margin u16, exit_steps u16`` (:data:`EXIT_CODES`; 0 without
    early exit), from protocol version 5 ``encoder u8, encoder_x_bits u8, encoder_steps u16,
    encoder_scan u8, encoder_seed u32`` (:data:`ENCODER_CODES`; 0 without an on-chip
    encoder), per layer and target ``word_bytes u8, depth u16``, per layer
    ``start_bits u8, length_bits u8, neuron fingerprint u32``."""

    protocol: int
    version: tuple
    shape: tuple
    lanes: tuple
    formats: tuple
    queue_depths: tuple
    dense_baseline: bool
    count_bits: int
    memories: tuple        # per layer: ((word_bytes, depth) for pointers, bitmaps, weights)
    pointer_fields: tuple  # per layer: (start_bits, length_bits) of a pointer word
    neurons: tuple         # per layer: CRC-32 of the neuron parameters and bias (fixed in RTL)
    exit: str = None       # early exit: None, "exact" or "margin"
    exit_margin: int = 0   # the margin of "margin"
    exit_steps: int = 0    # T, the steps of every sample, with early exit
    encoder: str = None    # the on-chip input encoder (PIXELS): None, "rate", "latency", "direct"
    encoder_x_bits: int = 0
    encoder_steps: int = 0
    encoder_scan: int = 0
    encoder_seed: int = 0
    #: The link's live state when the ``IDENTIFY`` reply was sent (``None`` for a block built
    #: on the host side); not part of what a bitstream is, so not compared.
    state: LinkState = field(default=None, compare=False)

    @property
    def sample_open(self):
        """Whether a sample was open when the device answered (``None`` if not known)."""
        return None if self.state is None else self.state.sample_open

    def encode(self):
        """The identity block (the ``IDENTIFY`` reply without its trailing state byte)."""
        out = bytearray(MAGIC)
        out += bytes([self.protocol, *self.version, len(self.shape) - 1])
        out += b"".join(struct.pack("<H", n) for n in self.shape)
        for lanes, fmt, depth in zip(self.lanes, self.formats, self.queue_depths):
            out += struct.pack("<HBH", lanes, FORMAT_CODES[fmt], depth)
        out += bytes([int(self.dense_baseline), self.count_bits, EXIT_CODES[self.exit]])
        out += struct.pack("<HH", self.exit_margin, self.exit_steps)
        if self.protocol >= 5:
            out += struct.pack("<BBHBI", ENCODER_CODES[self.encoder], self.encoder_x_bits,
                               self.encoder_steps, self.encoder_scan, self.encoder_seed)
        for layer in self.memories:
            for word_bytes, depth in layer:
                out += bytes([word_bytes]) + struct.pack("<H", depth)
        for (start_bits, length_bits), fingerprint in zip(self.pointer_fields, self.neurons):
            out += bytes([start_bits, length_bits]) + struct.pack("<I", fingerprint)
        return bytes(out)

    @classmethod
    def decode_reply(cls, data):
        """An ``IDENTIFY`` reply payload: the identity block, then exactly one state byte."""
        data = bytes(data)
        if len(data) < 1:
            raise ProtocolError("empty IDENTIFY reply")
        identity = cls.decode(data[:-1])
        return replace(identity, state=LinkState.decode(data[-1]))

    @classmethod
    def decode(cls, data):
        """The identity block, exactly (no byte short or left over)."""
        data = bytes(data)
        if data[:4] != MAGIC:
            raise ProtocolError(f"not a spikefab device (identity starts {data[:4]!r})")
        try:
            return cls._parse(data)
        except (IndexError, KeyError, ValueError, struct.error):
            raise ProtocolError(f"identity block of {len(data)} bytes is malformed") from None

    @classmethod
    def _parse(cls, data):
        protocol, major, minor, patch, layers = data[4:9]
        pos = 9
        shape = struct.unpack_from(f"<{layers + 1}H", data, pos)
        pos += 2 * (layers + 1)
        names = {code: name for name, code in FORMAT_CODES.items()}
        lanes, formats, depths = [], [], []
        for _ in range(layers):
            count, code, depth = struct.unpack_from("<HBH", data, pos)
            lanes.append(count)
            formats.append(names[code])
            depths.append(depth)
            pos += 5
        dense, count_bits = data[pos], data[pos + 1]
        exit = {code: name for name, code in EXIT_CODES.items()}[data[pos + 2]]
        exit_margin, exit_steps = struct.unpack_from("<HH", data, pos + 3)
        pos += 7
        encoder = (None, 0, 0, 0, 0)
        if protocol >= 5:
            code, *fields = struct.unpack_from("<BBHBI", data, pos)
            encoder = ({c: name for name, c in ENCODER_CODES.items()}[code], *fields)
            pos += 9
        memories = []
        for _ in range(layers):
            layer = []
            for _ in TARGETS:
                layer.append((data[pos], struct.unpack_from("<H", data, pos + 1)[0]))
                pos += 3
            memories.append(tuple(layer))
        fields, neurons = [], []
        for _ in range(layers):
            fields.append((data[pos], data[pos + 1]))
            neurons.append(struct.unpack_from("<I", data, pos + 2)[0])
            pos += 6
        if pos != len(data):
            raise ProtocolError(f"identity block of {len(data)} bytes, expected {pos}")
        return cls(protocol, (major, minor, patch), tuple(shape), tuple(lanes), tuple(formats),
                   tuple(depths), bool(dense), count_bits, tuple(memories), tuple(fields),
                   tuple(neurons), exit, exit_margin, exit_steps, *encoder)


def neuron_fingerprint(layer, placement=None):
    """CRC-32 of a layer's neuron parameters and bias, and of its neuron placement when it is
    not the identity (``placement``: the permutation, :mod:`spikefab.model.placement`; the
    identity's fingerprint is the one without a placement): what a bitstream fixes besides
    the shape (the weights can be loaded at run time, these cannot)."""
    import zlib
    text = (f"{layer.theta},{layer.v_bits},{layer.w_bits},{layer.leak},{layer.k},{layer.m},"
            f"{layer.f},{layer.reset},{layer.timing}:" + ",".join(map(str, layer.bias.tolist())))
    if placement is not None:
        text += ";placement:" + ",".join(str(int(h)) for h in placement)
    return zlib.crc32(text.encode())
