"""Host driver: talk to a spikefab board (or its simulation) over the UART host link.

>>> device = Device(open_serial("/dev/ttyUSB1"))          # doctest: +SKIP
>>> device.load(network)                                    # doctest: +SKIP
>>> results = device.infer(spikes, progress=True)           # doctest: +SKIP

The same :class:`Device` code drives a real board (:func:`open_serial`, pyserial) and the
simulated board top (:class:`spikefab.boards.simulated.SimulatedSerial`): a *port* is any
object with ``write(bytes)``, ``read(n)`` (returning fewer bytes on timeout) and a ``timeout``
attribute in seconds (and optionally ``reset_input_buffer()``, as pyserial has).

A session starts with ``RESET`` (:meth:`Device.reset`): a host that died mid-sample leaves
the device with a sample open, state in its membranes and accumulators, or a result nobody
read, and the next host's first answers would be silently wrong without it.
"""

import struct
import time

import numpy as np
from dataclasses import dataclass

from spikefab.model import compile_weights
from spikefab.model.checks import per_layer
from spikefab.model.kernel_image import KERNEL_FORMAT, compile_kernel
from spikefab.model.placement import resolve_placement
from spikefab.model.events import event_stream
from spikefab.model.simulate import check_spike_trains

from .protocol import (MAX_PAYLOAD, PIXELS_RESULT, PIXELS_START, REPLY_SYNC, SPIKES_SAMPLE,
                       SPIKES_SKIP, TARGETS, Command, Identity, LinkState, ProtocolError,
                       ResetReport, Status, crc8, encode_event, encode_request, encode_spikes,
                       neuron_fingerprint)

__all__ = ["Device", "DeviceError", "ResetReport", "Result", "device_images",
           "device_placements", "encoder_trains", "open_serial", "typical_inputs"]

EVENTS_PER_FRAME = MAX_PAYLOAD // 2


class DeviceError(ProtocolError):
    """The device answered a request with an error status. After ``STALLED``, ``taken`` is the
    number of events of the request that went in (otherwise ``None``)."""

    def __init__(self, message, status=None, taken=None):
        super().__init__(message, status)
        self.taken = taken


@dataclass(frozen=True)
class Result:
    """One sample's result: predicted class, per-class counts, and the device's cycle count
    (since its first input event after power-on or ``RESET``) when the result became valid;
    on a device built with early exit, the ``steps`` the sample ran (else ``None``)."""

    cls: int
    counts: tuple
    cycles: int
    steps: int = None


def open_serial(port, baud=None, timeout=1.0, *, board="icebreaker"):
    """Open a serial port with pyserial (8N1) at ``baud``, by default ``board``'s
    :attr:`~spikefab.boards.registry.Board.default_baud` (the rate ``spikefab synth`` builds
    the board's bitstream with unless given ``--baud``)."""
    if baud is None:
        from .registry import get_board
        baud = get_board(board).default_baud
    try:
        import serial
    except ImportError:
        raise ModuleNotFoundError("the host driver needs pyserial, which is not installed: "
                                  "pip install 'spikefab[fpga]'", name="serial") from None
    return serial.Serial(port, baudrate=baud, timeout=timeout)


#: Requests that have the same effect when the device receives them twice (a resend after a
#: lost reply is safe): they read, or write the same words again, or reset.
RESENDABLE = frozenset({Command.IDENTIFY, Command.COUNTERS, Command.LOAD, Command.RESET})


def device_placements(identity, network, placements=None):
    """The neuron placement of each layer of the device with ``identity``, checked against
    ``network``'s neuron parameters and bias (docs/design.md §9: a placement is fixed by the
    bitstream, like the biases, and is part of the identity's neuron fingerprint).

    ``placements``: one entry per layer (``"identity"``, ``"balanced"`` — computed from
    ``network``'s weights — or a permutation), or ``None`` to find it: the identity, else the
    balanced placement of ``network``'s weights. Returns per layer the permutation or ``None``
    (the identity); raises ``ValueError`` naming the layer when none matches."""
    given = (per_layer("placements", placements, len(network)) if placements is not None
             else [None] * len(network))
    out = []
    for index, (layer, want) in enumerate(zip(network, given)):
        if identity.formats[index] == KERNEL_FORMAT:
            out.append(None)
            continue
        tried = ["identity", "balanced"] if want is None else [want]
        for candidate in tried:
            concrete = resolve_placement(layer.weights, identity.lanes[index], candidate)
            if neuron_fingerprint(layer, concrete) == identity.neurons[index]:
                out.append(concrete)
                break
        else:
            named = ("the identity or the balanced placement of these weights" if want is None
                     else f"placement {want if isinstance(want, str) else 'given'}")
            raise ValueError(f"layer {index + 1}'s neuron parameters or bias differ from the "
                             f"ones the bitstream was generated with, or its neuron placement "
                             f"is not {named} (they are fixed in hardware; only weights load "
                             f"at run time: pass the placement it was built with)")
    return out


def device_images(identity, network, placements=None):
    """``network``'s weight images as a device with ``identity`` stores them: each layer
    compiled for the device's lanes, format, pointer fields and neuron placement
    (``placements``: per layer a permutation or ``None`` for the identity, as
    :func:`device_placements` returns them; default every layer the identity)."""
    placements = [None] * len(network) if placements is None else list(placements)
    images = []
    for index, layer in enumerate(network):
        fields = {}
        if identity.formats[index] != "dense":
            start_bits, length_bits = identity.pointer_fields[index]
            fields = dict(start_bits=start_bits, length_bits=length_bits)
        if identity.formats[index] == KERNEL_FORMAT:
            images.append(compile_kernel(layer, identity.lanes[index]))
            continue
        images.append(compile_weights(layer, identity.lanes[index], identity.formats[index],
                                      placement=placements[index], **fields))
    return images


class Device:
    """A spikefab accelerator behind a UART host link.

    Parameters
    ----------
    port :
        ``write(bytes)``, ``read(n)``, ``timeout``.
    retries : int
        How many times a request is sent again after the device reported it corrupted
        (``BAD_CRC``) or cut short (``TIMEOUT``) — then the device acted on nothing — or, for
        a request that may be applied twice (:data:`RESENDABLE`: ``IDENTIFY``, ``COUNTERS``,
        ``LOAD``, ``RESET``), after its reply was lost or corrupted. ``EVENTS``, ``SPIKES``,
        ``INFER``, ``PIXELS`` and ``RESULT`` are never resent after a lost reply: the device
        may have pushed the events, written the pixels or handed out the result, and a
        resend would duplicate spikes or pixels or lose a result; the driver raises
        :class:`~.protocol.ProtocolError` instead (open a new session, or ``reset()``, and
        repeat the sample).
    reset : bool
        Open the session with ``RESET`` (the default), so nothing an earlier host left in the
        device — an open sample, an unread result — leaks into this session's answers. Pass
        ``False`` only to look at the device as it was left (``identify().sample_open``).

    Members
    -------
    discarded : ResetReport or None
        What the opening ``RESET`` discarded (``None`` with ``reset=False``).
    """

    def __init__(self, port, *, retries=2, reset=True):
        missing = [name for name in ("read", "write", "timeout") if not hasattr(port, name)]
        if missing:
            raise TypeError(f"port must be an open serial port (read, write and timeout, as "
                            f"open_serial() returns), not {type(port).__name__} (it has no "
                            f"{', '.join(missing)})")
        self.port = port
        self.retries = retries
        self._identity = None
        self.discarded = self._open_session() if reset else None

    # -- framing -----------------------------------------------------------------------------
    def _read_exact(self, count):
        data = bytearray()
        while len(data) < count:
            chunk = self.port.read(count - len(data))
            if not chunk:
                raise ProtocolError(f"no reply from the device within {self.port.timeout} s "
                                    f"(got {len(data)} of {count} bytes)")
            data += chunk
        return bytes(data)

    def _reply(self):
        while True:                                    # skip anything before the sync byte
            byte = self._read_exact(1)
            if byte[0] == REPLY_SYNC:
                break
        head = self._read_exact(4)
        status, command, length = head[0], head[1], struct.unpack("<H", head[2:4])[0]
        payload = self._read_exact(length)
        check = self._read_exact(1)[0]
        if crc8(head + payload) != check:
            raise ProtocolError("reply with a bad CRC")
        return Status(status), command, payload

    def request(self, command, payload=b"", *, accept=(Status.OK,)):
        """Send one request and return ``(status, payload)`` of its reply; a status outside
        ``accept`` raises :class:`DeviceError`."""
        frame = encode_request(command, payload)
        for attempt in range(self.retries + 1):
            self.port.write(frame)
            try:
                status, echoed, data = self._reply()
            except ProtocolError as error:
                if Command(command) not in RESENDABLE:
                    raise ProtocolError(
                        f"the reply to {Command(command).name} was lost or corrupted ({error}); "
                        f"the device may have acted on the request, so it is not sent again: "
                        f"call reset() (or open a new Device) and repeat the sample") from None
                if attempt == self.retries:
                    raise
                continue
            if status in (Status.BAD_CRC, Status.TIMEOUT) and attempt < self.retries:
                continue               # the request was corrupted or cut on the way: resend
            if status not in accept:
                raise DeviceError(f"{Command(command).name} failed: {status.name}", status)
            if echoed != int(command):
                raise ProtocolError(f"reply to command {echoed}, expected {int(command)}")
            return status, data

    # -- session -----------------------------------------------------------------------------
    def _open_session(self):
        """RESET as the first request on a port an earlier host may have left in any state.

        Stale reply bytes already received are dropped. If the first reply is not this RESET's
        (the device was still sending an earlier reply, or our frame landed inside an earlier
        host's unfinished frame and was answered ``TIMEOUT``/``BAD_CRC`` as part of it), the
        line is drained until it has been quiet for ``port.timeout`` (which must exceed the
        device's frame timeout; 50 ms on a board) and RESET is sent again."""
        flush = getattr(self.port, "reset_input_buffer", None)
        if flush is not None:
            flush()
        self.port.write(encode_request(Command.RESET))
        try:
            status, echoed, data = self._reply()
            if status == Status.OK and echoed == Command.RESET:
                return ResetReport.decode(data)
        except ProtocolError:
            pass
        while self.port.read(1):             # one byte at a time: returns at the first
            pass                             # quiet timeout, not after a full buffer
        return self.reset()

    def reset(self):
        """``RESET`` the device to the state of a freshly configured board, keeping the loaded
        weights: empty queues, zero membranes, refractory bits and accumulators, no result
        waiting or in flight, counters and cycle count zero, error flag clear. Returns the
        :class:`~spikefab.boards.protocol.ResetReport` of what was discarded (if the reply
        was lost and the request resent, the report of the second, clean, reset)."""
        _, data = self.request(Command.RESET)
        return ResetReport.decode(data)

    # -- commands ----------------------------------------------------------------------------
    def identify(self):
        """The device's :class:`~spikefab.boards.protocol.Identity`, with the link's live
        ``state`` (``identify().sample_open``: events went in since the last ``SAMPLE``)."""
        _, data = self.request(Command.IDENTIFY)
        self._identity = Identity.decode_reply(data)
        return self._identity

    @property
    def identity(self):
        return self._identity or self.identify()

    def check(self, network, config=None, *, placements=None):
        """Raise ValueError naming the first difference if the device was not generated for
        ``network``'s shape, neuron parameters, neuron placements and ``config``. The
        placements are ``placements`` (one per layer), else ``config``'s, else found
        (:func:`device_placements`); returns them, per layer a permutation or ``None``."""
        ident = self.identity
        if tuple(network.shape) != ident.shape:
            raise ValueError(f"the device is built for a {'-'.join(map(str, ident.shape))} "
                             f"network, not {'-'.join(map(str, network.shape))}")
        if placements is None and config is not None:
            placements = [c.placement for c in config.layers]
        found = device_placements(ident, network, placements)
        if config is not None:
            mine = (tuple(c.lanes for c in config.layers),
                    tuple(c.format for c in config.layers))
            if mine != (ident.lanes, ident.formats):
                raise ValueError(f"the device has lanes {ident.lanes} and formats "
                                 f"{ident.formats}, not {mine[0]} and {mine[1]}")
        return found

    def load(self, network, *, placements=None, progress=False):
        """Load ``network``'s weights (compiled for the device's lanes, formats, pointer
        fields and neuron placements: ``placements``, one per layer, or found as
        :func:`device_placements` does; a placement is fixed by the bitstream and a wrong one
        is refused). Returns the number of LOAD frames sent."""
        placements = self.check(network, placements=placements)
        ident = self.identity
        frames = []
        for index, image in enumerate(device_images(ident, network, placements)):
            for target_index, name in enumerate(TARGETS):
                memory = image.memories.get(name)
                if memory is None:
                    continue
                word_bytes, depth = ident.memories[index][target_index]
                if memory.depth > depth:
                    raise ValueError(f"layer {index + 1} needs {memory.depth} {name} words; the "
                                     f"device holds {depth}")
                per_frame = (MAX_PAYLOAD - 6) // word_bytes
                for start in range(0, memory.depth, per_frame):
                    words = memory.words[start:start + per_frame]
                    body = struct.pack("<BBHH", index, target_index, start, len(words))
                    body += b"".join(w.to_bytes(word_bytes, "little") for w in words)
                    frames.append(body)
        for body in _progress(frames, progress, "load"):
            self.request(Command.LOAD, body)
        return len(frames)

    def send_events(self, events, *, compact=None, infer=False):
        """Push ``(kind, addr)`` events: as ``SPIKES`` frames (a byte per event) when the
        device speaks protocol version 4 and each step's spikes ascend, else as ``EVENTS``
        frames (two bytes per event, at most :data:`EVENTS_PER_FRAME` per frame).
        ``compact=False`` always sends ``EVENTS``; ``compact=True`` insists on ``SPIKES``
        (``ValueError`` when the device or the event order cannot have them). ``infer``: send
        the last ``SPIKES`` frame, when it ends with a ``SAMPLE``, as ``INFER`` and return its
        :class:`Result` (the oldest result; ``None`` when the frames went as ``EVENTS`` or
        ``SPIKES``).

        Raises :class:`DeviceError` with status ``STALLED`` and ``taken`` (events of this call
        that went in) if the device stopped taking events behind a result nobody read."""
        payloads = None
        if compact is not False and self.identity.protocol >= 4:
            payloads = encode_spikes(events)
        if compact and payloads is None:
            raise ValueError("SPIKES frames need a device of protocol version 4 or later "
                             f"(this one speaks {self.identity.protocol}) and every step's "
                             f"spikes in ascending address order")
        if payloads is None:
            command = Command.EVENTS
            payloads = [b"".join(encode_event(k, a)
                                 for k, a in events[start:start + EVENTS_PER_FRAME])
                        for start in range(0, len(events), EVENTS_PER_FRAME)]
        else:
            command = Command.SPIKES
        sent = 0
        last = (command == Command.SPIKES and infer
                and payloads[-1][-1:] == bytes([SPIKES_SAMPLE]))
        for index, payload in enumerate(payloads):
            final = last and index == len(payloads) - 1
            status, data = self.request(Command.INFER if final else command, payload,
                                        accept=(Status.OK, Status.STALLED))
            if status == Status.STALLED:
                if len(data) != 2:
                    raise ProtocolError(f"STALLED reply of {len(data)} bytes, expected 2")
                taken = sent + struct.unpack("<H", data)[0]
                raise DeviceError(f"{command.name} stalled: the device took {taken} of "
                                  f"{len(events)} events and then no more for its timeout, "
                                  f"behind a result nobody read (read it with result(), or "
                                  f"reset())", Status.STALLED, taken)
            if final:
                return self._result_of(data)
            sent += len(payload) // 2 if command == Command.EVENTS else \
                sum(code != SPIKES_SKIP for code in payload)
        return None

    def _result_of(self, data):
        """The :class:`Result` of a ``RESULT`` (or ``INFER``) reply's payload."""
        classes = self.identity.shape[-1]
        size = 6 + 2 * classes + 2 * (self.identity.exit is not None)
        if len(data) != size:
            raise ProtocolError(f"a result of {len(data)} bytes, expected {size}")
        cls = struct.unpack_from("<H", data, 0)[0]
        counts = struct.unpack_from(f"<{classes}H", data, 2)
        cycles = struct.unpack_from("<I", data, 2 + 2 * classes)[0]
        steps = None
        if self.identity.exit is not None:
            steps = struct.unpack_from("<H", data, 6 + 2 * classes)[0]
        return Result(cls, counts, cycles, steps)

    def result(self, *, wait=True, poll=0.0):
        """The oldest result (None if ``wait`` is false and there is none yet)."""
        while True:
            status, data = self.request(Command.RESULT, accept=(Status.OK, Status.EMPTY))
            if status == Status.OK:
                return self._result_of(data)
            if not wait:
                return None
            if poll:
                time.sleep(poll)

    def infer(self, spikes, *, progress=False, compact=None):
        """Run spike trains ``[T, N0]`` or ``[B, T, N0]`` and return one :class:`Result` per
        sample (``compact``: as for :meth:`send_events`). Each sample is one ``INFER``
        request when its events fit one ``SPIKES`` frame (its earlier frames as ``SPIKES``
        otherwise); as ``EVENTS`` frames, then a ``RESULT`` request."""
        n_inputs = self.identity.shape[0]
        trains, _ = check_spike_trains(spikes, n_inputs)
        results = []
        for sample in _progress(list(trains), progress, "infer"):
            result = self.send_events(event_stream(sample[None]), compact=compact, infer=True)
            results.append(self.result() if result is None else result)
        return results

    def infer_pixels(self, pixels, *, progress=False):
        """Run images through the device's on-chip encoder (protocol version 5, a build with
        one: ``identity.encoder``): ``pixels`` ``[N0]`` or ``[B, N0]`` intensities in
        ``[0, 2**x_bits - 1]`` (the encoder's ``x_bits``), one sample each. Each goes in
        ``PIXELS`` frames of up to ``MAX_PAYLOAD - 1`` pixels, the last with the start and
        result flags: one round trip per frame, the last one's reply the result. Returns one
        :class:`Result` per sample (the oldest unread: the sample's own when none was left
        unread before)."""
        ident = self.identity
        if ident.protocol < 5 or ident.encoder is None:
            raise ValueError("this device has no on-chip input encoder (a bitstream built with "
                             "one answers IDENTIFY with its kind); send spike trains with "
                             "infer() instead")
        x_max = (1 << ident.encoder_x_bits) - 1
        array = np.asarray(pixels)
        batch = array[None] if array.ndim == 1 else array
        if batch.ndim != 2 or batch.shape[1] != ident.shape[0]:
            raise ValueError(f"pixels must have shape [{ident.shape[0]}] or [B, "
                             f"{ident.shape[0]}] (the device's inputs), not {array.shape}")
        if not np.issubdtype(batch.dtype, np.integer) or (
                batch.size and (batch.min() < 0 or batch.max() > x_max)):
            raise ValueError(f"pixels must be integers in [0, {x_max}] (the encoder's x_bits = "
                             f"{ident.encoder_x_bits}); use spikefab.model.to_intensity")
        per_frame = MAX_PAYLOAD - 1
        results = []
        for image in _progress(list(batch), progress, "infer"):
            chunks = [bytes(image[i:i + per_frame].astype(np.uint8))
                      for i in range(0, len(image), per_frame)]
            for chunk in chunks[:-1]:
                self.request(Command.PIXELS, bytes([0]) + chunk)
            status, data = self.request(
                Command.PIXELS, bytes([PIXELS_START | PIXELS_RESULT]) + chunks[-1],
                accept=(Status.OK, Status.STALLED))
            if status == Status.STALLED:
                raise DeviceError("PIXELS stalled: the encoder of an earlier sample could not "
                                  "finish behind a result nobody read (read it with result(), "
                                  "or reset())", Status.STALLED, 0)
            results.append(self._result_of(data))
        return results

    def counters(self):
        """Per layer counters, queue high-water marks, the error and idle flags, whether a
        sample is open (``sample_open``) and the link's whole ``state``
        (:class:`~spikefab.boards.protocol.LinkState`)."""
        _, data = self.request(Command.COUNTERS)
        layers = len(self.identity.shape) - 1
        names = ("events", "words", "synaptic_updates", "busy", "stall")
        if self.identity.exit is not None:
            names += ("dropped",)             # early exit: the events discarded
        n = len(names)
        size = (4 * n + 2) * layers
        if len(data) != size + 3:
            raise ProtocolError(f"COUNTERS reply of {len(data)} bytes, expected {size + 3}")
        values = struct.unpack_from(f"<{n * layers}I", data, 0)
        high = struct.unpack_from(f"<{layers}H", data, 4 * n * layers)
        error, idle = data[size], data[size + 1]
        state = LinkState.decode(data[size + 2])
        return {"layers": [dict(zip(names, values[n * i:n * i + n])) for i in range(layers)],
                "high_water": list(high), "error": bool(error), "idle": bool(idle),
                "sample_open": state.sample_open, "state": state}


def encoder_trains(identity, pixels):
    """The spike trains (``[T, N0]``, or ``[B, T, N0]`` for ``[B, N0]`` images) a device's
    on-chip encoder (``identity``: its kind, ``T``, ``x_bits`` and seed) makes of ``pixels``:
    the golden model's ``encode_rate`` or ``encode_latency``; for ``direct``, the input
    values of ``encode_direct``."""
    from spikefab.model.encoders import encode_direct, encode_latency, encode_rate
    x = np.asarray(pixels, dtype=np.int64)
    if identity.encoder == "rate":
        return encode_rate(x, identity.encoder_steps, x_bits=identity.encoder_x_bits,
                           seed=identity.encoder_seed)
    if identity.encoder == "direct":
        return encode_direct(x, identity.encoder_steps, x_bits=identity.encoder_x_bits)
    return encode_latency(x, identity.encoder_steps, x_bits=identity.encoder_x_bits)


def typical_inputs(network, samples=16, steps=16, activity=0.15, seed=0):
    """Rate-coded random intensities (``activity`` mean spike probability): ``samples`` spike
    trains ``[samples, steps, inputs]`` for the latency figure of ``spikefab synth``'s report
    and the default samples of ``spikefab run``; for a direct network (docs/design.md §13)
    the same intensities as its input values (``encode_direct``, at its ``x_bits``)."""
    import numpy as np

    from spikefab.model import encode_direct, encode_rate
    rng = np.random.default_rng(seed)
    x = (rng.random((samples, network.n_inputs)) < 2 * activity) * rng.integers(0, 256, (
        samples, network.n_inputs))
    if network[0].direct:
        return encode_direct(x >> max(0, 8 - network[0].x_bits), steps,
                             x_bits=network[0].x_bits)
    return encode_rate(x, steps)


def _progress(items, enabled, label):
    if not enabled:
        return items
    from spikefab.toolchain.progress import track
    items = list(items)
    return track(items, "loading the weights over the link" if label == "load" else
                 "inference over the link", unit="frame" if label == "load" else "sample")
