"""Co-simulation harness: run a network's accelerator on input spike trains and read back
what the hardware computed.

Two back-ends drive the same :class:`~spikefab.hw.accelerator.Accelerator`:

* ``"amaranth"`` — the Amaranth simulator on the Amaranth design (a VCD waveform on request);
* ``"verilator"`` (or ``"icarus"``) — cocotb on the generated Verilog (an FST/VCD waveform on
  request).

Both feed the samples back to back, one event per cycle whenever the first queue has room
(the source of the cycle model), take every result as soon as it is valid, and return a
:class:`HardwareRun`: every layer's spikes per step (from monitor taps on the inter-layer
streams), the counts, the class and the cycle of every sample's result, and the layers'
performance counters.

With an early-exit rule (``exit=``, docs/design.md §2 and §4) the accelerator is built with it
(``Accelerator(..., exit=rule, steps=T)``); the harness then runs until every event is in and
the accelerator is idle (a result can come before its sample's last event), reads each
result's ``steps`` and the ``dropped`` counters, and :func:`mismatches` compares with the
golden model run with the same rule and with the exit cycle model.

Verilator's generated makefiles cannot name a folder whose path holds ``:``, a space or
another character ``make`` treats specially: for such a ``build_dir``
(:func:`verilator_build_dir`) the build runs in a temporary folder and is copied into
``build_dir`` afterwards.

>>> from spikefab.model import HardwareConfig, reference_network, encode_rate
>>> from spikefab.sim.cosim import run_accelerator
>>> net = reference_network((16, 12, 4), w_bits=4)
>>> spikes = encode_rate(np.arange(16) * 16, 4)
>>> run = run_accelerator(net, HardwareConfig.uniform(net, lanes=2), spikes)
>>> run.classes.shape, run.spikes[0].shape
((1,), (1, 4, 12))
"""

import contextlib
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikefab.hw.accelerator import HARDWARE_TIMING, Accelerator
from spikefab.hw.events import EventKind, addr_bits_for
from spikefab.hw.layer_core import COUNTER_BITS
from spikefab.hw.readout import CYCLE_BITS
from spikefab.hw.verilog import convert
from spikefab.model import HardwareConfig, Network
from spikefab.model.early_exit import exit_rule
from spikefab.model.events import SAMPLE, SPIKE, STEP, event_stream, sample_starts
from spikefab.model.simulate import check_inputs
from spikefab.toolchain.progress import stage

__all__ = ["HardwareRun", "BACKENDS", "Cosimulation", "cosimulate", "event_stream",
           "input_events", "mismatches", "run_accelerator", "verilator_build_dir"]

BACKENDS = ("amaranth", "verilator", "icarus")
_BACKEND_NAMES = {"amaranth": "Amaranth simulator", "verilator": "Verilator",
                  "icarus": "Icarus Verilog"}
COUNTER_NAMES = ("events", "words", "synaptic_updates", "busy", "stall")
#: With early exit, each layer's counters also hold ``dropped`` (the events discarded).
EXIT_COUNTER_NAMES = COUNTER_NAMES + ("dropped",)


@dataclass
class HardwareRun:
    """What the hardware computed for a batch of ``B`` samples of ``T`` steps.

    Members
    -------
    classes : int array ``[B]``
    counts : int array ``[B, N_L]``
    finish : int array ``[B]``
        Cycle (from the first input event, cycle 0) in which each result became valid.
    spikes : list of bool arrays ``[B, T, N_l]``
        Every layer's output spikes per step.
    counters : list of dict
        Per layer: events, words, synaptic_updates, busy, stall (totals over the batch).
    result_counters : list of list of dict
        The same counters as snapshotted into each result (cumulative).
    high_water : list of int
        Largest fill of each layer's input queue.
    error : bool
        The accelerator's sticky error flag.
    sim_cycles, wall_seconds : int, float
        Simulated cycles and the wall-clock time of simulating them (without elaboration or
        the Verilator build, which ``extra["build_seconds"]`` holds for cocotb back-ends).
    steps : int array ``[B]`` or None
        With early exit, the steps each sample ran (each result's ``steps``).
    emitted : list of int arrays ``[B]`` or None
        With early exit, per layer the steps of each sample the layer emitted (its ``STEP``
        markers: the steps it computed before the exit was visible, at least ``steps``).
    """

    classes: np.ndarray
    counts: np.ndarray
    finish: np.ndarray
    spikes: list
    counters: list
    high_water: list
    error: bool
    result_counters: list = field(default_factory=list)
    sim_cycles: int = 0
    wall_seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    steps: np.ndarray = None
    emitted: list = None

    @property
    def total(self):
        """Cycle of the last result (the batch's cycle count)."""
        return int(self.finish[-1])

    @property
    def latency(self):
        """Per-sample cycles from the sample's first input event to its result (needs the
        first-event cycles recorded by the run)."""
        return self.finish - np.asarray(self.extra["first_event"])

    @property
    def cycles_per_second(self):
        return self.sim_cycles / self.wall_seconds if self.wall_seconds else float("nan")


def _spikes_from_taps(network, taps, batch, steps, emitted=None):
    """Rebuild ``[B, T, N_l]`` per layer from each layer's tapped (kind, addr) sequence.
    ``emitted`` (a list, early exit): a layer may end a sample after fewer than ``steps``
    steps; the steps of each sample go to ``emitted`` (one ``[B]`` array per layer)."""
    out = []
    for index, layer in enumerate(network):
        array = np.zeros((batch, steps, layer.neurons), dtype=bool)
        b = t = 0
        ran = np.zeros(batch, dtype=np.int64)
        for kind, addr in taps[index]:
            if kind == EventKind.SPIKE.value:
                if b >= batch or t >= steps:
                    raise AssertionError(f"layer {index + 1} emitted a spike outside the batch")
                if array[b, t, addr]:
                    raise AssertionError(f"layer {index + 1} emitted neuron {addr} twice in "
                                         f"sample {b} step {t}")
                array[b, t, addr] = True
            elif kind == EventKind.STEP.value:
                t += 1
            else:
                if t != steps and (emitted is None or t > steps or b >= batch):
                    raise AssertionError(f"layer {index + 1} ended sample {b} after {t} steps, "
                                         f"not {steps}")
                if b < batch:
                    ran[b] = t
                b, t = b + 1, 0
        if b != batch:
            raise AssertionError(f"layer {index + 1} finished {b} of {batch} samples")
        out.append(array)
        if emitted is not None:
            emitted.append(ran)
    return out


def input_events(network, trains):
    """The events the accelerator of ``network`` takes for its inputs ``trains`` ``[B, T,
    N0]``: :func:`event_stream`'s ``(kind, addr)``, or for a direct network (docs/design.md
    §13) ``(SPIKE, j, value)`` for each non-zero value in the same order."""
    if not network[0].direct:
        return event_stream(trains)
    events = []
    for sample in np.asarray(trains):
        for step in sample:
            events.extend((SPIKE, int(a), int(step[a])) for a in np.flatnonzero(step))
            events.append((STEP, 0))
        events.append((SAMPLE, 0))
    return events


def cycle_limit(network, config, events, steps, batch):
    """A generous bound on the cycles a batch may take (beyond it the run is a hang)."""
    per_step = sum(layer.fan_in * -(-layer.neurons // c.lanes) + 2 * layer.neurons + 64
                   for layer, c in zip(network, config.layers))
    return 1000 + 4 * len(events) + 2 * per_step * steps * batch


def run_description(dut, events, batch, limit):
    """What the cocotb harness (:mod:`spikefab.sim.cocotb_accelerator`) reads from its
    ``SPIKEFAB_RUN`` file for accelerator ``dut`` (an RTL build or a gate-level netlist of
    it): the events to feed, the batch, the cycle limit and the widths of the result, tap and
    counter ports."""
    layout = dut.result_layout
    exiting = getattr(dut, "exit_rule", None) is not None
    return {
        "events": events, "batch": batch, "limit": limit,
        "addr_bits": addr_bits_for(dut.network.n_inputs), "classes": dut.network.n_outputs,
        "value_bits": getattr(dut, "value_bits", 0),
        "cls_bits": layout["cls"].width, "count_bits": dut.readout.count_bits,
        "cycle_bits": CYCLE_BITS, "layers": len(dut.cores),
        "tap_addr_bits": max(addr_bits_for(layer.neurons) for layer in dut.network),
        "counter_bits": COUNTER_BITS,
        "counter_names": list(EXIT_COUNTER_NAMES if exiting else COUNTER_NAMES),
        # Early exit: run until every event is in and the accelerator is idle; each result
        # ends with ``steps`` (the steps the sample ran).
        "drain": exiting,
        "steps_offset": layout["steps"].offset if exiting else None,
        "steps_bits": layout["steps"].width if exiting else None,
    }


def decode_run(network, trains, raw, *, wall_seconds, extra=()):
    """The :class:`HardwareRun` of what a simulation recorded (``raw``: the harness's
    ``SPIKEFAB_OUT`` file, or the Amaranth testbench's record) for input ``trains``
    ``[B, T, N0]``: classes, counts, result cycles and counters per result, every layer's
    spikes rebuilt from its tap (a spike outside the batch or a neuron twice in a step is an
    ``AssertionError``), the first-event cycle of each sample; ``extra`` adds entries."""
    batch, steps, _ = trains.shape
    taps = [[tuple(event) for event in layer] for layer in raw["taps"]]
    exiting = any(len(r) > 4 for r in raw["results"])
    emitted = [] if exiting else None
    spikes = _spikes_from_taps(network, taps, batch, steps, emitted)
    return HardwareRun(
        classes=np.array([r[0] for r in raw["results"]], dtype=np.int64),
        counts=np.array([r[1] for r in raw["results"]], dtype=np.int64),
        finish=np.array([r[2] for r in raw["results"]], dtype=np.int64),
        spikes=spikes, counters=raw["counters"],
        high_water=raw["high_water"], error=bool(raw["error"]),
        result_counters=[r[3] for r in raw["results"]], sim_cycles=raw["cycles"],
        wall_seconds=wall_seconds,
        steps=np.array([r[4] for r in raw["results"]], dtype=np.int64) if exiting else None,
        emitted=emitted,
        extra={"first_event": [raw["pushes"][i] for i in sample_starts(trains)], **dict(extra)})


def run_accelerator(network, config, spikes, *, backend="amaranth", waves=None,
                    build_dir=None, max_steps=None, exit=None):
    """Run ``spikes`` (``[T, N0]`` or ``[B, T, N0]``) through ``network``'s accelerator.

    Parameters
    ----------
    network : Network
    config : HardwareConfig
        Its ``timing`` is replaced by the hardware's (:data:`HARDWARE_TIMING`).
    backend : {"amaranth", "verilator", "icarus"}
    waves : path-like, optional
        Write a waveform there (VCD for amaranth, FST/VCD in ``build_dir`` for cocotb).
    build_dir : path-like, optional
        Where cocotb builds the simulator (default: a temporary folder).
    max_steps : int, optional
        Sizes the hardware's output counters (default: ``T``).
    exit : None, ``"exact"`` or ``("margin", m)``
        Build the accelerator with this early-exit rule (``steps = T``; sparse mode, no
        convolution core, else ``ValueError``).
    """
    if not isinstance(network, Network):
        raise TypeError("network must be a spikefab.model.Network")
    if not isinstance(config, HardwareConfig):
        raise TypeError("config must be a spikefab.model.HardwareConfig")
    if waves is not None:
        waves = Path(waves).resolve()           # written after the run, from another folder
    if backend not in BACKENDS:
        raise ValueError(f"backend = {backend!r} is not allowed; choose one of "
                         f"{', '.join(BACKENDS)}")
    trains, _batched = check_inputs(network, spikes)
    batch, steps, _ = trains.shape
    max_steps = steps if max_steps is None else max_steps
    if steps > max_steps:
        raise ValueError(f"T = {steps} steps exceeds max_steps = {max_steps}")
    config = HardwareConfig(config.layers, mode=config.mode, timing=HARDWARE_TIMING)
    events = input_events(network, trains)
    limit = cycle_limit(network, config, events, steps, batch)
    rule = exit_rule(exit)
    dut = Accelerator(network, config, max_steps=max_steps, taps=True,
                      **({} if rule is None else dict(exit=rule, steps=steps)))
    start = time.perf_counter()
    if backend == "amaranth":
        raw = _run_amaranth(dut, events, batch, limit, waves)
    else:
        raw = _run_cocotb(dut, events, batch, limit, backend, waves, build_dir)
    elapsed = time.perf_counter() - start
    wall = raw.get("sim_seconds", elapsed)
    return decode_run(network, trains, raw, wall_seconds=wall,
                      extra={"build_seconds": elapsed - wall})


def _run_amaranth(dut, events, batch, limit, waves):
    from amaranth.sim import Simulator

    raw = {"results": [], "taps": [[] for _ in dut.cores], "pushes": []}
    exiting = dut.exit_rule is not None
    names = EXIT_COUNTER_NAMES if exiting else COUNTER_NAMES

    async def testbench(ctx):
        position, cycle = 0, 0
        began = time.perf_counter()
        ctx.set(dut.results.ready, 1)
        # With early exit a result can come before its sample's last event: run until every
        # event is in and nothing is in flight.
        while len(raw["results"]) < batch or (exiting and (position < len(events)
                                                           or not ctx.get(dut.idle))):
            if cycle >= limit:
                raise RuntimeError(f"the accelerator produced {len(raw['results'])} of {batch} "
                                   f"results in {limit} cycles (a hang)")
            offering = position < len(events)
            if offering:
                kind, addr, *value = events[position]
                payload = {"kind": EventKind(kind), "addr": addr}
                if dut.value_bits:
                    payload["value"] = value[0] if value else 0
                ctx.set(dut.events.payload, payload)
            ctx.set(dut.events.valid, offering)
            if offering and ctx.get(dut.events.ready):
                raw["pushes"].append(cycle)
                position += 1
            for index, tap in enumerate(ctx.get(dut.taps)):
                if tap.transfer:
                    raw["taps"][index].append((tap.kind.value, tap.addr))
            if ctx.get(dut.results.valid):
                result = ctx.get(dut.results.payload)
                raw["results"].append((result.cls, list(result.counts), result.cycles,
                                       [{name: getattr(c, name) for name in names}
                                        for c in result.counters])
                                      + ((result.steps,) if exiting else ()))
            await ctx.tick()
            cycle += 1
        raw["cycles"] = cycle
        raw["sim_seconds"] = time.perf_counter() - began
        raw["counters"] = [{name: getattr(c, name) for name in names}
                           for c in ctx.get(dut.counters)]
        raw["high_water"] = list(ctx.get(dut.high_water))
        raw["error"] = ctx.get(dut.error)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    if waves:
        with sim.write_vcd(str(waves)):
            sim.run()
    else:
        sim.run()
    return raw


#: The characters a build folder's path may hold for ``make`` (Verilator's and cocotb's
#: makefiles): ``:`` ends a target, a space splits a word, ``#``, ``$``, ``%``, ``=`` and
#: quotes mean something else.
_MAKE_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+,@~-]+")


@contextlib.contextmanager
def verilator_build_dir(build_dir):
    """A folder ``make`` can build in for ``build_dir``: ``build_dir`` itself (absolute) when its
    path has only characters ``make`` takes, else a new temporary folder whose contents are
    copied into ``build_dir`` when the block ends (even on an error, so the logs are there)
    and which is then removed. Raises ``ValueError`` when the temporary folder's own path is
    not safe either (``TMPDIR`` naming such a folder)."""
    folder = Path(build_dir).resolve()
    if _MAKE_SAFE_PATH.fullmatch(str(folder)):
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    work = Path(tempfile.mkdtemp(prefix="spikefab-build-")).resolve()
    if not _MAKE_SAFE_PATH.fullmatch(str(work)):
        shutil.rmtree(work, ignore_errors=True)
        raise ValueError(f"cannot build in {str(folder)!r} (make does not take ':', spaces or "
                         f"#$%=\"' in a path) nor in the temporary folder {str(work)!r}: "
                         f"choose an output folder of letters, digits and _./+,@~-")
    try:
        yield work
    finally:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copytree(work, folder, symlinks=True, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _run_cocotb(dut, events, batch, limit, simulator, waves, build_dir):
    if build_dir is None:
        folder = Path(tempfile.mkdtemp(prefix="spikefab-cosim-")).resolve()
        return _run_cocotb_in(dut, events, batch, limit, simulator, waves, folder, True)
    with verilator_build_dir(build_dir) as folder:
        return _run_cocotb_in(dut, events, batch, limit, simulator, waves, folder, False)


def _run_cocotb_in(dut, events, batch, limit, simulator, waves, folder, owned):
    """:func:`_run_cocotb` in ``folder`` (absolute, a path ``make`` takes: the cocotb test runs
    in the build folder, not in the caller's working directory); removed after when
    ``owned``."""
    from spikefab.toolchain.cocotb_runner import run_cocotb

    geometry = run_description(dut, events, batch, limit)
    try:
        vectors = folder / "run.json"
        output = folder / "out.json"
        vectors.write_text(json.dumps(geometry))
        with stage("generating the accelerator's Verilog (Amaranth)"):
            verilog = convert(dut, "accelerator")
        run_cocotb(verilog=verilog, toplevel="accelerator",
                   test_module="spikefab.sim.cocotb_accelerator", build_dir=folder,
                   simulator=simulator, waves=bool(waves),
                   extra_env={"SPIKEFAB_RUN": str(vectors), "SPIKEFAB_OUT": str(output)})
        raw = json.loads(output.read_text())
        if waves:
            for name in ("dump.fst", "dump.vcd", "accelerator.fst"):
                if (folder / name).exists():
                    shutil.move(folder / name, waves)      # /tmp may be another device
                    break
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
    return raw


def mismatches(network, config, trains, run, *, first=0, exit=None):
    """What differs between a hardware ``run`` of ``trains`` and the golden and cycle
    models: a list of one-line problems (empty when every spike of every layer, count,
    class, result cycle and performance counter agrees) and the golden result. ``first``
    numbers the samples in the messages (the index of ``trains[0]`` in a larger batch).

    With ``exit`` (the rule the accelerator was built with) the golden model runs with that
    rule: classes, counts and the steps each sample ran (``run.steps``) must equal it; each
    layer's tapped spikes must be the full run's in the steps it emitted before the exit was
    visible (at least the steps run, at most ``T``), none after; the result cycles and every
    counter, ``dropped`` included, must equal the exit cycle model's."""
    from spikefab.model import cycle_model, simulate

    rule = exit_rule(exit)
    golden = simulate(network, trains, exit=rule)
    model = cycle_model(network, golden, config)
    problems = []
    if run.error:
        problems.append("the accelerator raised its error flag")
    full = golden if rule is None else simulate(network, trains)
    if rule is not None:
        if run.steps is None or run.emitted is None:
            problems.append("the results carry no steps (an accelerator built without exit)")
        elif not np.array_equal(run.steps, golden.ran):
            bad = np.flatnonzero(run.steps != golden.ran)
            problems.append(f"steps run differ in samples {(bad + first).tolist()}: "
                            f"{run.steps[bad].tolist()}, golden {golden.ran[bad].tolist()}")
    for index, (got, want) in enumerate(zip(run.spikes, full.spikes)):
        if rule is not None and run.emitted is not None:
            emitted = run.emitted[index]
            short = np.flatnonzero((emitted < golden.ran) | (emitted > want.shape[1]))
            if len(short):
                problems.append(f"layer {index + 1} emitted {emitted[short].tolist()} steps "
                                f"of samples {(short + first).tolist()}, which ran "
                                f"{golden.ran[short].tolist()}")
            want = want & (np.arange(want.shape[1])[None, :] < emitted[:, None])[..., None]
        bad = np.flatnonzero((got != want).any(axis=(1, 2)))
        if len(bad):
            problems.append(f"layer {index + 1} spikes differ in samples {(bad + first).tolist()}")
    if not np.array_equal(run.counts, golden.counts):
        problems.append("output counts differ")
    if not np.array_equal(run.classes, golden.predicted):
        problems.append("classes differ")
    if run.finish.tolist() != model.finish.tolist():
        problems.append(f"result cycles {run.finish.tolist()} differ from the cycle model's "
                        f"{model.finish.tolist()}")
    for index, (got, want) in enumerate(zip(run.counters, model.layers)):
        expected = {"events": want.events, "words": want.words,
                    "synaptic_updates": want.synaptic_updates, "busy": want.busy,
                    "stall": want.stall, **({} if rule is None else {"dropped": want.dropped})}
        if got != expected:
            problems.append(f"layer {index + 1} counters {got} differ from the cycle model's "
                            f"{expected}")
    return problems, golden


@dataclass
class Cosimulation:
    """What :func:`cosimulate` found, chunk by chunk.

    Members
    -------
    classes, counts : int arrays ``[B]``, ``[B, N_L]``
        The hardware's answers for the samples run (all of them, unless it stopped at a
        mismatch).
    mismatches : list of str
        One line per chunk that differs from the golden or cycle model,
        ``"samples a..b: problem; problem"`` (:func:`mismatches`, samples numbered in the whole
        batch); empty when every chunk agrees.
    chunk_cycles, chunk_speeds : list
        Per chunk run, the cycle of its last result and its simulated cycles per second.
    sim_cycles, wall_seconds, build_seconds : int, float, float
        Summed over the runs: simulated cycles, the wall time of simulating them, and the
        elaboration and simulator build time.
    steps : int array ``[B]`` or None
        With early exit, the steps each sample ran (the hardware's ``steps``).
    """

    classes: np.ndarray
    counts: np.ndarray
    mismatches: list = field(default_factory=list)
    chunk_cycles: list = field(default_factory=list)
    chunk_speeds: list = field(default_factory=list)
    sim_cycles: int = 0
    wall_seconds: float = 0.0
    build_seconds: float = 0.0
    steps: np.ndarray = None

    @property
    def agree(self):
        """Every chunk run equals the golden and the cycle model."""
        return not self.mismatches

    @property
    def cycles_per_second(self):
        """Simulated cycles per second over all runs (``None`` without simulated time)."""
        return self.sim_cycles / self.wall_seconds if self.wall_seconds else None


def cosimulate(network, config, trains, *, build_dir=None, chunk=20, backend="verilator",
               golden=None, stop=False, progress=True, unit="batch", run=None, exit=None):
    """Run ``trains`` ``[B, T, N0]`` through the accelerator ``chunk`` samples back to back at
    a time (a progress bar over the samples, updated per chunk, on standard error;
    ``progress=False`` hides it) and check every run
    against the golden and the cycle model with :func:`mismatches`: every spike of every
    layer, count, class, result cycle and performance counter. Returns a
    :class:`Cosimulation`.

    ``golden`` (a :class:`~spikefab.model.SimResult` of all of ``trains``, optional) is also
    compared with the golden model recomputed for each chunk; ``stop=True`` ends at the first
    chunk that differs. ``run`` replaces :func:`run_accelerator` (tests). ``unit`` is
    ignored (the bar counts samples); it is kept for existing callers.

    ``exit`` (``None``, ``"exact"`` or ``("margin", m)``): the accelerator is built with that
    early-exit rule and compared with the golden model run with it (classes, counts, steps
    run) and the exit cycle model (result cycles, every counter including ``dropped``);
    ``golden`` is then a run with the same rule. :attr:`Cosimulation.steps` holds the steps
    each sample ran.
    """
    if run is None:
        run = run_accelerator
    rule = exit_rule(exit)
    trains = np.asarray(trains)
    found = Cosimulation(classes=np.zeros(0, np.int64),
                         counts=np.zeros((0, network.n_outputs), np.int64))
    classes, counts, steps = [], [], []
    label = f"co-simulation ({_BACKEND_NAMES.get(backend, backend)})"
    folder = contextlib.nullcontext(build_dir) if build_dir is None or backend == "amaranth" \
        else verilator_build_dir(build_dir)      # one build for every chunk
    with folder as build_dir, \
            stage(label, total=len(trains), unit="sample", show=progress) as bar:
        for start in range(0, len(trains), chunk):
            part = trains[start:start + chunk]
            hardware = run(network, config, part, backend=backend, build_dir=build_dir,
                           **({} if rule is None else {"exit": rule}))
            problems, expected = mismatches(network, config, part, hardware, first=start,
                                            exit=rule)
            if golden is not None and not np.array_equal(
                    expected.predicted, np.asarray(golden.predicted)[start:start + len(part)]):
                problems.append("the golden model is not deterministic")
            if problems:
                found.mismatches.append(f"samples {start}..{start + len(part) - 1}: "
                                        + "; ".join(problems))
                bar.fail()
                if stop:
                    break
            classes += hardware.classes.tolist()
            counts += hardware.counts.tolist()
            if hardware.steps is not None:
                steps += hardware.steps.tolist()
            found.chunk_cycles.append(hardware.total)
            found.chunk_speeds.append(hardware.cycles_per_second)
            found.sim_cycles += hardware.sim_cycles
            found.wall_seconds += hardware.wall_seconds
            found.build_seconds += hardware.extra.get("build_seconds", 0.0)
            bar.update(len(part))
    if classes:
        found.classes = np.array(classes, dtype=np.int64)
        found.counts = np.array(counts, dtype=np.int64)
    if steps:
        found.steps = np.array(steps, dtype=np.int64)
    return found
