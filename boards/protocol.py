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

``IDENTIFY`` (no payload) → the :class:`Identity` block.
``LOAD`` ``layer u8, target u8, addr u16, count u16, words`` — writes ``count`` words of
    ``word_bytes`` bytes each into weight memory ``target`` (0 pointers, 1 bitmaps, 2 weights)
    of ``layer`` from ``addr`` on. Refused with ``BUSY`` unless the accelerator is idle.
``EVENTS`` ``u16 events`` — pushed into the accelerator in order; an event is
    ``addr | kind << 14`` (kind 0 SPIKE, 1 STEP, 2 SAMPLE).
``RESULT`` (no payload) → ``cls u16, counts u16 x classes, cycles u32`` of the oldest result,
    or status ``EMPTY``.
``COUNTERS`` (no payload) → per layer ``events, words, synaptic_updates, busy, stall`` (u32),
    then per layer the queue ``high_water`` (u16), then ``error u8, idle u8``.
"""

import enum
import struct
from dataclasses import dataclass

from amaranth.lib import crc

__all__ = ["REQUEST_SYNC", "REPLY_SYNC", "MAX_PAYLOAD", "PROTOCOL_VERSION", "Command",
           "Status", "ProtocolError", "crc8", "encode_request", "encode_event",
           "Identity", "FORMAT_CODES"]

REQUEST_SYNC = 0xA5
REPLY_SYNC = 0x5A
MAX_PAYLOAD = 512
PROTOCOL_VERSION = 1
MAGIC = b"SPKF"
FORMAT_CODES = {"dense": 0, "csc": 1, "bitmap": 2}
TARGETS = ("pointers", "bitmaps", "weights")

CRC8 = crc.catalog.CRC8_SMBUS(data_width=8)


class Command(enum.IntEnum):
    IDENTIFY = 1
    LOAD = 2
    EVENTS = 3
    RESULT = 4
    COUNTERS = 5


class Status(enum.IntEnum):
    OK = 0
    BAD_CRC = 1
    BAD_COMMAND = 2
    BAD_LENGTH = 3
    BAD_ARGUMENT = 4
    TIMEOUT = 5
    EMPTY = 6
    BUSY = 7


class ProtocolError(RuntimeError):
    """A reply was malformed, or the device answered with an error status."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status


def crc8(data):
    return CRC8.compute(bytes(data))


def encode_request(command, payload=b""):
    payload = bytes(payload)
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes is too long; allowed range is "
                         f"[0, {MAX_PAYLOAD}]")
    body = bytes([int(command)]) + struct.pack("<H", len(payload)) + payload
    return bytes([REQUEST_SYNC]) + body + bytes([crc8(body)])


def encode_event(kind, addr):
    if not 0 <= addr < 1 << 14:
        raise ValueError(f"event address {addr} is out of range; allowed range is [0, 16383]")
    return struct.pack("<H", addr | int(kind) << 14)


@dataclass(frozen=True)
class Identity:
    """What ``IDENTIFY`` tells about a device: protocol and spikeforge version, the network
    shape, the hardware configuration, and for every layer the geometry of its weight
    memories (``word_bytes`` and ``depth`` per target, 0 where a format has no such memory)."""

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

    def encode(self):
        out = bytearray(MAGIC)
        out += bytes([self.protocol, *self.version, len(self.shape) - 1])
        out += b"".join(struct.pack("<H", n) for n in self.shape)
        for lanes, fmt, depth in zip(self.lanes, self.formats, self.queue_depths):
            out += bytes([lanes, FORMAT_CODES[fmt]]) + struct.pack("<H", depth)
        out += bytes([int(self.dense_baseline), self.count_bits])
        for layer in self.memories:
            for word_bytes, depth in layer:
                out += bytes([word_bytes]) + struct.pack("<H", depth)
        for (start_bits, length_bits), fingerprint in zip(self.pointer_fields, self.neurons):
            out += bytes([start_bits, length_bits]) + struct.pack("<I", fingerprint)
        return bytes(out)

    @classmethod
    def decode(cls, data):
        data = bytes(data)
        if data[:4] != MAGIC:
            raise ProtocolError(f"not a spikeforge device (identity starts {data[:4]!r})")
        protocol, major, minor, patch, layers = data[4:9]
        pos = 9
        shape = struct.unpack_from(f"<{layers + 1}H", data, pos)
        pos += 2 * (layers + 1)
        names = {code: name for name, code in FORMAT_CODES.items()}
        lanes, formats, depths = [], [], []
        for _ in range(layers):
            lanes.append(data[pos])
            formats.append(names[data[pos + 1]])
            depths.append(struct.unpack_from("<H", data, pos + 2)[0])
            pos += 4
        dense, count_bits = data[pos], data[pos + 1]
        pos += 2
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
                   tuple(neurons))


def neuron_fingerprint(layer):
    """CRC-32 of a layer's neuron parameters and bias: what a bitstream fixes besides the
    shape (the weights can be loaded at run time, these cannot)."""
    import zlib
    text = (f"{layer.theta},{layer.v_bits},{layer.w_bits},{layer.leak},{layer.k},{layer.m},"
            f"{layer.f},{layer.reset},{layer.timing}:" + ",".join(map(str, layer.bias.tolist())))
    return zlib.crc32(text.encode())
