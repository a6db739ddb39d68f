"""HostLink: the accelerator behind a UART running the protocol of :mod:`.protocol`."""

from importlib.metadata import version

import numpy as np
from amaranth import Array, Cat, Const, Module, Mux, ResetInserter, Signal
from amaranth.lib import crc, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from spikefab.hw.accelerator import Accelerator
from spikefab.hw.events import EventKind
from spikefab.hw.input_encoder import InputEncoder
from spikefab.hw.params import check_int, validating
from spikefab.model import HardwareConfig, Network

from .protocol import (CRC8, MAX_PAYLOAD, PIXELS_RESULT, PIXELS_START, PROTOCOL_VERSION,
                       REPLY_SYNC, REQUEST_SYNC, SPIKES_SKIP, TARGETS, Command, Identity, Status,
                       neuron_fingerprint)
from .uart import UARTRx, UARTTx

__all__ = ["EVENT_INTERVAL", "FIRST_OFFER", "PIXELS_START_AFTER", "SPIKE_INTERVAL", "HostLink",
           "identity_of", "link_cycle_model", "offered_frames", "spikes_schedule"]

#: Cycles from one ``EVENTS`` transfer into the accelerator to the next offer (the states
#: EVENTS_LOW_WAIT, EVENTS_LOW, EVENTS_HIGH_WAIT, EVENTS_PUSH read the next two payload bytes).
EVENT_INTERVAL = 4
#: Cycles per ``SPIKES`` code (SPIKES_READ, SPIKES_WAIT, SPIKES_PUSH read the next byte): from
#: one transfer to the next offer, and what each ``SKIP`` code before an event adds.
SPIKE_INTERVAL = 3


def spikes_schedule(payload):
    """``(count, delays)`` of a ``SPIKES`` payload for :func:`link_cycle_model`'s frames: its
    events and, per event, the cycles from the frame's start (the first) or from the previous
    transfer (the others) to its offer: :data:`SPIKE_INTERVAL` per code read, ``SKIP`` codes
    included."""
    delays, skips = [], 0
    for code in bytes(payload):
        if code == SPIKES_SKIP:
            skips += 1
        else:
            delays.append(SPIKE_INTERVAL * (skips + (len(delays) > 0)))
            skips = 0
    return len(delays), delays


#: Cycles from a request's CRC byte to the first offer of its events, less the payload's
#: length (checked a byte per cycle first): ``EVENTS`` reads two bytes before its first push,
#: ``SPIKES`` one.
FIRST_OFFER = {Command.EVENTS: 6, Command.SPIKES: 5, Command.INFER: 5}
#: Cycles from a ``PIXELS`` request's CRC byte to its encoder start, less its payload's length
#: ``L`` (checked a byte per cycle) and its ``n`` pixels (written a byte per cycle, after a
#: cycle to fetch the first): the start is taken ``5 + L + n + (n > 0)`` cycles after the CRC.
PIXELS_START_AFTER = 5


def offered_frames(written, divisor, encoder=None):
    """The frames of :func:`link_cycle_model` for the ``EVENTS``, ``SPIKES`` and ``INFER``
    requests (and, with ``encoder``, ``PIXELS``) a host wrote back to back after a ``RESET``:
    ``written`` is ``[(cycle, request bytes), ...]``, the cycle the host put each request's
    first bit on the line (other requests are passed over). A request of ``L`` payload bytes
    written at ``W`` is received ``(5 + L) * 10 * divisor`` cycles later and its first event
    offered :data:`FIRST_OFFER` ``+ L`` cycles after that (plus its leading ``SKIP`` codes),
    all relative to the first event's transfer, cycle 0 of the result's cycle count.

    ``encoder`` is the link's on-chip encoder (the ``encoder`` argument of :class:`HostLink`):
    a ``PIXELS`` frame with the start flag and ``n`` pixels starts the encoder
    :data:`PIXELS_START_AFTER` ``+ L + n + (n > 0)`` cycles after it was received, on the
    pixels of the ``PIXELS`` frames since the last start, and the encoder offers their events
    as :func:`~spikefab.model.encoders.encoder_schedule` says. The encoder must be idle then
    (a host that waits for each sample's result, as :meth:`~.host.Device.infer_pixels`, makes
    sure of it).

    Returns ``(frames, origin)``: ``origin`` is the cycle, on the host's clock of ``written``,
    of that first event's offer (``None`` without events)."""
    frames, origin, pixels = [], None, []
    for cycle, request in written:
        command, payload = request[1], request[4:-1]
        received = cycle + (5 + len(payload)) * 10 * divisor      # its CRC byte
        if command in (Command.SPIKES, Command.INFER):
            count, delays = spikes_schedule(payload)
            start = received + len(payload) + FIRST_OFFER[command]
        elif command == Command.EVENTS:
            count, delays = len(payload) // 2, None
            start = received + len(payload) + FIRST_OFFER[command]
        elif command == Command.PIXELS and encoder is not None and payload:
            pixels += payload[1:]
            if not payload[0] & PIXELS_START:
                continue
            from spikefab.model.encoders import encoder_schedule
            delays = encoder_schedule(np.array(pixels), **encoder)
            count, n, pixels = len(delays), len(payload) - 1, []
            start = received + PIXELS_START_AFTER + len(payload) + n + (n > 0)
        else:
            continue
        if origin is None:
            origin = start + (delays[0] if delays else 0)
            if delays:
                delays = [0, *delays[1:]]
            start = origin
        frames.append((start - origin, count) if delays is None else
                      (start - origin, count, delays))
    return frames, origin


def link_cycle_model(network, trains, config, frames=None, interval=EVENT_INTERVAL):
    """The cycle model (:func:`spikefab.model.cycle_model`, a
    :class:`~spikefab.model.CycleReport`) of ``trains`` fed by this link: the events of
    ``EVENTS`` frames in order, each frame ``(start, count)`` offering its first event at
    cycle ``start`` (from the first event, cycle 0) and the next ``interval`` cycles after each
    transfer; a ``SPIKES`` or ``INFER`` frame is ``(start, count, delays)``
    (:func:`spikes_schedule`; :func:`offered_frames` makes them from the requests a host
    wrote). ``frames=None`` is one frame from cycle 0 (a frame after a ``RESET``)."""
    from spikefab.hw.accelerator import HARDWARE_TIMING
    from spikefab.model import cycle_model, simulate
    config = HardwareConfig(config.layers, mode=config.mode, timing=HARDWARE_TIMING)
    return cycle_model(network, simulate(network, trains), config, frames=frames,
                       interval=interval)


def _memory_geometry(image):
    """(word_bytes, depth) per target for one layer's weight memory (0, 0 where absent)."""
    out = []
    for name in TARGETS:
        memory = image.memories.get(name)
        out.append((0, 0) if memory is None else ((memory.width + 7) // 8, memory.depth))
    return tuple(out)


def identity_of(accelerator, encoder=None):
    """The :class:`Identity` block a HostLink around ``accelerator`` (and ``encoder``, its
    :class:`~spikefab.hw.input_encoder.InputEncoder` or ``None``) answers with."""
    config = accelerator.config
    major, minor, patch = (int(part) for part in version("spikefab").split(".")[:3])
    memories = []
    for image, core in zip(accelerator.images, accelerator.cores):
        geometry = list(_memory_geometry(image))
        if image.memories:
            # The weights memory is as deep as the generated capacity, not just this image.
            word_bytes, _ = geometry[2]
            geometry[2] = (word_bytes, core.memory.capacity)
        memories.append(tuple(geometry))
    rule = accelerator.exit_rule
    exit = {} if rule is None else dict(exit=rule.kind, exit_margin=rule.margin or 0,
                                        exit_steps=accelerator.steps)
    if encoder is not None:
        exit.update(encoder=encoder.kind, encoder_x_bits=encoder.x_bits,
                    encoder_steps=encoder.steps, encoder_scan=encoder.scan,
                    encoder_seed=encoder.seed)
    return Identity(protocol=PROTOCOL_VERSION, version=(major, minor, patch),
                    shape=accelerator.network.shape,
                    lanes=tuple(c.lanes for c in config.layers),
                    formats=tuple(c.format for c in config.layers),
                    queue_depths=tuple(c.queue_depth for c in config.layers),
                    dense_baseline=config.mode == "dense",
                    count_bits=accelerator.readout.count_bits, memories=tuple(memories),
                    pointer_fields=tuple((image.start_bits, image.length_bits)
                                         for image in accelerator.images),
                    neurons=tuple(neuron_fingerprint(layer, getattr(image, "placement", None))
                                  for layer, image in zip(accelerator.network,
                                                          accelerator.images)),
                    **exit)


def _check_addressable(identity):
    """Refuse a configuration the protocol cannot describe or load: a layer wider than a u16,
    a weight-memory word of more than 255 bytes (``word_bytes u8``; a ``LOAD`` frame must hold
    one), or a memory deeper than 65535 words (``addr u16``, ``depth u16``)."""
    for index, size in enumerate(identity.shape):
        if size > 0xFFFF:
            raise ValueError(f"layer {index} has {size} neurons; the host link describes at "
                             f"most 65535 per layer")
    for index, geometry in enumerate(identity.memories):
        for target, (word_bytes, depth) in zip(TARGETS, geometry):
            if word_bytes > 255:
                raise ValueError(f"layer {index + 1}'s {target} words are {word_bytes} bytes "
                                 f"wide; the host link loads words of at most 255 bytes: use "
                                 f"fewer lanes or narrower weights")
            if depth > 0xFFFF:
                raise ValueError(f"layer {index + 1}'s {target} memory needs {depth} words; "
                                 f"the host link addresses at most 65535 words per memory: use "
                                 f"more lanes or a compressed format (csc, bitmap)")


def _le_bytes(value, count):
    """The ``count`` little-endian bytes of an Amaranth value (zero-extended)."""
    wide = Cat(value, Const(0, max(0, 8 * count - len(value))))
    return [wide[8 * k:8 * k + 8] for k in range(count)]


class HostLink(wiring.Component):
    """The accelerator for ``network`` behind a UART host link (see :mod:`.protocol`).

    A request is received into a frame buffer (block RAM, :data:`MAX_PAYLOAD` bytes) while its
    CRC is computed; only a request with a good CRC and a valid payload is acted on, so a
    malformed, truncated or corrupt frame changes nothing and gets an error reply; the link
    then waits for the next sync byte. Bytes that arrive while the link acts on a request or
    sends a reply are dropped (the protocol is request/reply).

    ``EVENTS`` pushes its events into the accelerator's ``events`` stream, waiting on
    ``ready``. The wait is unbounded while no result is waiting (the pipeline always drains);
    while one waits unread the back-pressure can be permanent, so after ``timeout`` cycles
    without a transfer the link stops and answers ``STALLED`` with the number of events taken.
    ``SPIKES`` and ``INFER`` push the same events from one-byte codes (checked first, a byte a
    cycle, then a code every :data:`SPIKE_INTERVAL` cycles); ``INFER`` then waits for a result
    and answers with it as ``RESULT`` does (``EMPTY`` when none is due).

    With an ``encoder``, ``PIXELS`` writes a sample's intensities into the on-chip
    :class:`~spikefab.hw.input_encoder.InputEncoder` (checked first, a byte a cycle, then
    written a byte a cycle) and, with its start flag, starts it: the encoder then pushes the
    sample's events into the accelerator while the link serves the next requests (its events
    take the ``events`` stream while it is busy; a request that pushes events or writes
    pixels waits until it is done).

    ``RESET`` runs the accelerator through a clean start, in three steps, before it replies:

    1. one cycle of synchronous reset of the whole accelerator (``ResetInserter``): every
       register goes to its initial value — queue pointers and levels, the layer cores' and
       weight memories' pipelines, the dense-mode input spike vectors, the readout's counts and
       result, the counters, high-water marks, error flag and cycle count. A sweep, a column
       or a back-pressured push in progress is simply abandoned.
    2. Block RAM contents survive a reset: the weights (as loaded at run time) must, and the
       membranes, refractory bits and PE accumulators must not. So the link pushes one
       ``SAMPLE`` into the empty pipeline: each layer's LIF core sweeps every row with
       ``SAMPLE``, which writes zero membranes and refractory bits and read-and-clears every
       row of every PE's accumulators (partial sums of a step that never got its ``STEP``
       included), and passes the marker on.
    3. When that sample's (all zero) result reaches the readout, every layer has finished its
       sweep; the link resets the accelerator once more, which drops the result and zeroes
       the counters, the high-water marks and the cycle count the sweep advanced.

    The reply then reports what was discarded (the ``state`` byte and unread results counted
    just before step 1). Latency from the request's last byte to the reply's first: about
    ``rows + 6`` cycles per layer (queue, ``drain``, the sweep, the marker) plus a few.
    The UART, the CRC units and the link's own state are not reset.

    Parameters
    ----------
    network, config :
        As for :class:`~spikefab.hw.accelerator.Accelerator`.
    divisor : int
        Clock cycles per UART bit (clock frequency / baud rate), ``[4, 2**24]``.
    timeout : int
        Cycles of silence after which a started request counts as truncated, ``[16, 2**28]``.
    max_steps : int
        Longest sample, ``[1, 65535]`` (counts go out as u16).
    encoder : None or dict
        An on-chip input encoder (``PIXELS``, protocol version 5): the keyword arguments of
        :class:`~spikefab.hw.input_encoder.InputEncoder` but ``inputs`` (``kind``, ``steps``,
        ``x_bits`` at most 8 — a pixel is one byte —, ``scan``, ``seed``); ``steps`` at most
        ``max_steps``. Not with ``exit`` (not built yet). A direct network (first layer
        with ``x_bits``, docs/design.md §13) needs ``kind = "direct"`` with the layer's
        ``x_bits``, and ``direct`` needs such a network: its samples arrive only as
        ``PIXELS`` (``EVENTS``, ``SPIKES`` and ``INFER``, which carry no values, answer
        ``BAD_COMMAND``; ``PIXELS``'s flag bit 1 asks for the result).
    exit, steps :
        Early exit, as for the accelerator (a margin of at most 65535): ``RESULT`` then ends
        with the ``steps u16`` the sample ran and ``COUNTERS`` has a sixth counter per layer,
        ``dropped``. A sample's result can be ready before its ``SAMPLE`` is sent; the
        driver reads it after the whole sample. ``unread`` counts ``SAMPLE`` markers pushed
        minus results read; a result read before its ``SAMPLE`` (while nothing closed is
        unread) makes that ``SAMPLE`` not count, so ``RESET`` reports it as read.

    Members
    -------
    rx : ``In(1)``, tx : ``Out(1)``
        The UART lines (idle high).
    error : ``Out(1)``
        The accelerator's sticky error flag, or a UART framing/overrun error.
    """

    def __init__(self, network, config, *, divisor, timeout=None, max_steps=255,
                 capacity=None, runtime_weights=None, exit=None, steps=None, encoder=None):
        with validating(self):
            if not isinstance(network, Network) or not isinstance(config, HardwareConfig):
                raise TypeError("network must be a Network and config a HardwareConfig")
            self.divisor = check_int("divisor", divisor, 4, 1 << 24)
            self.timeout = check_int("timeout", 40 * divisor if timeout is None else timeout,
                                     16, 1 << 28)
            check_int("max_steps", max_steps, 1, (1 << 16) - 1)
            if network.n_inputs > 1 << 14:
                raise ValueError(f"the network has {network.n_inputs} inputs; the host link "
                                 f"addresses at most 16384")
            self.accelerator = Accelerator(network, config, max_steps=max_steps,
                                           capacity=capacity, result_counters=False,
                                           runtime_weights=runtime_weights, exit=exit,
                                           steps=steps)
            rule = self.accelerator.exit_rule
            if rule is not None and (rule.margin or 0) > 0xFFFF:
                raise ValueError(f"exit margin {rule.margin} is out of range for the host "
                                 f"link; allowed range is [1, 65535]")
            self.encoder = None
            if encoder is not None:
                if not isinstance(encoder, dict) or "inputs" in encoder:
                    raise TypeError(f"encoder must be None or a dict of InputEncoder's "
                                    f"arguments but inputs (kind, steps, x_bits, scan, seed), "
                                    f"not {encoder!r}")
                if rule is not None:
                    raise ValueError("an on-chip encoder with early exit is not built yet; "
                                     "choose one of encoder and exit")
                self.encoder = InputEncoder(network.n_inputs, **encoder)
                if self.encoder.x_bits > 8:
                    raise ValueError(f"encoder x_bits = {self.encoder.x_bits} is out of range "
                                     f"for the host link (a pixel is one byte); allowed range "
                                     f"is [1, 8]")
                if self.encoder.steps > max_steps:
                    raise ValueError(f"encoder steps = {self.encoder.steps} exceeds max_steps "
                                     f"= {max_steps}; allowed range is [1, {max_steps}]")
            first = network[0]
            kind = None if self.encoder is None else self.encoder.kind
            if first.direct and (kind != "direct" or self.encoder.x_bits != first.x_bits):
                raise ValueError(f"a direct network (first layer x_bits = {first.x_bits}) takes "
                                 f"its samples through the on-chip encoder: give encoder="
                                 f"dict(kind='direct', x_bits={first.x_bits}, steps=T)")
            if kind == "direct" and not first.direct:
                raise ValueError("encoder kind 'direct' needs a direct network (a first layer "
                                 "with x_bits); this network's first layer takes spikes")
            self.identity = identity_of(self.accelerator, self.encoder)
            _check_addressable(self.identity)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        acc = self.accelerator
        network = acc.network
        # The accelerator's reset is registered: a combinational reset from the link's state
        # machine fanned out to every flip-flop of the accelerator and was the ULX3S critical
        # path. A reset requested in cycle c acts at the end of c + 1.
        reset_request = Signal()
        reset_accelerator = Signal()
        m.d.sync += reset_accelerator.eq(reset_request)
        m.submodules.accelerator = ResetInserter(reset_accelerator)(acc)
        enc = self.encoder
        idle = acc.idle
        if enc is None:
            events = acc.events
        else:
            # The encoder's events take the accelerator's input while it is busy (from the
            # cycle after its start to its SAMPLE's push); the link's pushes wait meanwhile.
            m.submodules.encoder = ResetInserter(reset_accelerator)(enc)
            events = stream.Signature(acc.events.payload.shape()).create()
            m.d.comb += [
                acc.events.valid.eq(Mux(enc.busy, enc.o.valid, events.valid)),
                acc.events.payload.eq(Mux(enc.busy, enc.o.payload.as_value(),
                                          events.payload.as_value())),
                enc.o.ready.eq(acc.events.ready & enc.busy),
                events.ready.eq(acc.events.ready & ~enc.busy),
            ]
            idle = acc.idle & ~enc.busy
        m.submodules.uart_rx = uart_rx = UARTRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UARTTx(self.divisor)
        m.submodules.crc_rx = crc_rx = crc.Processor(CRC8)
        m.submodules.crc_tx = crc_tx = crc.Processor(CRC8)
        m.submodules.frame = frame = Memory(shape=8, depth=MAX_PAYLOAD, init=[])
        frame_write = frame.write_port()
        frame_read = frame.read_port()
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx),
                     self.error.eq(acc.error | uart_rx.framing_error | uart_rx.overrun)]

        # -- request fields --------------------------------------------------------------------
        command = Signal(8)
        length = Signal(16)
        left = Signal(16)                # bytes still to receive / process
        wr_addr = Signal(range(MAX_PAYLOAD))
        rd_addr = Signal(range(MAX_PAYLOAD + 1))
        status = Signal(Status)
        quiet = Signal(range(self.timeout + 1))
        byte = uart_rx.o.payload
        got = uart_rx.o.valid
        # The frame byte at rd_addr two cycles before: the block RAM's output is registered
        # (its clock-to-output, 5.8 ns on ECP5, then the event check's carry chain into the
        # reply status was the ULX3S critical path). rd_addr runs one byte ahead of where an
        # unregistered read would have it, so every state sees the same byte in the same
        # cycle as before and the link's cycle counts are unchanged.
        data = Signal(8)
        m.d.sync += data.eq(frame_read.data)
        m.d.comb += [uart_rx.o.ready.eq(1),           # bytes are taken at once (or dropped)
                     crc_rx.data.eq(byte),
                     frame_read.addr.eq(rd_addr),
                     frame_write.addr.eq(wr_addr), frame_write.data.eq(byte)]
        with m.If(got):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet != self.timeout):
            m.d.sync += quiet.eq(quiet + 1)
        timed_out = quiet == self.timeout

        # -- reply sources: the identity in a ROM, live values through multiplexers ----------
        identity = self.identity.encode()
        m.submodules.identity = rom = Memory(shape=8, depth=len(identity), init=identity)
        rom_read = rom.read_port()
        identify_length = len(identity) + 1          # the block, then the state byte
        result = acc.results.payload
        result_bytes = _le_bytes(result.cls, 2)
        for count in result.counts:
            result_bytes += _le_bytes(count, 2)
        result_bytes += _le_bytes(result.cycles, 4)
        names = ("events", "words", "synaptic_updates", "busy", "stall")
        if acc.exit_rule is not None:
            result_bytes += _le_bytes(result.steps, 2)
            names += ("dropped",)
        counter_bytes = []
        for layer in acc.counters:
            for name in names:
                counter_bytes += _le_bytes(getattr(layer, name), 4)
        for level in acc.high_water:
            counter_bytes += _le_bytes(level, 2)
        counter_bytes += _le_bytes(acc.error, 1) + _le_bytes(idle, 1)

        # -- session state: a sample open, results unread, what a RESET discarded -----------
        sample_open = Signal()           # events went in since the last SAMPLE
        unread = Signal(16)              # SAMPLEs pushed minus results read (saturating)
        read_early = Signal()            # the open sample's result was read before its SAMPLE
        state_byte = Signal(8)
        m.d.comb += state_byte.eq(Cat(sample_open if enc is None else sample_open | enc.busy,
                                      acc.results.valid, ~idle, acc.error))
        counter_bytes.append(state_byte)
        discarded = Signal(24)
        reset_bytes = _le_bytes(discarded, 3)
        reply_length = Signal(16)
        reply_source = Signal(8)
        reply_phase = Signal(range(7))   # 0 sync, 1 status, 2 command, 3-4 length, 5 payload, 6 CRC
        reply_index = Signal(16)
        reply_left = Signal(16)
        consume_result = Signal()
        m.d.comb += rom_read.addr.eq(reply_index)

        # -- LOAD: header fields and per (layer, target) geometry -----------------------------
        header = Signal(48)
        header_bytes = Signal(range(7))
        load_layer, load_target = header[0:8], header[8:16]
        load_addr, load_count = header[16:32], header[32:48]
        word_bytes = Signal(8)
        depth = Signal(17)
        expected_length = Signal(32)
        with m.Switch(Cat(load_target, load_layer)):
            for layer_index, geometry in enumerate(self.identity.memories):
                for target_index, (w, d) in enumerate(geometry):
                    if w:
                        with m.Case(target_index | layer_index << 8):
                            # 6 + count * w as shifted adds: no multiplier
                            m.d.comb += [word_bytes.eq(w), depth.eq(d),
                                         expected_length.eq(6 + sum(
                                             load_count << b for b in range(w.bit_length())
                                             if w >> b & 1))]
        max_word_bytes = max((w for g in self.identity.memories for w, _ in g), default=1)
        word = Signal(8 * max_word_bytes)      # byte j of the word in bits 8j..8j+7
        byte_in_word = Signal(8)
        word_last = Signal()                   # byte_in_word is the word's last byte
        word_addr = Signal(16)
        load_bad, load_busy, load_empty = Signal(), Signal(), Signal()
        load_word_bytes = Signal.like(word_bytes)

        # -- EVENTS ----------------------------------------------------------------------------
        event_lo = Signal(8)
        high_byte = Signal()
        event = Cat(event_lo, data)
        event_kind = event[14:16]
        event_addr = event[:14]
        event_ok = (event_kind <= 2) & ((event_kind != EventKind.SPIKE.value)
                                        | (event_addr < network.n_inputs))
        # The check of an event is registered and acted on in the next cycle (the next event's
        # low byte, or EVENTS_LOW_WAIT after the last event, before anything is pushed).
        event_bad = Signal()
        stalled = Signal(range(self.timeout + 1))    # cycles without a transfer, result waiting
        pushed = Signal(range(MAX_PAYLOAD + 1))      # events of the frame pushed
        taken_bytes = _le_bytes(pushed, 2)
        # SPIKES: the code in `data`, against the cursor (17 bits: 511 skips of 252 fit). One
        # adder: a spike's address, or the cursor a SKIP moves on; a marker clears the cursor.
        cursor = Signal(17)
        is_spike = data < SPIKES_SKIP
        skip = data == SPIKES_SKIP
        spike_addr = cursor + Mux(skip, SPIKES_SKIP, data)
        code_ok = (data != 0xFF) & (~is_spike | (spike_addr < network.n_inputs))
        next_cursor = Mux(is_spike | skip, spike_addr, 0)

        # PIXELS: the flags byte, and the pixels written since the encoder's last start.
        if enc is not None:
            pixel_flags = Signal(2)
            START, RESULT = PIXELS_START.bit_length() - 1, PIXELS_RESULT.bit_length() - 1
            written = Signal(range(network.n_inputs + 1))
            pixel_count = length - 1
            x_max = (1 << enc.x_bits) - 1
            infer = (command == Command.INFER) | ((command == Command.PIXELS)
                                                  & pixel_flags[RESULT])
        else:
            infer = command == Command.INFER

        def pushing(m, kind):
            # The session state after an event of `kind` went into the accelerator.
            m.d.sync += [pushed.eq(pushed + 1), stalled.eq(0),
                         sample_open.eq(kind != EventKind.SAMPLE.value)]
            if acc.exit_rule is None:
                with m.If((kind == EventKind.SAMPLE.value) & (unread != 0xFFFF)):
                    m.d.sync += unread.eq(unread + 1)
            else:
                with m.If(kind == EventKind.SAMPLE.value):
                    with m.If(read_early):   # its result was read: not unread
                        m.d.sync += read_early.eq(0)
                    with m.Elif(unread != 0xFFFF):
                        m.d.sync += unread.eq(unread + 1)

        def stalling(m, command):
            # Back-pressure while a result waits unread may never end: give up after timeout.
            with m.If(acc.results.valid):
                with m.If(stalled == self.timeout):
                    reply(m, Status.STALLED, command, len(taken_bytes))
                with m.Else():
                    m.d.sync += stalled.eq(stalled + 1)

        tx_register = Signal(8)
        hold = Signal(range(4))

        def reply(m, code, source=0, size=0):
            # (reply_index, reply_phase and hold are set to their starting values in every
            # other state, below: fewer enables from the many states that reply.)
            m.d.sync += [status.eq(code), reply_source.eq(source), reply_length.eq(size),
                         reply_left.eq(size)]
            m.next = "REPLY"

        with m.FSM() as fsm:
            with m.State("IDLE"):
                with m.If(got & (byte == REQUEST_SYNC)):
                    m.d.comb += crc_rx.start.eq(1)
                    m.next = "COMMAND"
            for state, field, following in (("COMMAND", command, "LENGTH_LOW"),
                                            ("LENGTH_LOW", length[:8], "LENGTH_HIGH")):
                with m.State(state):             # a header byte, into the CRC
                    with m.If(got):
                        m.d.comb += crc_rx.valid.eq(1)
                        m.d.sync += field.eq(byte)
                        m.next = following
                    with m.Elif(timed_out):
                        reply(m, Status.TIMEOUT)
            with m.State("LENGTH_HIGH"):
                with m.If(got):
                    m.d.comb += crc_rx.valid.eq(1)
                    m.d.sync += [length[8:].eq(byte), left.eq(Cat(length[:8], byte)),
                                 wr_addr.eq(0)]
                    with m.If(Cat(length[:8], byte) > MAX_PAYLOAD):
                        reply(m, Status.BAD_LENGTH)
                    with m.Elif(Cat(length[:8], byte) == 0):
                        m.next = "CHECKSUM"
                    with m.Else():
                        m.next = "PAYLOAD"
                with m.Elif(timed_out):
                    reply(m, Status.TIMEOUT)
            with m.State("PAYLOAD"):
                with m.If(got):
                    m.d.comb += [crc_rx.valid.eq(1), frame_write.en.eq(1)]
                    m.d.sync += [wr_addr.eq(wr_addr + 1), left.eq(left - 1)]
                    with m.If(left == 1):
                        m.next = "CHECKSUM"
                with m.Elif(timed_out):
                    reply(m, Status.TIMEOUT)
            with m.State("CHECKSUM"):
                with m.If(got):
                    with m.If(byte != crc_rx.crc):
                        reply(m, Status.BAD_CRC)
                    with m.Else():
                        m.d.sync += rd_addr.eq(0)        # byte 0 is on the port in DISPATCH
                        m.next = "DISPATCH"
                with m.Elif(timed_out):
                    reply(m, Status.TIMEOUT)

            with m.State("DISPATCH"):
                m.d.sync += [rd_addr.eq(1), left.eq(length), header_bytes.eq(0),
                             high_byte.eq(0), stalled.eq(0), event_bad.eq(0), pushed.eq(0),
                             cursor.eq(0)]
                with m.Switch(command):
                    with m.Case(Command.IDENTIFY, Command.COUNTERS):
                        with m.If(length != 0):
                            reply(m, Status.BAD_ARGUMENT)
                        with m.Elif(command == Command.IDENTIFY):
                            reply(m, Status.OK, Command.IDENTIFY, identify_length)
                        with m.Else():
                            reply(m, Status.OK, Command.COUNTERS, len(counter_bytes))
                    with m.Case(Command.RESULT):
                        with m.If(length != 0):
                            reply(m, Status.BAD_ARGUMENT)
                        with m.Elif(acc.results.valid):
                            m.d.sync += consume_result.eq(1)
                            reply(m, Status.OK, Command.RESULT, len(result_bytes))
                        with m.Else():
                            reply(m, Status.EMPTY)
                    with m.Case(Command.LOAD):
                        with m.If(length < 6):
                            reply(m, Status.BAD_ARGUMENT)
                        with m.Else():
                            m.next = "LOAD_HEADER"
                    # A direct network's samples carry values: PIXELS only (BAD_COMMAND).
                    with m.Case(*(() if network[0].direct else (Command.EVENTS,))):
                        with m.If(length[0]):
                            reply(m, Status.BAD_ARGUMENT)
                        with m.Elif(length == 0):
                            reply(m, Status.OK)
                        with m.Else():
                            m.next = "EVENTS_CHECK_WAIT"
                    with m.Case(*(() if network[0].direct else (Command.SPIKES,
                                                                Command.INFER))):
                        with m.If(length == 0):
                            m.next = "SPIKES_DONE"
                        with m.Else():
                            m.next = "SPIKES_CHECK_WAIT"
                    if enc is not None:
                        with m.Case(Command.PIXELS):
                            with m.If(length == 0):
                                reply(m, Status.BAD_ARGUMENT)
                            with m.Else():
                                m.next = "PIXELS_CHECK_WAIT"
                    with m.Case(Command.RESET):
                        with m.If(length != 0):
                            reply(m, Status.BAD_ARGUMENT)
                        with m.Else():
                            if enc is not None:
                                m.d.sync += written.eq(0)
                            m.d.sync += [discarded.eq(Cat(state_byte, unread)),
                                         sample_open.eq(0), unread.eq(0)]
                            if acc.exit_rule is not None:
                                m.d.sync += read_early.eq(0)
                            m.next = "RESET_ACCELERATOR"
                    with m.Default():
                        reply(m, Status.BAD_COMMAND)

            # LOAD: the 6 header bytes, validation, then the words (a byte per cycle; the frame
            # byte at rd_addr arrives two cycles later).
            with m.State("LOAD_HEADER"):
                m.d.sync += [rd_addr.eq(rd_addr + 1), header_bytes.eq(header_bytes + 1)]
                with m.If(header_bytes != 0):
                    m.d.sync += header.eq(Cat(header[8:], data))
                with m.If(header_bytes == 6):
                    m.d.sync += rd_addr.eq(6)      # on the port in LOAD_CHECK
                    m.next = "LOAD_CHECK"
            with m.State("LOAD_CHECK"):
                # Register the checks (a long path from the header through the geometry
                # lookup); decide in the next cycle.
                m.d.sync += [byte_in_word.eq(0), word_addr.eq(load_addr), rd_addr.eq(7),
                             word.eq(0), word_last.eq(word_bytes == 1),
                             left.eq(length - 6),
                             load_bad.eq((word_bytes == 0) | (expected_length != length)
                                         | (load_addr + load_count > depth)),
                             load_busy.eq(~idle), load_empty.eq(load_count == 0),
                             load_word_bytes.eq(word_bytes)]
                m.next = "LOAD_DECIDE"
            with m.State("LOAD_DECIDE"):
                with m.If(load_bad):
                    reply(m, Status.BAD_ARGUMENT)
                with m.Elif(load_busy):
                    reply(m, Status.BUSY)
                with m.Elif(load_empty):
                    reply(m, Status.OK)
                with m.Else():
                    m.d.sync += rd_addr.eq(8)      # bytes 6 and 7 are on their way
                    m.next = "LOAD_WORDS"
            with m.State("LOAD_WORDS"):
                # Each byte into its place (the word's bytes past word_bytes stay 0); the word
                # goes out with its last byte, from flip-flops and one multiplexer per byte.
                last_in = [Mux(byte_in_word == j, data, word[8 * j:8 * j + 8])
                           for j in range(max_word_bytes)]
                m.d.sync += [rd_addr.eq(rd_addr + 1), left.eq(left - 1),
                             byte_in_word.eq(byte_in_word + 1),
                             word_last.eq(byte_in_word + 2 == load_word_bytes)]
                with m.Switch(byte_in_word):
                    for j in range(max_word_bytes):
                        with m.Case(j):
                            m.d.sync += word[8 * j:8 * j + 8].eq(data)
                with m.If(word_last):
                    m.d.sync += [byte_in_word.eq(0), word_addr.eq(word_addr + 1),
                                 word_last.eq(load_word_bytes == 1)]
                    m.d.comb += [acc.load.valid.eq(1),
                                 acc.load.payload.layer.eq(load_layer),
                                 acc.load.payload.target.eq(load_target),
                                 acc.load.payload.addr.eq(word_addr),
                                 acc.load.payload.data.eq(Cat(*last_in))]
                with m.If(left == 1):
                    reply(m, Status.OK)

            # EVENTS: check every event (a byte per cycle), then push them all.
            with m.State("EVENTS_CHECK_WAIT"):
                m.d.sync += rd_addr.eq(rd_addr + 1)
                m.next = "EVENTS_CHECK"
            with m.State("EVENTS_CHECK"):
                m.d.sync += [rd_addr.eq(rd_addr + 1), left.eq(left - 1),
                             high_byte.eq(~high_byte), event_bad.eq(high_byte & ~event_ok)]
                with m.If(event_bad):                  # the event before this byte
                    reply(m, Status.BAD_ARGUMENT)
                with m.Elif(high_byte):
                    with m.If(left == 1):
                        m.d.sync += [rd_addr.eq(0), left.eq(length)]
                        m.next = "EVENTS_LOW_WAIT"
                with m.Else():
                    m.d.sync += event_lo.eq(data)
            # Each event: its low byte's address on the port in EVENTS_LOW_WAIT, its high
            # byte's from EVENTS_LOW on; the low byte arrives in EVENTS_HIGH_WAIT, the high one
            # in EVENTS_PUSH (and stays while the push waits).
            with m.State("EVENTS_LOW_WAIT"):
                with m.If(event_bad):                  # the frame's last event (no push yet)
                    reply(m, Status.BAD_ARGUMENT)
                with m.Else():
                    m.d.sync += rd_addr.eq(rd_addr + 1)
                    m.next = "EVENTS_LOW"
            with m.State("EVENTS_LOW"):
                m.next = "EVENTS_HIGH_WAIT"
            with m.State("EVENTS_HIGH_WAIT"):
                m.d.sync += event_lo.eq(data)
                m.next = "EVENTS_PUSH"
            with m.State("EVENTS_PUSH"):
                m.d.comb += [events.valid.eq(1),
                             events.payload.kind.eq(event_kind),
                             events.payload.addr.eq(event_addr)]
                with m.If(events.ready):
                    m.d.sync += [rd_addr.eq(rd_addr + 1), left.eq(left - 2)]
                    pushing(m, event_kind)
                    with m.If(left == 2):
                        reply(m, Status.OK)
                    with m.Else():
                        m.next = "EVENTS_LOW_WAIT"
                with m.Else():
                    stalling(m, Command.EVENTS)

            # SPIKES: check every code against the cursor (a byte per cycle), then push them,
            # a code per three cycles: its address on the port in SPIKES_READ, the byte in
            # `data` in SPIKES_PUSH (and kept while the push waits).
            with m.State("SPIKES_CHECK_WAIT"):
                m.d.sync += rd_addr.eq(rd_addr + 1)
                m.next = "SPIKES_CHECK"
            with m.State("SPIKES_CHECK"):
                m.d.sync += [rd_addr.eq(rd_addr + 1), left.eq(left - 1),
                             event_bad.eq(~code_ok), cursor.eq(next_cursor)]
                with m.If(event_bad):                  # the code before this one
                    reply(m, Status.BAD_ARGUMENT)
                with m.Elif(left == 1):
                    m.d.sync += [rd_addr.eq(0), left.eq(length), cursor.eq(0)]
                    m.next = "SPIKES_READ"
            with m.State("SPIKES_READ"):
                with m.If(event_bad):                  # the frame's last code (no push yet)
                    reply(m, Status.BAD_ARGUMENT)
                with m.Else():
                    m.next = "SPIKES_WAIT"
            with m.State("SPIKES_WAIT"):
                m.next = "SPIKES_PUSH"
            with m.State("SPIKES_PUSH"):
                # A code's low two bits are a marker's event kind (SPIKE for a spike).
                kind = Mux(is_spike, EventKind.SPIKE.value, data[:2])
                m.d.comb += [events.valid.eq(~skip),
                             events.payload.kind.eq(kind),
                             events.payload.addr.eq(Mux(is_spike, spike_addr, 0))]
                with m.If(skip | events.ready):
                    m.d.sync += [rd_addr.eq(rd_addr + 1), left.eq(left - 1),
                                 cursor.eq(next_cursor)]
                    with m.If(~skip):
                        pushing(m, kind)
                    with m.If(left == 1):
                        m.next = "SPIKES_DONE"
                    with m.Else():
                        m.next = "SPIKES_READ"
                with m.Else():
                    stalling(m, Command.SPIKES)
            # SPIKES is done; INFER then answers with the oldest result, as RESULT does, once
            # one is ready, or EMPTY when none is due (no SAMPLE unread: a result comes for
            # every SAMPLE pushed, so the wait always ends).
            with m.State("SPIKES_DONE"):
                with m.If(~infer):
                    reply(m, Status.OK)
                with m.Elif(acc.results.valid):
                    m.d.sync += consume_result.eq(1)
                    reply(m, Status.OK, Command.RESULT, len(result_bytes))
                with m.Elif(unread == 0):
                    reply(m, Status.EMPTY)

            if enc is not None:
                # PIXELS: check the flags and every pixel (a byte per cycle) and the count,
                # wait for the encoder to be idle, write the pixels (a byte per cycle), start.
                with m.State("PIXELS_CHECK_WAIT"):
                    m.d.sync += rd_addr.eq(rd_addr + 1)
                    m.next = "PIXELS_CHECK"
                with m.State("PIXELS_CHECK"):
                    m.d.sync += [rd_addr.eq(rd_addr + 1), left.eq(left - 1), high_byte.eq(1)]
                    with m.If(~high_byte):                 # byte 0: the flags
                        m.d.sync += [pixel_flags.eq(data[:2]), event_bad.eq(data[2:] != 0)]
                    if x_max < 0xFF:
                        with m.Elif(data > x_max):
                            m.d.sync += event_bad.eq(1)
                    with m.If(left == 1):
                        m.next = "PIXELS_DECIDE"
                with m.State("PIXELS_DECIDE"):
                    total = written + pixel_count
                    starting = pixel_flags[START]
                    with m.If(event_bad | (total > network.n_inputs)
                              | (starting & ((total != network.n_inputs) | sample_open))):
                        reply(m, Status.BAD_ARGUMENT)
                    with m.Else():
                        m.d.sync += [rd_addr.eq(1), left.eq(pixel_count)]
                        m.next = "PIXELS_WAIT"
                with m.State("PIXELS_WAIT"):
                    with m.If(~enc.busy):
                        m.d.sync += rd_addr.eq(2)          # pixel 0 is in `data` in WRITE
                        with m.If(left == 0):
                            m.next = "PIXELS_GO"
                        with m.Else():
                            m.next = "PIXELS_FETCH"
                    with m.Else():
                        stalling(m, Command.EVENTS)        # STALLED, taken 0: nothing written
                with m.State("PIXELS_FETCH"):
                    m.d.sync += rd_addr.eq(rd_addr + 1)
                    m.next = "PIXELS_WRITE"
                with m.State("PIXELS_WRITE"):
                    # The encoder is idle and has room for them (checked): ready every cycle.
                    m.d.comb += [enc.pixels.valid.eq(1), enc.pixels.payload.eq(data)]
                    with m.If(enc.pixels.ready):
                        m.d.sync += [rd_addr.eq(rd_addr + 1), left.eq(left - 1),
                                     written.eq(written + 1)]
                        with m.If(left == 1):
                            m.next = "PIXELS_GO"
                with m.State("PIXELS_GO"):
                    with m.If(pixel_flags[START]):
                        # The encoder is idle: the start is taken, and its SAMPLE will follow.
                        m.d.comb += enc.start.eq(1)
                        m.d.sync += written.eq(0)
                        with m.If(unread != 0xFFFF):
                            m.d.sync += unread.eq(unread + 1)
                    m.next = "SPIKES_DONE"

            # RESET: reset, a clearing SAMPLE through every layer, reset again (see above).
            with m.State("RESET_ACCELERATOR"):
                m.d.comb += reset_request.eq(1)
                m.next = "RESET_SETTLE"
            with m.State("RESET_SETTLE"):              # the registered reset acts now
                m.next = "RESET_SWEEP"
            with m.State("RESET_SWEEP"):
                m.d.comb += [events.valid.eq(1),
                             events.payload.kind.eq(EventKind.SAMPLE)]
                with m.If(events.ready):
                    m.next = "RESET_DRAIN"
            with m.State("RESET_DRAIN"):
                with m.If(acc.results.valid):
                    m.d.comb += reset_request.eq(1)
                    reply(m, Status.OK, Command.RESET, len(reset_bytes))

            with m.State("REPLY"):
                payload_byte = Signal(8)
                with m.Switch(reply_source):
                    with m.Case(Command.IDENTIFY):
                        m.d.comb += payload_byte.eq(Mux(reply_index == len(identity),
                                                        state_byte, rom_read.data))
                    with m.Case(Command.RESULT):
                        m.d.comb += payload_byte.eq(Array(result_bytes)[reply_index])
                    with m.Case(Command.COUNTERS):
                        m.d.comb += payload_byte.eq(Array(counter_bytes)[reply_index])
                    with m.Case(Command.EVENTS, Command.SPIKES):
                        m.d.comb += payload_byte.eq(Array(taken_bytes)[reply_index])
                    with m.Case(Command.RESET):
                        m.d.comb += payload_byte.eq(Array(reset_bytes)[reply_index])
                # The payload byte is registered too (the counters' multiplexer is wide).
                payload_register = Signal(8)
                m.d.sync += payload_register.eq(payload_byte)
                tx_byte = Signal(8)
                with m.Switch(reply_phase):
                    with m.Case(0):
                        m.d.comb += tx_byte.eq(REPLY_SYNC)
                    with m.Case(1):
                        m.d.comb += tx_byte.eq(status)
                    with m.Case(2):
                        m.d.comb += tx_byte.eq(command)
                    with m.Case(3):
                        m.d.comb += tx_byte.eq(reply_length[:8])
                    with m.Case(4):
                        m.d.comb += tx_byte.eq(reply_length[8:])
                    with m.Case(5):
                        m.d.comb += tx_byte.eq(payload_register)
                    with m.Default():
                        m.d.comb += tx_byte.eq(crc_tx.crc)
                # The byte is registered before it goes out (the payload multiplexers are a long
                # path), and the ROM answers a cycle after reply_index: after each byte, wait three
                # cycles for the next one to settle (index, ROM, payload register, tx register).
                # The UART takes the next byte 10 bit times after the last one, so the wait is
                # never seen; the first byte (the sync byte, a constant) still waits two.
                m.d.sync += tx_register.eq(tx_byte)
                with m.If(hold != 0):
                    m.d.sync += hold.eq(hold - 1)
                m.d.comb += [uart_tx.i.valid.eq(hold == 0), uart_tx.i.payload.eq(tx_register),
                             crc_tx.data.eq(tx_register)]
                with m.If(uart_tx.i.valid & uart_tx.i.ready):
                    m.d.sync += hold.eq(3)
                    m.d.comb += [crc_tx.start.eq(reply_phase == 1),
                                 crc_tx.valid.eq((reply_phase != 0) & (reply_phase != 6))]
                    with m.If(reply_phase == 5):
                        m.d.sync += [reply_index.eq(reply_index + 1),
                                     reply_left.eq(reply_left - 1)]
                        with m.If(reply_left == 1):
                            m.d.sync += reply_phase.eq(6)
                    with m.Elif((reply_phase == 4) & (reply_left == 0)):
                        m.d.sync += reply_phase.eq(6)
                    with m.Else():
                        m.d.sync += reply_phase.eq(reply_phase + 1)
                    with m.If(reply_phase == 6):
                        m.d.sync += reply_phase.eq(0)
                        with m.If(consume_result):
                            m.d.comb += acc.results.ready.eq(1)
                            m.d.sync += consume_result.eq(0)
                            with m.If(unread != 0):
                                m.d.sync += unread.eq(unread - 1)
                            if acc.exit_rule is not None:
                                with m.Else():       # early exit: before its SAMPLE
                                    m.d.sync += read_early.eq(1)
                        with m.If(status == Status.BAD_LENGTH):
                            m.next = "DISCARD"
                        with m.Else():
                            m.next = "IDLE"
            with m.State("DISCARD"):
                with m.If(timed_out):
                    m.next = "IDLE"
        with m.If(~fsm.ongoing("REPLY")):
            m.d.sync += [reply_index.eq(0), reply_phase.eq(0), hold.eq(2)]
        return m
