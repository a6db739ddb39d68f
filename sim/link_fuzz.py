"""Fuzzing of the UART host link in Verilator (issue 12, item 3).

``spikefab fuzz --frames 10000 --seed 1`` sends seeded random frames to the
RTL :class:`~spikefab.boards.link.HostLink` built by :mod:`.link_verilator`, in bursts, and
checks every reply against the behaviour the protocol states (:mod:`spikefab.boards.protocol`;
the reference parser and the device's shadow are :mod:`.link_reference`).

**What is sent** (:mod:`.link_fuzz_frames`, its classes and their shares): valid frames,
malformed, truncated, oversized and corrupted ones, out-of-order ones, random bytes and line
glitches, in bursts of 10-40 items. This module is the session: it puts each item on the line,
checks the reply, runs the checks after each burst and keeps the :class:`FuzzReport`.

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

**Direct networks** (``run_fuzz(..., encoder="direct")``, ``spikefab fuzz --encoder direct``;
docs/design.md §13): the fuzz network's first layer takes 7-bit values (``x_shift`` 4, its
threshold from the held currents, :func:`~spikefab.sim.link_fuzz_design.fuzz_network`) and
the link is built with the encoder's ``direct`` kind. Its samples come only as ``PIXELS``
frames, checked as for ``rate`` (their results against the golden model of the values
``encode_direct`` makes of the pixels); every well-framed ``EVENTS``, ``SPIKES`` and ``INFER``
frame, valid or not, must answer ``BAD_COMMAND`` and change nothing. Each check after a burst
runs two images through the encoder (no ``SPIKES`` inference), each alone after a ``RESET``:
class, counts, result cycle and counters equal to the golden and cycle models.

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
from spikefab.boards.protocol import (MAX_PAYLOAD, PIXELS_RESULT, PIXELS_START, SPIKES_SKIP,
                                      Command, Status, encode_request, encode_spikes)
from spikefab.model import simulate
from spikefab.model.encoders import encoder_schedule
from spikefab.model.events import SAMPLE, event_stream

from spikefab.sim.link_fuzz_design import FUZZ_INPUTS, fuzz_network, link_cycle_model, make_link
from spikefab.sim.link_fuzz_frames import CLASSES, SHARES, FuzzFrames
from spikefab.boards.host import encoder_trains
from spikefab.sim.link_reference import (FuzzFailure, Shadow, parse_request_bytes, read_reply,
                                         request_events)
from spikefab.sim.link_verilator import VerilatorSerial, build, hostlink_design
from spikefab.toolchain.progress import stage

__all__ = [
    "CLASSES",
    "SHARES",
    "FuzzFailure",
    "FUZZ_INPUTS",
    "FuzzReport",
    "LinkFuzzer",
    "fuzz_network",
    "link_cycle_model",
    "make_link",
    "run_fuzz",
]

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
    inputs: int = None          # the network's inputs
    spikes_frames: int = 0      # valid SPIKES and INFER frames sent
    skip_frames: int = 0        # ... with a SKIP code
    skip_codes: int = 0         # SKIP codes in them
    double_skip_frames: int = 0  # ... with two SKIP codes in a row
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
    encoder: str = None         # the on-chip encoder as --encoder names it (None: none)
    encoder_samples: int = 0    # PIXELS frames that started the encoder in the bursts
    refused_events: int = 0     # EVENTS/SPIKES/INFER frames a direct link answered BAD_COMMAND

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
                 *([] if self.encoder is None else [
                     f"on-chip {self.encoder} encoder: {self.encoder_samples} samples started "
                     f"by PIXELS frames in the bursts, and "
                     + ("two images a check; a direct network, so the "
                        f"{self.refused_events} well-framed EVENTS, SPIKES and INFER frames "
                        f"were answered BAD_COMMAND" if self.encoder == "direct"
                        else "one image a check")]),
                 f"valid SPIKES and INFER frames on the {self.inputs}-input network: "
                 f"{self.spikes_frames}, {self.skip_frames} of them with SKIP codes "
                 f"({self.skip_codes} SKIP codes; {self.double_skip_frames} frames with two "
                 f"in a row)" + (", all answered BAD_COMMAND (a direct network)"
                                  if self.encoder == "direct" else ""),
                 "frames by class: " + ", ".join(f"{c} {self.by_class[c]}" for c in CLASSES),
                 "frames by kind: " + ", ".join(f"{k} {n}" for k, n in
                                                sorted(self.by_kind.items())),
                 "replies to the fuzz frames by status: "
                 + ", ".join(f"{Status(s).name} {n}" for s, n in sorted(self.statuses.items()))
                 + f", none (noise) {self.no_reply}",
                 "longest wait for a reply (cycles from the request's last bit to the "
                 "reply's first byte received): "
                 + ", ".join(f"{k} {v}" for k, v in sorted(self.max_latency.items())),
                 f"simulated {self.cycles} cycles in {self.wall_seconds:.1f} s wall "
                 f"(Verilator build {self.build_seconds:.1f} s)",
                 "result: " + ("PASS" if self.failure is None else "FAIL")]
        return "\n".join(lines)


class LinkFuzzer(FuzzFrames):
    """Seeded fuzzing of a host link behind ``port`` (see the module docstring); the frames
    it sends are made by :class:`~spikefab.sim.link_fuzz_frames.FuzzFrames`.

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
        (default twice the link's frame timeout plus 20,000; in dense mode plus the steps
        of a frame of ``MAX_PAYLOAD`` markers and of the longest sample, at the dense
        baseline's cycles per step, which grow with the inputs: about 4,800 on 600).
    """

    def __init__(self, port, link, networks, poison, config, *, seed, burst=(10, 40),
                 reply_cycles=None, log=None):
        self.port, self.link, self.config = port, link, config
        self.rng = np.random.default_rng(seed)
        self.report = FuzzReport(seed=seed)
        self.shadow = Shadow(link, list(networks))
        self.report.inputs = self.shadow.n_inputs
        identity = link.identity                 # the build's rule, as --exit names it
        if identity.exit is not None:
            self.report.exit = identity.exit if identity.exit == "exact" else \
                f"margin:{identity.exit_margin}"
        self.report.encoder = identity.encoder
        self.networks = self.shadow.networks
        self.poison = self._fitting_poison(poison)
        self.divisor = link.divisor
        self.device_timeout = link.timeout
        self.max_steps = self.shadow.count_max      # the longest sample the counts hold
        self.burst = burst
        # The bound on every wait for a reply (a hang beyond it): the frame timeout after a
        # cut frame, plus the longest push of a full EVENTS frame, generously.
        self.reply_cycles = reply_cycles or 2 * link.timeout + 20000 + self._dense_cycles()
        self.quiet_cycles = 2 * self.device_timeout + 40 * self.divisor
        self.sent_until = 0
        self.log = log
        self.history = []            # (frame index, class, kind, bytes) of the burst so far
        self.frame_index = 0
        self.burst_index = 0
        self.empty_since = None

    def _dense_cycles(self):
        """0 in sparse mode; in dense mode (every input swept every step) the cycles of
        ``MAX_PAYLOAD`` + the longest sample's steps at full activity (the cycle model)."""
        if self.config.mode != "dense":
            return 0
        trains = np.ones((1, self.max_steps, self.shadow.n_inputs), dtype=bool)
        finish, _ = link_cycle_model(self.networks[0], trains, self.config)
        return -(-finish[-1] * (MAX_PAYLOAD + self.max_steps) // self.max_steps)

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

    def send_break(self, bits):
        """A break (one ``line`` item): the line held low for ``bits`` bit times, then idle;
        no reply may come."""
        self.report.frames += 1
        self.report.by_class["line"] += 1
        self.report.by_kind["break"] += 1
        self.frame_index += 1
        self.history.append((self.frame_index, "line", "break", f"low {bits} bits"))
        self._drive(0, bits * self.divisor)
        self._drive(1, 3 * self.divisor)
        self._no_reply()
        self.report.no_reply += 1

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
            if cls == "valid" and parsed.status is None \
                    and parsed.command in (Command.SPIKES, Command.INFER):
                self._count_skips(parsed.payload)
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

    def _count_skips(self, payload):
        report, skips = self.report, payload.count(SPIKES_SKIP)
        report.spikes_frames += 1
        report.skip_frames += skips > 0
        report.skip_codes += skips
        report.double_skip_frames += bytes([SPIKES_SKIP] * 2) in payload

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
        elif command in (Command.EVENTS, Command.SPIKES, Command.INFER) and shadow.direct:
            # A direct network's samples carry values: PIXELS only, whatever the payload.
            self.report.refused_events += 1
            return expect(Status.BAD_COMMAND)
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
        elif command == Command.PIXELS:
            self._check_pixels(payload, reply, expect)

    def _check_pixels(self, payload, reply, expect):
        """``PIXELS`` against the shadow: refused whole, ``STALLED`` (nothing written) only
        while the encoder may still push a sample behind an unread result, else the pixels
        written and, with the start flag, the encoder's sample pushed; with the result flag
        the reply is ``INFER``'s."""
        shadow, status = self.shadow, reply.status
        if shadow.encoder is None:
            return expect(Status.BAD_COMMAND)
        valid, flags, pixels = shadow.pixels_frame(payload)
        if not valid:
            return expect(Status.BAD_ARGUMENT)
        answer = bool(flags & PIXELS_RESULT)
        expect(Status.OK, *[Status.STALLED] * shadow.encoder_may_run,
               *[Status.EMPTY] * answer)
        if status == Status.STALLED:
            if reply.payload != bytes(2):
                self.fail(f"PIXELS STALLED reply {reply.payload.hex()}, expected taken 0")
            return
        shadow.pixels += pixels
        if flags & PIXELS_START:
            shadow.start_encoder(f"frame {self.frame_index} (PIXELS)")
            self.report.encoder_samples += 1
        if not answer:
            if reply.payload:
                self.fail(f"PIXELS OK reply with a payload of {len(reply.payload)} bytes")
            return
        if status == Status.EMPTY and shadow.pending or \
                status == Status.OK and not shadow.pending:
            self.fail(f"PIXELS answered {_name(status)} with {len(shadow.pending)} due")
        if status == Status.OK:
            self._check_result(reply.payload, shadow.pending.popleft())
            self.empty_since = None

    def _check_state(self, byte, where):
        shadow = self.shadow
        bits = {"sample_open": byte & 1, "result_waiting": byte >> 1 & 1,
                "busy": byte >> 2 & 1, "error": byte >> 3 & 1}
        if byte >> 4:
            self.fail(f"{where}: state byte 0x{byte:02x} has reserved bits set")
        if bits["sample_open"] != shadow.sample_open and not (
                bits["sample_open"] and shadow.encoder_may_run):    # the encoder is pushing
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
        # The reply is sent as it is read, not from a snapshot: layer 1's counters go first,
        # the idle flag about 45 bytes (1,800 cycles) later. The dense baseline's step (every
        # input swept: about 2,400 cycles on 600 inputs) can end in between, so in dense mode
        # spikes queued behind it may be counted only after their bytes were sent.
        counted_all = values[0] == pushed if self.config.mode != "dense" else values[0] <= pushed
        if idle and n == 5 and not counted_all:
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
        if shadow.direct:
            # Samples only as PIXELS (SPIKES are refused): two images through the encoder,
            # each alone after a RESET, the counters those of its sample alone.
            for index in range(2):
                if index:
                    device.reset()
                layers, trains = self._check_pixels_inference(device, net)
                self._check_counter_models(device.counters(), [layers], rule)
            self._checked(port, int(np.count_nonzero(trains)), len(trains))
            return
        steps = None if rule is None else shadow.exit_steps      # the samples the rule is for
        first = self._trains(steps=steps)
        second = self._trains(steps=steps)
        results = device.infer(first[None])                  # in SPIKES frames
        feeds = [self._feed(trains) for trains in (first, second)]
        finish, first_layers = link_cycle_model(net, first[None], self.config, exit=rule,
                                                frames=feeds[0])
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
        # Early exit: what a core computes or drops depends on when the exit is visible, so
        # each sample is modelled as the link feeds it (one frame after an idle pipeline).
        models = [first_layers, link_cycle_model(net, second[None], self.config, exit=rule,
                                                 frames=feeds[1])[1]]
        counters = device.counters()
        self._check_counter_models(counters, models, rule)
        spikes, steps = int(first.sum() + second.sum()), len(first) + len(second)
        if shadow.encoder is not None:
            # An image through the encoder, alone after a RESET (its result's cycle counts
            # from its first event), then the counters of its sample alone.
            device.reset()
            layers, trains = self._check_pixels_inference(device, net)
            self._check_counter_models(device.counters(), [layers], rule)
            spikes, steps = int(np.count_nonzero(trains)), len(trains)
        self.report.samples_checked += 2
        self._checked(port, spikes, steps)

    def _checked(self, port, spikes, steps):
        """The check's end: its frames counted, the shadow reset as the ``Device`` left the
        link (every result read, ``spikes`` events and ``steps`` markers since the RESET)."""
        self.report.check_frames += port.writes
        self.report.inferences += 1
        self.shadow.reset()
        self.shadow.spikes_pushed, self.shadow.steps_pushed = spikes, steps

    def _check_counter_models(self, counters, models, rule):
        """The device's counters against the sum of the cycle models' ``models`` (per
        sample, its layers), and idle without an error."""
        names = ("events", "words", "synaptic_updates") + (() if rule is None else ("dropped",))
        for index, got in enumerate(counters["layers"]):
            for name in names:
                want = sum(getattr(layers[index], name) for layers in models)
                if got[name] != want:
                    self.fail(f"layer {index + 1} {name} counter {got[name]}, cycle model "
                              f"{want}")
        if counters["error"] or not counters["idle"]:
            self.fail("after the inference the accelerator is not idle or flags an error")

    def _check_pixels_inference(self, device, net):
        """One image through the on-chip encoder (``Device.infer_pixels``): class and counts
        as the golden model of the encoder's code of it (``direct``: the values of
        ``encode_direct``), the result's cycle as the cycle model
        fed the encoder's events as it makes them. Returns the sample's layer cycles."""
        shadow, rng = self.shadow, self.rng
        identity = self.link.identity
        image = rng.integers(0, shadow.x_max + 1, size=shadow.n_inputs)
        image[rng.random(shadow.n_inputs) < 0.5] = 0
        [result] = device.infer_pixels(image)
        trains = encoder_trains(identity, image)
        delays = encoder_schedule(image, identity.encoder_steps, kind=identity.encoder,
                                  scan=identity.encoder_scan, x_bits=identity.encoder_x_bits,
                                  seed=identity.encoder_seed)
        finish, layers = link_cycle_model(net, trains[None], self.config,
                                          frames=[(0, len(delays), [0, *delays[1:]])])
        golden = simulate(net, trains[None])
        if (result.cls, list(result.counts), result.cycles) != \
                (int(golden.predicted[0]), golden.counts[0].tolist(), finish[0]):
            self.fail(f"PIXELS inference after RESET: class {result.cls} counts "
                      f"{list(result.counts)} cycles {result.cycles}; golden class "
                      f"{int(golden.predicted[0])} counts {golden.counts[0].tolist()}, cycle "
                      f"model {finish[0]}")
        self.report.samples_checked += 1
        return layers, trains

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
                     + ("" if self.report.exit is None else f" --exit {self.report.exit}")
                     + ("" if self.report.inputs == FUZZ_INPUTS
                        else f" --inputs {self.report.inputs}")
                     + ("" if self.report.encoder is None
                        else f" --encoder {self.report.encoder}"))
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


def _name(status):
    try:
        return Status(status).name
    except ValueError:
        return f"status {status}"


# -- entry point -------------------------------------------------------------------------------
def run_fuzz(frames, seed, *, fmt="csc", mode="sparse", divisor=4, cache_dir=None,
             burst=(10, 40), log=None, port_wrapper=None, link_class=HostLink, name="link",
             exit=None, inputs=FUZZ_INPUTS, encoder=None):
    """Build (or reuse) the Verilator model and run ``frames`` fuzz frames; returns the
    :class:`FuzzReport` (``failure`` is ``None`` when every reply was as stated).
    ``link_class`` and ``name`` build and name another link than
    :class:`~spikefab.boards.link.HostLink` (the tests' mutants of it); ``exit`` builds it
    with that early-exit rule and ``inputs`` with a network of that many inputs
    (:func:`make_link`; :data:`~spikefab.sim.link_fuzz_design.FUZZ_INPUTS`, 600: its
    ``SPIKES`` frames need ``SKIP`` codes; 6: the network of the fuzz before issue 23);
    ``encoder`` (``"rate"``, ``"latency"`` or ``"direct"``) builds the on-chip encoder in, and
    the fuzzer sends ``PIXELS`` frames too (``direct``: the network's first layer direct, so
    every well-framed ``EVENTS``, ``SPIKES`` and ``INFER`` frame must answer ``BAD_COMMAND``
    and change nothing)."""
    from pathlib import Path

    from spikefab.sim.link_verilator import default_cache_dir

    link, networks, poison, config = make_link(fmt, mode=mode, divisor=divisor,
                                               link_class=link_class, exit=exit,
                                               inputs=inputs, encoder=encoder)
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
