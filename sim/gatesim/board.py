"""Board-level gate simulation: the bitstream's own netlist behind its UART, driven by the
host driver.

The board flow writes the netlist of the bitstream's own yosys run (``<name>.netlist.v``,
:func:`spikefab.boards.synth.synthesize`). :func:`run_board_netlist` checks *that* netlist,
the one nextpnr places and the bitstream holds: it builds the network's bitstream with the
board flow (:func:`spikefab.boards.build.board_top` is the
:class:`~spikefab.boards.top.BoardTop` that ``spikefab synth`` builds; or it takes the
``top.netlist.v`` of an existing build), compiles the whole board top (UART, host link,
accelerator, the platform's clock and reset logic, the I/O cells) with the patched cell models
(:func:`spikefab.sim.gatesim.cells.cell_model_files`) into a
:mod:`spikefab.sim.link_verilator` program (:func:`board_link_design`), and drives it through
its UART pins with the real host driver (:class:`~spikefab.boards.host.Device` on
:class:`~spikefab.sim.link_verilator.VerilatorSerial`). It compares ``IDENTIFY`` with
:func:`~spikefab.boards.link.identity_of`, every sample's class and counts with the golden
model, every result's cycle count with :func:`board_cycle_model` and the performance counters
(events, words, synaptic updates, busy and stall cycles per layer) with that model's sums.
:func:`check_board_case` is the board-level row of ``spikefab gatesim``.

The result cycle counts from the first event after ``RESET`` and a sample's events come in
several ``SPIKES`` frames (at most 512 bytes each; ``EVENTS`` frames from a host that sends
them) with the host's round trips between them, so the cycle model is fed the frames at the
cycles the link offers their events (:func:`spikefab.boards.link.offered_frames`): the host
writes a frame when it has read the previous reply (the cycle is recorded), its ``5 + L``
bytes take ``10 * divisor`` cycles each and the link checks the ``L`` payload bytes at one a
cycle before the first push; within a frame the link offers the next event 3 cycles per code
after each transfer (4 for ``EVENTS``). The reply to a frame goes out a fixed number of
cycles after its last push, so the gap between the model's last push of a frame and the host's
next frame must be one constant (``BoardRun.reply_gaps``): the device's push timing, back
pressure included, is checked too. Weights in block RAM are not loaded (their ``INIT`` values
are under test); run-time loaded stores (SPRAM on the iCEBreaker for large layers) are.

Reset at board level: the iCE40 netlist holds the platform's power-on-reset counter (the
``sync`` domain is held in reset for 15 µs, 180 cycles at 12 MHz, after configuration); the
harness idles :data:`BOARD_STARTUP_CYCLES` before the host's first byte, and the host's session
opens with ``RESET``. The ECP5 tops reset the ``sync`` domain through ``SGSR``, which has no
model: every ``TRELLIS_FF`` starts at its ``REGSET`` value (the Amaranth ``init`` value), which
is what GSR gives it on the device, so no reset is needed before the host's ``RESET``. The
board top's pads and the Verilator options are the accelerator level's
(:mod:`spikefab.sim.gatesim.netlist`).
"""

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spikefab.boards.build import board_top
from spikefab.hw.elaboration import never_elaborated
from spikefab.model import HardwareConfig, Network
from spikefab.model.simulate import check_spike_trains
from spikefab.sim.gatesim.cells import cell_model_files, check_models
from spikefab.sim.gatesim.netlist import X_INITIAL, port_directions
from spikefab.toolchain.progress import track

__all__ = ["BOARD_BUILD_ARGS", "BOARD_OPT", "BOARD_STARTUP_CYCLES", "BOARD_SAMPLES", "BoardRun",
           "netlist_cells", "board_link_design", "board_cycle_model", "run_board_netlist",
           "check_board_case"]

#: Verilator options of a board-top netlist build (:mod:`spikefab.sim.link_verilator`): the
#: accelerator level's options (warnings, delays ignored, X as chosen at run time).
BOARD_BUILD_ARGS = ("-Wno-ASSIGNIN", "--no-timing", "--x-assign", "unique", "--x-initial",
                    "unique")
#: The C++ optimisation of a board-top netlist's model (``OPT_FAST``), as the accelerator
#: level's (:func:`spikefab.sim.gatesim.netlist.run_gate_level`, ``opt="-O1"``): Verilator's
#: default ``-Os`` compiles the flat netlist's thousands of cells much longer.
BOARD_OPT = "-O1"
#: Idle cycles before the host's first byte: the iCE40 platform's power-on reset holds the
#: ``sync`` domain (and so the UART receiver) in reset for 15 us, 180 cycles at 12 MHz, more
#: than a UART bit; the ECP5 tops start at once. 2,000 cycles cover both.
BOARD_STARTUP_CYCLES = 2000


@dataclass
class BoardRun:
    """What :func:`run_board_netlist` found.

    Members
    -------
    board, top : str
    netlist : Path
        The board top's ``write_verilog`` netlist (from the bitstream's own yosys run).
    cells : dict
        Cell counts by type in that netlist.
    identity : bool
        ``IDENTIFY`` answered exactly :func:`~spikefab.boards.link.identity_of` of the
        network's accelerator.
    loaded_layers : list of int
        Layers whose weights were sent with ``LOAD`` (run-time loaded stores, SPRAM); the
        others come from the bitstream's block RAM ``INIT`` values and are not loaded.
    samples, classes, counts, cycles : int
        Samples run, and how many of them had the golden class, the golden counts and the
        predicted result cycle.
    counters : bool
        The performance counters read after the last sample (events, words, synaptic
        updates, busy and stall cycles per layer) equal the cycle model's sums.
    results : list of Result
        The device's answers (:class:`~spikefab.boards.host.Result`).
    golden_classes, golden_counts, model_cycles :
        What was expected.
    reply_gaps : list of int
        The distinct values of the cycles from an ``EVENTS`` frame's last push (cycle model)
        to the host's next ``EVENTS`` frame of the same sample (the reply's latency and its six
        bytes), plus the link's fixed receive latency: one value when the device's pushes keep
        the cycle model's timing.
    problems : list of str
        Every difference found (empty: the netlist computed the model).
    frames : int
        Request frames sent.
    sim_cycles : int
        Simulated clock cycles of the session.
    synth_seconds, build_seconds, sim_seconds : float
        Board flow synthesis (0 for a given netlist), Verilator build (0 from the cache),
        and the session.
    """

    board: str
    top: str
    netlist: Path
    cells: dict
    identity: bool
    loaded_layers: list
    samples: int
    classes: int
    counts: int
    cycles: int
    counters: bool
    results: list
    golden_classes: list
    golden_counts: list
    model_cycles: list
    reply_gaps: list
    problems: list
    frames: int
    sim_cycles: int
    synth_seconds: float
    build_seconds: float
    sim_seconds: float
    x_initial: str = "zero"

    @property
    def ok(self):
        return not self.problems

    @property
    def luts(self):
        return self.cells.get("SB_LUT4", 0) + self.cells.get("LUT4", 0) \
            + 2 * self.cells.get("CCU2C", 0)

    def to_json(self):
        out = {name: getattr(self, name) for name in (
            "board", "top", "cells", "identity", "loaded_layers", "samples", "classes",
            "counts", "cycles", "counters", "golden_classes", "model_cycles", "reply_gaps",
            "problems", "frames", "sim_cycles", "synth_seconds", "build_seconds",
            "sim_seconds", "x_initial")}
        out.update(netlist=str(self.netlist), luts=self.luts, ok=self.ok,
                   device_classes=[r.cls for r in self.results],
                   device_cycles=[r.cycles for r in self.results])
        return out


_INSTANCE = re.compile(r"^  (\\?[A-Za-z_$][\w$]*) (?:#\(|\\?\S+\s+\()", re.M)
_NOT_CELLS = {"wire", "reg", "input", "output", "inout", "assign", "module", "endmodule"}


def netlist_cells(text):
    """Cell counts by type of a ``write_verilog -noattr`` netlist (instances of its modules)."""
    cells = {}
    for name in _INSTANCE.findall(text):
        name = name.lstrip("\\")
        if name not in _NOT_CELLS:
            cells[name] = cells.get(name, 0) + 1
    return cells


def board_link_design(netlist, board, *, divisor, folder, top="top"):
    """The :class:`~spikefab.sim.link_verilator.LinkDesign` of a board top's netlist
    (``<name>.netlist.v`` of :func:`spikefab.boards.synth.synthesize`): its ports are the
    board's pins — clock ``<default_clk>_0__io``, UART ``uart_0__rx__io``/``uart_0__tx__io``
    (``inout`` pads on iCE40: the link harness connects them through wires of its own; the
    unused pads float) — plus the family's patched cell models (:func:`cell_model_files`,
    written into ``folder``). Raises ``ValueError`` when the netlist lacks those ports and
    :class:`UnsupportedCell` for a cell without a model."""
    from spikefab.boards.registry import get_board

    from spikefab.sim.link_verilator import LinkDesign
    spec = get_board(board)
    netlist = Path(netlist).resolve()
    text = netlist.read_text()
    ports = port_directions(text, top)
    clock = f"{spec.platform.default_clk}_0__io"
    for pin in (clock, "uart_0__rx__io", "uart_0__tx__io"):
        if pin not in ports:
            raise ValueError(f"{netlist} is not a {spec.title} board top: its module {top} has "
                             f"no port {pin} (ports: {', '.join(ports)})")
    check_models(spec.family, netlist_cells(text), text)
    models, includes, _ = cell_model_files(spec.family, Path(folder))
    return LinkDesign(sources=[netlist], toplevel=top, divisor=divisor, clock=clock,
                      reset=None, rx="uart_0__rx__io", tx="uart_0__tx__io",
                      clock_hz=spec.clock_mhz * 1e6, extra_sources=models,
                      include_dirs=includes, build_args=BOARD_BUILD_ARGS, opt=BOARD_OPT,
                      startup_cycles=BOARD_STARTUP_CYCLES)


def board_cycle_model(network, trains, config, frames, interval=None):
    """The cycle model of ``trains`` (``[B, T, N0]``) fed by a host link whose ``EVENTS``
    frames deliver the events in order: ``frames`` is a list of ``(start, count)``, the cycle
    (from the first event, cycle 0) at which a frame's first event is offered and how many
    events it carries; within a frame the next event is offered ``interval`` cycles
    (:data:`~spikefab.boards.link.EVENT_INTERVAL`) after each transfer, as the link's
    ``EVENTS`` push does (a ``SPIKES`` frame: ``(start, count, delays)``, see
    :func:`~spikefab.boards.link.spikes_schedule`). With one frame starting at 0 this is
    :func:`~spikefab.sim.link_fuzz.link_cycle_model`.

    Returns ``(finish, layers, last_push)``: each sample's result cycle, the per-layer
    :class:`~spikefab.model.LayerCycles` and the cycle of each frame's last transfer."""
    from spikefab.boards.link import EVENT_INTERVAL, link_cycle_model
    report = link_cycle_model(network, trains, config, frames,
                              EVENT_INTERVAL if interval is None else interval)
    counts = [frame[1] for frame in frames]
    ends = np.cumsum(counts)
    last_push = [int(report.input_push[end - 1]) if count else None
                 for end, count in zip(ends, counts)]
    return report.finish.tolist(), report.layers, last_push


class _FrameLog:
    """A port that records, for every request frame written, the simulated cycle at which
    its first bit goes onto the line (the host writes only after the last reply byte, with
    the line idle) and the frame's bytes."""

    def __init__(self, port):
        self.port = port
        self.frames = []

    def write(self, data):
        self.frames.append((self.port.cycles, bytes(data)))
        return self.port.write(data)

    def __getattr__(self, name):
        return getattr(self.port, name)


def _load_layers(device, network, layers):
    """``LOAD`` the weights of ``layers`` only (as :meth:`Device.load` does for all): the other
    layers keep the bitstream's block RAM contents, which is what is being checked."""
    import struct

    from spikefab.boards.host import Command
    from spikefab.boards.protocol import MAX_PAYLOAD, TARGETS
    from spikefab.boards.host import device_placements
    from spikefab.model import compile_weights
    ident = device.identity
    placements = device_placements(ident, network)    # fixed by the bitstream (design §9)
    for index in layers:
        fields = {}
        if ident.formats[index] != "dense":
            start_bits, length_bits = ident.pointer_fields[index]
            fields = {"start_bits": start_bits, "length_bits": length_bits}
        image = compile_weights(network[index], ident.lanes[index], ident.formats[index],
                                placement=placements[index], **fields)
        for target_index, name in enumerate(TARGETS):
            memory = image.memories.get(name)
            if memory is None:
                continue
            word_bytes, _ = ident.memories[index][target_index]
            per_frame = (MAX_PAYLOAD - 6) // word_bytes
            for start in range(0, memory.depth, per_frame):
                words = memory.words[start:start + per_frame]
                body = struct.pack("<BBHH", index, target_index, start, len(words))
                body += b"".join(w.to_bytes(word_bytes, "little") for w in words)
                device.request(Command.LOAD, body)


def run_board_netlist(board, network, config, spikes, *, build_dir, netlist=None, top=None,
                      baud=None, max_steps=None, runtime_weights=None, reset_each=False,
                      cache_dir=None, x_initial="zero", seed=1, timeout=0.2, progress=False):
    """Board-level gate simulation: the netlist of the bitstream's own yosys run, behind its
    UART, driven by the real host driver.

    Builds ``network``'s bitstream for ``board`` with the board flow
    (:func:`spikefab.boards.synth.synthesize` on :func:`spikefab.boards.build.board_top`, as ``spikefab synth``
    does; in ``build_dir / "synth"``) — or takes ``netlist``, the ``<name>.netlist.v`` of an
    existing build (``make synth``: ``build/<board>/top.netlist.v``; then ``baud``,
    ``max_steps`` and ``runtime_weights`` must be the build's) — builds it with Verilator
    (:mod:`spikefab.sim.link_verilator`, the family's patched cell models) and runs
    :class:`~spikefab.boards.host.Device` on
    :class:`~spikefab.sim.link_verilator.VerilatorSerial`:

    1. the session's ``RESET``, then ``IDENTIFY``: must equal
       :func:`~spikefab.boards.link.identity_of` of the network's accelerator;
    2. ``LOAD`` of the run-time loaded weight stores only (block RAM weights are the
       bitstream's ``INIT`` values, which are under test);
    3. every sample through :meth:`Device.infer` (one session; ``reset_each``: ``RESET``
       before each sample): class and counts against :func:`spikefab.model.simulate`, the
       result's cycle count against :func:`board_cycle_model` fed with the ``EVENTS`` frames
       at the cycles the host sent them, and the performance counters after the last sample
       against the cycle model's sums.

    ``x_initial`` (``"zero"``/``"random"`` from ``seed``) sets the power-up value of state
    without one (block RAM output latches). ``timeout`` is the port's, in simulated seconds
    (above the board's 50 ms frame timeout). Returns a :class:`BoardRun`; a difference is
    in ``problems``, not raised.
    """
    from spikefab.boards.host import Device
    from spikefab.boards.link import FIRST_OFFER, identity_of, offered_frames
    from spikefab.boards.protocol import Command, ProtocolError
    from spikefab.boards.registry import get_board
    from spikefab.model import simulate

    from spikefab.sim.link_verilator import VerilatorSerial, build

    spec = get_board(board)
    if not isinstance(network, Network):
        raise TypeError("network must be a spikefab.model.Network")
    if not isinstance(config, HardwareConfig):
        raise TypeError("config must be a spikefab.model.HardwareConfig")
    if x_initial not in X_INITIAL:
        raise ValueError(f"x_initial = {x_initial!r} is not allowed; choose one of "
                         f"{', '.join(map(repr, X_INITIAL))}")
    trains, _ = check_spike_trains(spikes, network.n_inputs)
    steps = trains.shape[1]
    if top is None:
        top = board_top(spec, network, config, baud=baud, max_steps=max_steps or steps,
                        runtime_weights=runtime_weights)
    link = top.link_for(spec.clock_mhz * 1e6)
    if steps > link.accelerator.max_steps:
        raise ValueError(f"T = {steps} steps exceeds the bitstream's max_steps = "
                         f"{link.accelerator.max_steps}")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    name = "top"
    synth_seconds = 0.0
    if netlist is None:
        from spikefab.boards.synth import synthesize
        report = synthesize(spec, top, build_dir=build_dir / "synth", name=name)
        netlist, synth_seconds = report.netlist, report.seconds
    else:
        never_elaborated(top)
    netlist = Path(netlist).resolve()
    if not netlist.is_file():
        raise ValueError(f"netlist {netlist} is not an existing file; give the "
                         f"<name>.netlist.v that the board flow writes")
    found = re.search(r"^module\s+\\?(\S+?)\s*\(", netlist.read_text(), re.M)
    name = found.group(1) if found else name
    design = board_link_design(netlist, spec, divisor=link.divisor, folder=build_dir / "cells",
                               top=name)
    model = build(design, cache_dir=cache_dir or build_dir / "verilator")
    plusargs = (["+verilator+rand+reset+0"] if x_initial == "zero"
                else ["+verilator+rand+reset+2", f"+verilator+seed+{int(seed)}"])

    problems = []
    golden = simulate(network, trains)
    began = time.perf_counter()
    with VerilatorSerial(model, timeout=timeout, plusargs=plusargs) as serial:
        port = _FrameLog(serial)
        device = Device(port)
        expected = identity_of(link.accelerator)
        answered = device.identify()
        identity = answered == expected
        loaded = [i for i, runtime in enumerate(link.accelerator.runtime_weights) if runtime]
        results, counters = [], None
        if not identity:
            problems.append(f"IDENTIFY answered {answered}, expected {expected} (another "
                            f"network, configuration or spikefab version): no sample run")
        else:
            if loaded:
                _load_layers(device, network, loaded)
            try:
                for sample in track(list(trains), f"the {spec.title} bitstream's netlist "
                                    f"over its UART (Verilator)", unit="sample", show=progress):
                    if reset_each:
                        device.reset()
                    results += device.infer(sample[None])
                counters = device.counters()
            except ProtocolError as error:       # a device that stops answering is a finding
                problems.append(f"the device stopped answering as the protocol states after "
                                f"{len(results)} of {len(trains)} samples: {error}")
        sim_cycles = serial.cycles
    sim_seconds = time.perf_counter() - began

    classes = counts = cycles = 0
    model_cycles, gaps, counters_ok = [], [], False
    if counters is not None:
        # The EVENTS/SPIKES frames after each RESET, offered as boards.link.offered_frames
        # says (from the cycle the host wrote each).
        segments, segment, previous = [], None, None
        for cycle, frame in port.frames:
            if frame[1] == Command.RESET:
                segment = []
                segments.append(segment)
            elif frame[1] in FIRST_OFFER and segment is not None:
                # (after an INFER the host's next frame waits for a result, not a push)
                segment.append((cycle, frame, previous in (Command.EVENTS, Command.SPIKES)))
            previous = frame[1]
        segments = [s for s in segments if s]
        parts = [trains[i:i + 1] for i in range(len(trains))] if reset_each else [trains]
        if len(segments) != len(parts):
            raise RuntimeError(f"internal error: {len(segments)} RESET-to-RESET segments of "
                               f"EVENTS frames for {len(parts)} parts of the samples")
        last_stats = None
        for segment, part in zip(segments, parts):
            frames, origin = offered_frames([(c, f) for c, f, _ in segment], link.divisor)
            finish, last_stats, last_push = board_cycle_model(network, part, config, frames)
            model_cycles += [int(f) for f in finish]
            # Back to back frames (one sample's): the reply is due a fixed number of cycles
            # after the frame's last push, so the host's next write follows that push (on the
            # host's clock: origin + the model's cycle) by one constant.
            gaps += [cycle - origin - push for push, (cycle, _, follows)
                     in zip(last_push, segment[1:]) if follows]
        gaps = sorted(set(gaps))
        if len(gaps) > 1:
            problems.append(f"the host's next frame followed the cycle model's last push of a "
                            f"frame by {gaps} cycles, not by one constant: the device's push "
                            f"timing differs from the cycle model's")
        for index, result in enumerate(results):
            want_counts = golden.counts[index].tolist()
            ok_class = result.cls == int(golden.predicted[index])
            ok_counts = list(result.counts) == want_counts
            ok_cycles = index < len(model_cycles) and result.cycles == model_cycles[index]
            classes += ok_class
            counts += ok_counts
            cycles += ok_cycles
            if not (ok_class and ok_counts and ok_cycles):
                problems.append(
                    f"sample {index}: class {result.cls} counts {list(result.counts)} cycles "
                    f"{result.cycles}; golden class {int(golden.predicted[index])} counts "
                    f"{want_counts}, cycle model "
                    f"{model_cycles[index] if index < len(model_cycles) else '?'}")
        counters_ok = last_stats is not None
        for index, got in enumerate(counters["layers"]):
            for field in ("events", "words", "synaptic_updates", "busy", "stall"):
                want = getattr(last_stats[index], field) if last_stats else None
                if got[field] != want:
                    counters_ok = False
                    problems.append(f"layer {index + 1} {field} counter {got[field]}, cycle "
                                    f"model {want}")
        if counters["error"] or not counters["idle"]:
            counters_ok = False
            problems.append(f"after the last sample the device flags error={counters['error']} "
                            f"idle={counters['idle']}")
    return BoardRun(
        board=spec.name, top=name, netlist=netlist, cells=netlist_cells(netlist.read_text()),
        identity=identity, loaded_layers=[i + 1 for i in loaded], samples=len(trains),
        classes=classes, counts=counts, cycles=cycles, counters=counters_ok, results=results,
        golden_classes=golden.predicted.tolist(), golden_counts=golden.counts.tolist(),
        model_cycles=model_cycles, reply_gaps=gaps, problems=problems,
        frames=len(port.frames), sim_cycles=sim_cycles,
        synth_seconds=round(synth_seconds, 1), build_seconds=round(model.build_seconds, 1),
        sim_seconds=round(sim_seconds, 1), x_initial=x_initial)


#: Board-level samples by default: each digits image is about 640 events, three EVENTS frames
#: of up to 512 bytes (about 1.4 M cycles of the board clock at 115,200 baud; 54,000 at the
#: iCEBreaker's default 3 Mbaud).
BOARD_SAMPLES = 10


def check_board_case(board, network, config, trains, *, build_dir, x_initial="zero"):
    """Build ``network``'s bitstream for ``board`` with the board flow and run
    :func:`run_board_netlist` on its netlist; returns a row of the CLI table (a dict)."""
    run = run_board_netlist(board, network, config, trains, build_dir=build_dir,
                            x_initial=x_initial)
    n = run.samples
    return {"samples": n, "identity": run.identity, "classes": run.classes,
            "counts": run.counts, "cycles": run.cycles, "counters": run.counters,
            "problems": run.problems, "luts": run.luts,
            "bram": run.cells.get("SB_RAM40_4K", 0) + run.cells.get("DP16KD", 0),
            "cells": run.cells, "synth_s": run.synth_seconds, "build_s": run.build_seconds,
            "sim_s": run.sim_seconds, "sim_cycles": run.sim_cycles, "frames": run.frames,
            "netlist": str(run.netlist), "reply_gaps": run.reply_gaps,
            "loaded_layers": run.loaded_layers, "model_cycles": run.model_cycles}
