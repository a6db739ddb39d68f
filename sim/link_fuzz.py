"""Fuzzing of the UART host link in Verilator (issue 12, item 3).

``spikefab fuzz --frames 10000 --seed 1`` sends seeded random frames to the
RTL :class:`~spikefab.boards.link.HostLink` built by :mod:`.link_verilator`, in bursts, and
checks every reply against the behaviour the protocol states (:mod:`spikefab.boards.protocol`;
the reference parser and the device's shadow are :mod:`.link_reference`).

**What is sent** (one *frame* is one item put on the line; the classes and their shares):

* ``valid`` — ``IDENTIFY``, ``COUNTERS``, ``RESULT``, ``RESET``, ``EVENTS``, ``SPIKES`` or
  ``INFER`` (its reply a result, checked as ``RESULT``'s) with a whole sample or a piece of one, ``EVENTS`` with no events, ``LOAD`` of a slice of the weights
  already loaded (or of unused words past the image), ``LOAD`` of zero words;
* ``malformed`` — a bad sync byte, an unknown command, a bad CRC, a payload the command does
  not take (a payload for ``IDENTIFY``, an odd ``EVENTS`` length, a ``LOAD`` out of range, of
  the wrong length, for a memory or a layer that does not exist, without its header), an
  event for an input that does not exist or of kind 3 in the middle of good ones, a
  ``SPIKES`` code 255 or a spike past the last input among good codes;
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

**What is checked.** A reference parser (written from the protocol's docstring) reads the
bytes of each item as the link must: where a reply is due (and the item is cut right after
that byte, except after ``BAD_LENGTH`` whose rest is skipped), which status, or that there is
none (noise before a sync byte). A shadow of the device's state — the events of the open
sample, the results closed and not read (with their golden class and counts, from
:func:`spikefab.model.simulate` on the current weights), the words of every weight memory,
whether the accelerator may be busy — decides the rest: ``EMPTY`` only with no result due,
``BUSY`` exactly when a result is unread, ``STALLED`` only behind a result and then exactly the
first ``taken`` events count, ``RESET``'s ``unread`` and ``discarded`` state, the ``IDENTIFY``
block and state byte, the ``COUNTERS`` (with the accelerator idle, layer 1 counted exactly the
spikes pushed since ``RESET``). Every reply must start with its sync byte (nothing stray
before it), carry a good CRC, echo the command, have the payload length of its status, and
come within the port's timeout (no hang); where none is due, none may come.

**After each burst** the device must answer ``IDENTIFY`` (block and state as the shadow says),
then ``RESET`` (what it discarded as the shadow says; then all counters zero), then run an
inference through the real driver (:class:`~spikefab.boards.host.Device`): class and counts
equal to the golden model, the first sample's result cycle equal to the cycle model with the
link's feed (the driver's ``SPIKES`` frame, a code every 3 cycles), and the performance
counters (events, words, synaptic updates) equal to the cycle model's. Poison ``LOAD`` frames
(other weights) are sent only where they must be refused, so a half-applied one shows in
that inference; a corrupted frame that happens to pass its CRC is followed by the shadow
(and the weights are reloaded if it changed them).

**Early exit** (``run_fuzz(..., exit="exact" | ("margin", m))``, ``spikefab fuzz --exit``;
protocol 3): the link is built with the rule for samples of ``T`` = 12 steps (:func:`make_link`),
three quarters of the samples sent have ``T`` steps, and the reference uses the same rule: the
golden model ``simulate(..., exit=rule)`` (class, counts and the ``steps u16`` every
``RESULT`` then carries) and, for the inferences after each burst, the exit cycle model
(:mod:`spikefab.model.exit_cycles`) fed as the link feeds it (result cycle; ``events``,
``words``, ``synaptic_updates`` and ``dropped`` counters). A ``RESULT`` sent while a sample is
open may return that sample's result once it has exited (the out-of-order kind
``result_before_sample`` sends one on purpose): it must equal the golden model of the steps
sent so far, which must already exit. ``COUNTERS`` bounds layer 1's ``events`` + ``dropped``
between the spikes pushed and the spikes and ``STEP`` markers pushed. ``RESET``'s ``unread``
does not count a sample whose result was read before its ``SAMPLE``.

The run is one seeded ``numpy.random.Generator`` stream: the same seed sends the same bytes.
A failure prints the seed, the burst, the frame index and the bytes of the burst so far.
"""

import collections
import struct
import time
from dataclasses import dataclass, field

import numpy as np
from spikefab.boards.host import Device
from spikefab.boards.link import HostLink, offered_frames
from spikefab.boards.protocol import (MAX_PAYLOAD, REQUEST_SYNC, SPIKES_SKIP, Command, Status,
                                      encode_request, encode_spikes)
from spikefab.model import Network, simulate
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream

from spikefab.sim.link_fuzz_design import fuzz_network, link_cycle_model, make_link
from spikefab.sim.link_reference import (FuzzFailure, Shadow, parse_request_bytes, read_reply,
                                         request_events)
from spikefab.sim.link_verilator import VerilatorSerial, build, hostlink_design
from spikefab.toolchain.progress import stage

__all__ = [
    "FuzzFailure",
    "FuzzReport",
    "LinkFuzzer",
    "fuzz_network",
    "link_cycle_model",
    "make_link",
    "run_fuzz",
]

CLASSES = ("valid", "malformed", "truncated", "oversized", "corrupted", "out_of_order",
           "random", "line")
SHARES = (0.25, 0.15, 0.10, 0.05, 0.15, 0.15, 0.08, 0.07)


# -- the fuzzer --------------------------------------------------------------------------------
@dataclass
class FuzzReport:
    seed: int
    frames: int = 0
    check_frames: int = 0
    bursts: int = 0
    inferences: int = 0
    samples_checked: int = 0
    results_checked: int = 0
    results_unknown: int = 0
    early_results: int = 0
    reloads: int = 0
    by_class: collections.Counter = field(default_factory=collections.Counter)
    by_kind: collections.Counter = field(default_factory=collections.Counter)
    statuses: collections.Counter = field(default_factory=collections.Counter)
    no_reply: int = 0
    max_latency: dict = field(default_factory=dict)
    cycles: int = 0
    wall_seconds: float = 0.0
    build_seconds: float = 0.0
    failure: str = None
    exit: str = None            # the early-exit rule as --exit names it (None: none)

    def summary(self):
        lines = [f"link fuzz: seed {self.seed}, {self.frames} frames in {self.bursts} bursts "
                 f"(+ {self.check_frames} check frames), {self.inferences} inferences "
                 f"({self.samples_checked} samples) checked against the golden and cycle "
                 f"models; in the bursts {self.results_checked} results read and checked "
                 f"against the golden model ({self.results_unknown} read unchecked: doubled "
                 f"spikes, weights changed mid-sample, counts beyond their width), "
                 f"{self.by_kind['load_switch']} LOAD frames switching weights, "
                 f"{self.reloads} reloads after a corrupted LOAD",
                 *([] if self.exit is None else [
                     f"early exit {self.exit}: {self.early_results} results read before their "
                     f"SAMPLE and checked"]),
                 "frames by class: " + ", ".join(f"{c} {self.by_class[c]}" for c in CLASSES),
                 "frames by kind: " + ", ".join(f"{k} {n}" for k, n in
                                                sorted(self.by_kind.items())),
                 "replies to the fuzz frames by status: " + ", ".join(f"{Status(s).name} {n}" for s, n in
                                                   sorted(self.statuses.items()))
                 + f", none (noise) {self.no_reply}",
                 "longest wait for a reply (cycles from the request's last bit to the "
                 "reply's first byte received): "
                 + ", ".join(f"{k} {v}" for k, v in sorted(self.max_latency.items())),
                 f"simulated {self.cycles} cycles in {self.wall_seconds:.1f} s wall "
                 f"(Verilator build {self.build_seconds:.1f} s)",
                 "result: " + ("PASS" if self.failure is None else "FAIL")]
        return "\n".join(lines)


class LinkFuzzer:
    """Seeded fuzzing of a host link behind ``port`` (see the module docstring).

    Parameters
    ----------
    port : VerilatorSerial (or any port with ``write``/``read``/``timeout``, ``cycles``,
        ``idle(cycles=, after_written=)`` and ``drive(level, cycles)``)
    link : HostLink
        The design on the other end (its identity, network, divisor, timeout).
    networks : sequence of Network
        The weights the link starts with, then other weights valid reloads may switch to.
    poison : Network
        Weights sent only in frames that must be refused.
    config : HardwareConfig
    seed : int
    burst : (int, int)
        Fewest and most frames of a burst.
    reply_cycles : int, optional
        The bound on every wait for a reply, in cycles after the request's last bit
        (default twice the link's frame timeout plus 20,000).
    """

    def __init__(self, port, link, networks, poison, config, *, seed, burst=(10, 40),
                 reply_cycles=None, log=None):
        self.port, self.link, self.config = port, link, config
        self.rng = np.random.default_rng(seed)
        self.report = FuzzReport(seed=seed)
        self.shadow = Shadow(link, list(networks))
        identity = link.identity                 # the build's rule, as --exit names it
        if identity.exit is not None:
            self.report.exit = identity.exit if identity.exit == "exact" else \
                f"margin:{identity.exit_margin}"
        self.networks = self.shadow.networks
        self.poison = self.shadow.fitting_image(poison)
        if self.poison is None:
            # Not loadable into this link's memories: the same synapses with other values
            # (every word differs where a weight is; the pointers are the same).
            first = self.networks[0]
            other = Network([layer.replace(weights=_other_values(layer)) for layer in first])
            self.poison = self.shadow.fitting_image(other)
        self.divisor = link.divisor
        self.device_timeout = link.timeout
        self.max_steps = self.shadow.count_max      # the longest sample the counts hold
        self.burst = burst
        # The bound on every wait for a reply (a hang beyond it): the frame timeout after a
        # cut frame, plus the longest push of a full EVENTS frame, generously.
        self.reply_cycles = reply_cycles or 2 * link.timeout + 20000
        self.quiet_cycles = 2 * self.device_timeout + 40 * self.divisor
        self.sent_until = 0
        self.log = log
        self.history = []            # (frame index, class, kind, bytes) of the burst so far
        self.frame_index = 0
        self.burst_index = 0
        self.empty_since = None

    # -- low level ---------------------------------------------------------------------------
    def _seconds(self, cycles):
        return cycles / self.port.clock_hz

    def _write(self, data):
        self.port.write(data)
        self.sent_until = max(self.sent_until, self.port.cycles) + len(data) * 10 * self.divisor

    def _drive(self, level, cycles):
        self.port.drive(level, cycles)
        self.sent_until = max(self.sent_until, self.port.cycles) + cycles

    def _reply(self, label):
        self.port.timeout = self._seconds(self.reply_cycles)
        reply = read_reply(self.port, self.sent_until)
        if reply is None:
            raise FuzzFailure(f"no reply within {self.reply_cycles} cycles (a hang)")
        key = f"{label}"
        self.report.max_latency[key] = max(self.report.max_latency.get(key, 0), reply.latency)
        return reply

    def _no_reply(self):
        self.port.timeout = self._seconds(self.quiet_cycles)
        data = self.port.read(1)
        if data:
            more = self.port.read(64)
            raise FuzzFailure(f"a reply came where none is due: {(data + more).hex()}")

    def fail(self, message):
        raise FuzzFailure(message)

    # -- one item ----------------------------------------------------------------------------
    def send(self, cls, kind, data, *, pieces=None, counted=True):
        """Put ``data`` on the line (``pieces``: a list of bytes and ``("glitch", n)`` /
        ``("pause", n)`` line events, whose bytes make ``data``), and check what comes back
        against the parser and the shadow. Returns the Reply (or None)."""
        parsed = parse_request_bytes(data)
        if parsed.end is not None and parsed.end < len(data) - 1 \
                and parsed.status != Status.BAD_LENGTH:
            # The link acts after that byte and drops what arrives meanwhile: cut the item
            # there, so what follows is exactly predictable.
            data = data[:parsed.end + 1]
            pieces = None
        if counted:
            self.report.frames += 1
            self.report.by_class[cls] += 1
            self.report.by_kind[kind] += 1
            self.frame_index += 1
        else:
            self.report.check_frames += 1
        self.history.append((self.frame_index if counted else None, cls, kind, bytes(data)))
        if pieces is None:
            self._write(data)
        else:
            for piece in pieces:
                if isinstance(piece, tuple):
                    name, cycles = piece
                    if name == "glitch":
                        self._drive(0, cycles)
                        self._drive(1, 2 * self.divisor)
                    else:
                        self._drive(1, cycles)
                else:
                    self._write(piece)
        if parsed.end is None:
            self._no_reply()
            self.report.no_reply += 1
            return None
        label = (Command(parsed.command).name if parsed.command in set(Command)
                 else "other") if parsed.status is None else parsed.status.name
        reply = self._reply(label)
        if counted:
            self.report.statuses[reply.status] += 1
        if parsed.status is not None:
            if reply.status != parsed.status:
                self.fail(f"status {_name(reply.status)}, expected {parsed.status.name}")
            if parsed.command is not None and reply.command != parsed.command:
                self.fail(f"reply echoes command {reply.command}, not {parsed.command}")
            if reply.payload:
                self.fail(f"{parsed.status.name} reply with a payload of {len(reply.payload)}")
            if parsed.status == Status.BAD_LENGTH:
                # The rest of the frame is skipped until the line is quiet.
                self.port.idle(cycles=self.device_timeout + 4 * self.divisor + 8,
                               after_written=True)
                self.port.timeout = 0
                if self.port.read(1):
                    self.fail("bytes after a BAD_LENGTH reply")
            return reply
        if reply.command != parsed.command:
            self.fail(f"reply echoes command {reply.command}, not {parsed.command}")
        self._check(parsed.command, parsed.payload, reply)
        return reply

    def _check(self, command, payload, reply):
        """The reply to a well-framed request, against the shadow (which it then updates)."""
        shadow, status = self.shadow, reply.status
        name = Command(command).name if command in set(Command) else f"command {command}"

        def expect(*allowed):
            if status not in allowed:
                self.fail(f"{name}: status {_name(status)}, expected "
                          f"{' or '.join(_name(s) for s in allowed)}")
            if status not in (Status.OK, Status.STALLED) and reply.payload:
                self.fail(f"{name}: {_name(status)} reply with a payload")

        if command not in set(Command):
            return expect(Status.BAD_COMMAND)
        command = Command(command)
        if command in (Command.IDENTIFY, Command.COUNTERS, Command.RESULT, Command.RESET) \
                and payload:
            return expect(Status.BAD_ARGUMENT)
        if command == Command.IDENTIFY:
            expect(Status.OK)
            block = self.link.identity.encode()
            if reply.payload[:-1] != block or len(reply.payload) != len(block) + 1:
                self.fail("IDENTIFY: the identity block differs from the design's")
            self._check_state(reply.payload[-1], "IDENTIFY")
        elif command == Command.COUNTERS:
            expect(Status.OK)
            self._check_counters(reply.payload)
        elif command == Command.RESULT:
            if not shadow.pending:
                if not shadow.early_possible:
                    return expect(Status.EMPTY)
                expect(Status.OK, Status.EMPTY)      # the open sample's, if it has exited
                if status == Status.OK:
                    self.report.early_results += 1
                    self._check_result(reply.payload, shadow.early_result())
                return
            expect(Status.OK, Status.EMPTY)
            if status == Status.OK:
                self._check_result(reply.payload, shadow.pending.popleft())
                self.empty_since = None
            elif self.empty_since is None:
                self.empty_since = self.port.cycles
            elif self.port.cycles - self.empty_since > 50 * self.reply_cycles:
                self.fail(f"RESULT still EMPTY {self.port.cycles - self.empty_since} cycles "
                          f"after a result was due (a hang)")
        elif command == Command.RESET:
            expect(Status.OK)
            if len(reply.payload) != 3:
                self.fail(f"RESET reply of {len(reply.payload)} bytes, expected 3")
            self._check_state(reply.payload[0], "RESET (discarded)")
            unread = struct.unpack_from("<H", reply.payload, 1)[0]
            if unread != min(len(shadow.pending), 0xFFFF):
                self.fail(f"RESET reports {unread} unread results, expected "
                          f"{len(shadow.pending)}")
            shadow.reset()
            self.empty_since = None
        elif command == Command.LOAD:
            valid, layer, target, addr, words = shadow.load_frame_ok(payload)
            if not valid:
                return expect(Status.BAD_ARGUMENT)
            if shadow.pending:
                return expect(Status.BUSY)
            if shadow.certainly_idle:
                expect(Status.OK)
            else:
                expect(Status.OK, Status.BUSY)
            if status == Status.OK:
                shadow.apply_load(layer, target, addr, words)
        elif command in (Command.EVENTS, Command.SPIKES, Command.INFER):
            events = request_events(command, payload, shadow.n_inputs)
            if events is None:
                return expect(Status.BAD_ARGUMENT)
            samples = [i for i, (kind, _) in enumerate(events) if kind == SAMPLE]
            may_stall = bool(shadow.pending) or any(i < len(events) - 1 for i in samples)
            expect(Status.OK, *[Status.STALLED] * may_stall,
                   *[Status.EMPTY] * (command == Command.INFER))
            taken = len(events)
            if status == Status.STALLED:
                if reply.command != command or len(reply.payload) != 2:
                    self.fail(f"STALLED reply of {len(reply.payload)} bytes, expected 2")
                taken = struct.unpack("<H", reply.payload)[0]
                if taken >= len(events):
                    self.fail(f"STALLED after taking {taken} of {len(events)} events")
                if not shadow.pending and taken <= samples[0]:
                    self.fail(f"STALLED after {taken} events, before any result was due")
            elif reply.payload and command != Command.INFER:
                self.fail(f"{name} OK reply with a payload of {len(reply.payload)} bytes")
            shadow.push(events[:taken], f"frame {self.frame_index}")
            if command == Command.INFER and status != Status.STALLED:   # then as RESULT
                early = not shadow.pending and shadow.early_possible
                if status == Status.EMPTY and shadow.pending or \
                        status == Status.OK and not (shadow.pending or early):
                    self.fail(f"INFER answered {_name(status)} with {len(shadow.pending)} due")
                if status == Status.OK:
                    self.report.early_results += early
                    self._check_result(reply.payload, shadow.early_result() if early
                                       else shadow.pending.popleft())
                    self.empty_since = None

    def _check_state(self, byte, where):
        shadow = self.shadow
        bits = {"sample_open": byte & 1, "result_waiting": byte >> 1 & 1,
                "busy": byte >> 2 & 1, "error": byte >> 3 & 1}
        if byte >> 4:
            self.fail(f"{where}: state byte 0x{byte:02x} has reserved bits set")
        if bits["sample_open"] != shadow.sample_open:
            self.fail(f"{where}: sample_open {bits['sample_open']}, expected "
                      f"{int(shadow.sample_open)}")
        if bits["result_waiting"] and not shadow.pending and not shadow.early_possible:
            self.fail(f"{where}: result_waiting with no result due")
        if bits["busy"] and shadow.certainly_idle:
            self.fail(f"{where}: busy with nothing in flight")
        if bits["error"] and not shadow.error_possible:
            self.fail(f"{where}: the error flag is set")

    def _counter_layout(self):
        """``(layers, counters per layer)``: 5, or 6 with early exit (``dropped``)."""
        return len(self.link.identity.shape) - 1, 5 if self.shadow.rule is None else 6

    def _check_counters(self, data):
        layers, n = self._counter_layout()
        size = (4 * n + 2) * layers
        if len(data) != size + 3:
            self.fail(f"COUNTERS reply of {len(data)} bytes, expected {size + 3}")
        values = struct.unpack_from(f"<{n * layers}I", data, 0)
        error, idle, state = data[size], data[size + 1], data[size + 2]
        if error not in (0, 1) or idle not in (0, 1):
            self.fail(f"COUNTERS: error {error} and idle {idle} are not flags")
        if error and not self.shadow.error_possible:
            self.fail("COUNTERS: the error flag is set")
        if not idle and self.shadow.certainly_idle:
            self.fail("COUNTERS: not idle with nothing in flight")
        pushed = self.shadow.spikes_pushed
        if idle and n == 5 and values[0] != pushed:
            self.fail(f"COUNTERS: layer 1 counted {values[0]} events, "
                      f"{pushed} spikes were pushed since RESET")
        if idle and n == 6 and not (values[0] <= pushed <= values[0] + values[5]
                                    <= pushed + self.shadow.steps_pushed):
            # Early exit: each spike pushed is taken (events) or dropped, as are the markers.
            self.fail(f"COUNTERS: layer 1 counted {values[0]} events and {values[5]} dropped; "
                      f"{pushed} spikes and {self.shadow.steps_pushed} STEP markers were "
                      f"pushed since RESET")
        self._check_state(state, "COUNTERS")

    def _check_result(self, data, expected):
        classes = self.shadow.classes
        size = 2 + 2 * classes + 4 + (0 if self.shadow.rule is None else 2)
        if len(data) != size:
            self.fail(f"RESULT reply of {len(data)} bytes, expected {size}")
        cls = struct.unpack_from("<H", data, 0)[0]
        counts = struct.unpack_from(f"<{classes}H", data, 2)
        if self.shadow.rule is not None:
            steps = struct.unpack_from("<H", data, 6 + 2 * classes)[0]
            if expected.steps is not None and steps != expected.steps:
                self.fail(f"RESULT of {expected.where}: {steps} steps run, golden model "
                          f"{expected.steps} (class {cls} counts {list(counts)})")
        if expected.counts is None:
            self.report.results_unknown += 1
            return
        self.report.results_checked += 1
        if (cls, tuple(counts)) != (expected.cls, expected.counts):
            self.fail(f"RESULT of the sample closed in {expected.where}: class {cls} counts "
                      f"{list(counts)}, golden class {expected.cls} counts "
                      f"{list(expected.counts)}")

    # -- frames ------------------------------------------------------------------------------
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
        return self.rng.random((steps, self.shadow.n_inputs)) < density

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
                   "events_empty", "load_same", "load_beyond", "load_zero", "reset"]
        weights = [1, 1, 2, 3, 2, 0.3, 1.5, 0.5, 0.3, 0.4]
        kind = choices[_pick(self.rng, weights)]
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
                "events_bad", "spikes_bad", "max_length"][_pick(rng, [1, 1, 1, 1, 1, 1, 1, 0.3])]
        if kind == "bad_sync":
            _, frame = self._valid_request()
            wrong = int(rng.integers(0, 255))
            wrong += wrong >= REQUEST_SYNC
            frame = bytes([wrong]) + frame[1:]
        elif kind == "bad_command":
            command = int(rng.choice([0, *range(9, 256)]))
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
        elif kind == "max_length":                        # exactly MAX_PAYLOAD random bytes
            command = int(rng.choice([Command.LOAD, Command.EVENTS, Command.SPIKES,
                                      int(rng.integers(9, 256))]))
            frame = encode_request(command, rng.bytes(MAX_PAYLOAD))
        elif kind == "spikes_bad":            # a code 255 or a spike past the last input
            payload = encode_spikes(self._sample_events())[0][:400]
            bad = bytes([0xFF]) if rng.random() < 0.5 else bytes(
                [SPIKES_SKIP] * (shadow.n_inputs // SPIKES_SKIP) + [shadow.n_inputs % SPIKES_SKIP])
            at = int(rng.integers(len(payload) + 1))
            frame = encode_request(Command.SPIKES, payload[:at] + bad + payload[at:])
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
                           np.flatnonzero(rng.random(shadow.n_inputs) < 0.5)]
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
            bits = int(rng.integers(1, 31))
            self.report.frames += 1
            self.report.by_class["line"] += 1
            self.report.by_kind[kind] += 1
            self.frame_index += 1
            self.history.append((self.frame_index, "line", kind, f"low {bits} bits"))
            self._drive(0, bits * self.divisor)
            self._drive(1, 3 * self.divisor)
            self._no_reply()
            self.report.no_reply += 1
            return
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

    # -- after a burst -------------------------------------------------------------------------
    def check_after_burst(self):
        shadow = self.shadow
        self.send("check", "identify", encode_request(Command.IDENTIFY), counted=False)
        self.send("check", "reset", encode_request(Command.RESET), counted=False)
        reply = self.send("check", "counters", encode_request(Command.COUNTERS), counted=False)
        layers, n = self._counter_layout()
        if any(struct.unpack_from(f"<{n * layers}I", reply.payload, 0)) \
                or any(struct.unpack_from(f"<{layers}H", reply.payload, 4 * n * layers)) \
                or reply.payload[-3:] != bytes([0, 1, 0]):
            self.fail(f"COUNTERS after RESET are not zero and idle: {reply.payload.hex()}")
        port = _CountingPort(self.port)
        device = Device(port, retries=0, reset=False)
        self.port.timeout = self._seconds(self.reply_cycles)
        if shadow.weights is None:
            net = self.networks[0]
            device.load(net)
            for key, words in shadow.images[id(net)].items():
                shadow.memory[key][:len(words)] = words
            shadow.weights = shadow._match()
            self.report.reloads += 1
        net, rule = shadow.weights, shadow.rule
        steps = None if rule is None else shadow.exit_steps      # the samples the rule is for
        first = self._trains(steps=steps)
        second = self._trains(steps=steps)
        results = device.infer(first[None])                  # in SPIKES frames
        feeds = [self._feed(trains) for trains in (first, second)]
        finish, _ = link_cycle_model(net, first[None], self.config, exit=rule, frames=feeds[0])
        golden = simulate(net, first[None], exit=rule)
        ran = None if rule is None else int(golden.ran[0])
        if (results[0].cls, list(results[0].counts), results[0].cycles, results[0].steps) != \
                (int(golden.predicted[0]), golden.counts[0].tolist(), finish[0], ran):
            self.fail(f"inference after RESET: class {results[0].cls} counts "
                      f"{list(results[0].counts)} cycles {results[0].cycles} steps "
                      f"{results[0].steps}; golden class {int(golden.predicted[0])} counts "
                      f"{golden.counts[0].tolist()} steps {ran}, cycle model {finish[0]}")
        results = device.infer(second[None])
        golden = simulate(net, second[None], exit=rule)
        ran = None if rule is None else int(golden.ran[0])
        if (results[0].cls, list(results[0].counts), results[0].steps) != \
                (int(golden.predicted[0]), golden.counts[0].tolist(), ran):
            self.fail(f"second inference after RESET: class {results[0].cls} counts "
                      f"{list(results[0].counts)} steps {results[0].steps}; golden class "
                      f"{int(golden.predicted[0])} counts {golden.counts[0].tolist()} steps "
                      f"{ran}")
        counters = device.counters()
        # Early exit: what a core computes or drops depends on when the exit is visible, so
        # each sample is modelled as the link feeds it (one frame after an idle pipeline).
        models = [link_cycle_model(net, trains[None], self.config, exit=rule, frames=feed)[1]
                  for trains, feed in zip((first, second), feeds)]
        names = ("events", "words", "synaptic_updates") + (() if rule is None else ("dropped",))
        for index, got in enumerate(counters["layers"]):
            for name in names:
                want = sum(getattr(layers[index], name) for layers in models)
                if got[name] != want:
                    self.fail(f"layer {index + 1} {name} counter {got[name]}, cycle model "
                              f"{want}")
        if counters["error"] or not counters["idle"]:
            self.fail("after the inference the accelerator is not idle or flags an error")
        self.report.check_frames += port.writes
        self.report.inferences += 1
        self.report.samples_checked += 2
        shadow.reset()                               # Device read both results
        shadow.spikes_pushed = int(first.sum() + second.sum())
        shadow.steps_pushed = len(first) + len(second)

    def _feed(self, trains):
        """The frames (:func:`~spikefab.boards.link.offered_frames`) of the driver's one
        ``SPIKES`` request of a sample (its events offered 3 cycles a code)."""
        [payload] = encode_spikes(event_stream(trains[None]))
        return offered_frames([(0, encode_request(Command.SPIKES, payload))], self.link.divisor)[0]

    # -- the run -----------------------------------------------------------------------------
    def run(self, frames):
        began = time.perf_counter()
        with stage("fuzzing the host link (Verilator)", total=frames, unit="frame") as bar:
            try:
                self.check_after_burst()              # the device works before any fuzz
                while self.report.frames < frames:
                    self.burst_index += 1
                    self.history = []
                    size = int(self.rng.integers(self.burst[0], self.burst[1] + 1))
                    target = min(frames, self.report.frames + size)
                    while self.report.frames < target:
                        self.item()
                    self.check_after_burst()
                    self.report.bursts += 1
                    bar.update(self.report.frames - bar.count)     # once per burst
                    if self.log and self.report.bursts % 50 == 0:
                        self.log(f"  {self.report.frames} frames, {self.report.bursts} bursts, "
                                 f"{time.perf_counter() - began:.0f} s")
            except (FuzzFailure, Exception) as error:
                self.report.failure = self._describe(error)
                bar.fail()
        self.report.wall_seconds = time.perf_counter() - began
        self.report.cycles = self.port.cycles
        return self.report

    def _describe(self, error):
        lines = [f"FAILURE at seed {self.report.seed}, burst {self.burst_index}, frame "
                 f"{self.frame_index}: {type(error).__name__}: {error}",
                 "the burst so far (frame index, class, kind, bytes sent):"]
        for index, cls, kind, data in self.history[-40:]:
            text = data.hex() if isinstance(data, bytes) else data
            lines.append(f"  {index} {cls} {kind} {text}")
        lines.append(f"replay: spikefab fuzz --seed {self.report.seed} "
                     f"--frames {self.report.frames}"
                     + ("" if self.report.exit is None else f" --exit {self.report.exit}"))
        return "\n".join(lines)


class _CountingPort:
    """A port that counts the frames the host driver writes through it."""

    def __init__(self, port):
        self._port, self.writes = port, 0

    def write(self, data):
        self.writes += 1
        return self._port.write(data)

    def __getattr__(self, name):
        return getattr(self._port, name)

    @property
    def timeout(self):
        return self._port.timeout


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


def _pick(rng, weights):
    weights = np.asarray(weights, dtype=float)
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _name(status):
    try:
        return Status(status).name
    except ValueError:
        return f"status {status}"


# -- entry point -------------------------------------------------------------------------------
def run_fuzz(frames, seed, *, fmt="csc", mode="sparse", divisor=4, cache_dir=None,
             burst=(10, 40), log=None, port_wrapper=None, link_class=HostLink, name="link",
             exit=None):
    """Build (or reuse) the Verilator model and run ``frames`` fuzz frames; returns the
    :class:`FuzzReport` (``failure`` is ``None`` when every reply was as stated).
    ``link_class`` and ``name`` build and name another link than
    :class:`~spikefab.boards.link.HostLink` (the tests' mutants of it); ``exit`` builds it
    with that early-exit rule (:func:`make_link`)."""
    from pathlib import Path

    from spikefab.sim.link_verilator import default_cache_dir

    link, networks, poison, config = make_link(fmt, mode=mode, divisor=divisor,
                                               link_class=link_class, exit=exit)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    began = time.perf_counter()
    design = hostlink_design(link, cache / "sources", name=name)
    model = build(design, cache_dir=cache)
    build_seconds = time.perf_counter() - began
    with VerilatorSerial(model) as port:
        target = port if port_wrapper is None else port_wrapper(port)
        fuzzer = LinkFuzzer(target, link, networks, poison, config, seed=seed, burst=burst,
                            log=log)
        report = fuzzer.run(frames)
    report.build_seconds = build_seconds
    return report
