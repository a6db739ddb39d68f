"""Cycle model of the reference micro-architecture (docs/design.md §3, §4).

Predicts, from the golden model's spike trains and the weight-memory layout, how many clock
cycles the generated accelerator takes — so design-space exploration needs no RTL run. The
RTL must match it exactly for one layer and within 2% for a pipeline of layers.

The timing contract
-------------------
Events are ``SPIKE(addr)``, ``STEP`` (end of timestep) and ``SAMPLE`` (end of sample). A
sample of ``T`` steps enters as, for each step, the input spikes in ascending address
order followed by ``STEP``; after the last step's ``STEP`` comes ``SAMPLE``.

* **Source.** Pushes the input events into queue 1, one per cycle from cycle 0, whenever
  the queue has room.
* **Queue** ``l`` (depth ``Q_l``): an event pushed in cycle ``c`` can be popped from cycle
  ``c + queue_latency`` on. A push needs a free entry, counted at the start of the cycle: the
  push of the ``e``-th event happens no earlier than one cycle after the pop of event
  ``e - Q_l``.
* **Layer core** ``l`` (``P`` lanes, ``rows = ceil(N/P)``, ``S`` sweep lanes) pops one event at a time, when it
  is free, and is busy for:

  - ``SPIKE(j)``: ``max(1, L_j)`` cycles, where ``L_j`` is the number of words of column
    ``j`` in its weight memory (``rows`` for ``dense``, ``max_p nnz_p(j)`` for ``csc`` and
    ``bitmap``). Pointer fetch is prefetched, so back-to-back columns stream one word per
    cycle and an empty column costs one cycle.
  - ``STEP``: ``drain`` cycles for the last words to reach the current accumulators, then a
    *sweep* of the layer's ``C = ceil(N / S)`` chunks of ``S = sweep_lanes`` neurons
    (chunk ``k`` is neurons ``kS .. kS+S-1``), then the ``STEP`` marker as one more item:

    - *Issue.* Chunk 0 may issue in cycle ``start + drain``; each later item no earlier than
      the cycle after its predecessor, and only while fewer than ``emit_depth`` items are
      *held*. A chunk with ``k > 0`` spiking neurons, and the marker, become an *entry*,
      held from the cycle after its issue until its last push. A silent chunk issued in
      ``c`` is held only while its silence is not yet known, cycles ``c + 1 .. c +
      sweep_latency - 2`` (none with ``sweep_latency = 2``).
    - *Emit.* The spike emitter pushes one event per cycle, entries in order, each
      entry's neurons in ascending address order (with a neuron placement, chunk ``k`` is
      hardware positions ``kS .. kS+S-1`` and the spikes leave in ascending position, each
      with its user address: :func:`emitted_stream`): an entry issued in cycle ``c`` pushes
      its first event no earlier than ``c + sweep_latency`` and than the cycle after the
      previous entry's last push; every push waits for a free entry of the next queue.

    The core is free the cycle after the marker *issues*: the emitter keeps pushing the
    held entries while the core takes the next events (their entries queue up behind), so
    sweeping, emitting and the next step's accumulation overlap. Without back-pressure a
    ``STEP`` keeps the core busy ``drain + C + 1`` cycles whatever its spikes, unless the
    emitter falls ``emit_depth`` entries behind.
  - ``SAMPLE``: like ``STEP``, but the sweep clears the membranes, refractory bits and
    accumulators (no chunk spikes), then the ``SAMPLE`` marker: free at
    ``start + drain + C + 1``.
  - *Dense baseline* (``mode="dense"``): ``SPIKE`` costs 1 cycle (the address is latched
    into an input spike vector) and ``STEP`` first streams every column of the layer,
    ``fan_in * rows`` cycles, before the drain and the sweep.
* **Readout.** Takes the last core's events as they come (never blocks) and makes the
  result valid ``readout_latency`` cycles after it receives ``SAMPLE``.
* **Early exit** (a ``result`` of ``simulate(..., exit=rule)``, the accelerator built with
  ``exit=rule``): the result is valid ``readout_latency`` cycles after the exit step's
  ``STEP`` marker reaches the readout, and from that cycle on every core discards, in one
  cycle each, the ``SPIKE`` and ``STEP`` events of that sample it pops (``SAMPLE`` is
  processed as always); until then a core computes the later steps as without exit.

The *cycles* of a sample are counted from cycle 0, when the source pushes the sample's first
event, to the cycle the result is valid. With the back-to-back samples of a batch, a
sample's *latency* counts from its first event's push and *total* is the cycle of the last
result.

For one layer nothing ever blocks (the readout never back-pressures and a queue of depth
``>= queue_latency + 1`` never runs dry): :func:`single_layer_cycles` steps that case cycle
by cycle, a second route to the same count.

Lower bound (docs/design.md §4): per layer and step, ``ceil(synapses reached / P) + C``, where
*synapses reached* are the non-zero weights in the columns of that step's input spikes and
``C = ceil(N / S)`` the sweep's chunks (``rows`` when ``S = P``).
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from spikefab.toolchain.progress import track

from .checks import check_instance, per_layer
from .checks import check_int as _check_int
from .events import SAMPLE, SPIKE, event_stream, sample_starts
from .conv import ConvLayer
from .kernel_image import KERNEL_FORMAT, KernelImage, compile_kernel
from .memory import FORMATS, WeightImage, compile_weights
from .network import Layer, Network
from .placement import PLACEMENTS, check_placement
from .simulate import SimResult, simulate

__all__ = ["CycleReport", "GoldenRuns", "HardwareConfig", "LayerConfig", "LayerCycles",
           "Timing", "cycle_figures", "cycle_model", "lower_bound", "single_latencies",
           "single_layer_cycles", "sweep_cycles", "MODES"]

MODES = ("sparse", "dense")
QUEUE_DEPTH_RANGE = (2, 1 << 16)


@dataclass(frozen=True)
class Timing:
    """Fixed latencies of the reference micro-architecture, in cycles (see module doc)."""

    queue_latency: int = 1
    drain: int = 2
    sweep_latency: int = 3
    readout_latency: int = 1
    emit_depth: int = 4

    def __post_init__(self):
        for name in ("queue_latency", "drain", "sweep_latency", "readout_latency",
                     "emit_depth"):
            _check_int(f"timing.{name}", getattr(self, name), 0, 64)
        for name in ("queue_latency", "sweep_latency", "emit_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"timing.{name} = {getattr(self, name)} is out of range; "
                                 f"allowed range is [1, 64]")


@dataclass(frozen=True)
class LayerConfig:
    """Hardware parameters of one layer core: ``lanes`` (PEs, the accumulate lanes of a
    weight word), weight ``format``, the depth of the event queue in front of it, and
    ``sweep_lanes`` (``S``), the neurons the LIF sweep updates per cycle.

    ``sweep_lanes`` defaults to ``lanes`` and must divide it: accumulating is one adder per
    lane and runs for every input event, while the sweep's leak / saturate / threshold /
    reset / compaction logic runs once per step, so a wide PE array can share a narrow
    sweep (``ceil(N / S)`` sweep cycles per step).

    ``placement`` puts the layer's neurons on the lanes (:mod:`spikefab.model.placement`,
    docs/design.md §3): ``"identity"`` (default: neuron ``i`` in lane ``i % P``),
    ``"balanced"`` (chosen by the compiler from the weights to balance each column's
    non-zeros over the lanes) or an explicit permutation of ``range(N)`` (kept as a tuple).
    Fully connected layers only: the convolution core (format ``kernel``) refuses it.
    """

    lanes: int = 1
    format: str = "csc"
    queue_depth: int = 16
    sweep_lanes: int = None
    placement: object = "identity"

    def __post_init__(self):
        _check_int("lanes", self.lanes, 1, 1 << 16)
        if self.format not in FORMATS + (KERNEL_FORMAT,):
            raise ValueError(f"format = {self.format!r} is not allowed; "
                             f"choose one of {', '.join(FORMATS + (KERNEL_FORMAT,))} "
                             f"({KERNEL_FORMAT!r}: the convolution core, conv layers only)")
        _check_int("queue_depth", self.queue_depth, *QUEUE_DEPTH_RANGE)
        if self.sweep_lanes is None:
            object.__setattr__(self, "sweep_lanes", self.lanes)
        _check_int("sweep_lanes", self.sweep_lanes, 1, self.lanes)
        if self.lanes % self.sweep_lanes:
            raise ValueError(f"sweep_lanes = {self.sweep_lanes} must divide lanes = "
                             f"{self.lanes} (allowed: "
                             f"{', '.join(str(d) for d in _divisors(self.lanes))})")
        if self.placement is None:
            object.__setattr__(self, "placement", "identity")
        if isinstance(self.placement, str):
            if self.placement not in PLACEMENTS:
                raise ValueError(f"placement = {self.placement!r} is not allowed; choose one "
                                 f"of {', '.join(PLACEMENTS)} or a permutation of range(N)")
        else:
            object.__setattr__(self, "placement", check_placement(self.placement))
        if self.format == KERNEL_FORMAT and self.placement != "identity":
            raise ValueError(f"placement = {_placement_name(self.placement)!r} is not allowed "
                             f"with format {KERNEL_FORMAT!r} (the convolution core keeps its "
                             f"own neuron order); placement applies to fully connected layers "
                             f"only: use placement='identity'")

    @property
    def placed(self):
        """Whether the placement may differ from the identity."""
        return self.placement != "identity"

    def chunks(self, neurons):
        """Sweep cycles per step for a layer of ``neurons``: ``ceil(neurons / sweep_lanes)``."""
        return -(-neurons // self.sweep_lanes)


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _placement_name(placement):
    return placement if isinstance(placement, str) else "explicit"


@dataclass(frozen=True)
class HardwareConfig:
    """Hardware parameters of a whole accelerator.

    Parameters
    ----------
    layers : sequence of LayerConfig
        One per network layer.
    mode : {"sparse", "dense"}
        ``sparse`` is the event-driven accelerator; ``dense`` the sparsity-oblivious baseline
        (every input processed every step; every layer must use the ``dense`` format).
    timing : Timing
    """

    layers: tuple
    mode: str = "sparse"
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self):
        layers = tuple(self.layers) if isinstance(self.layers, (list, tuple)) else ()
        if not layers or not all(isinstance(c, LayerConfig) for c in layers):
            raise TypeError(f"layers must be a non-empty sequence of LayerConfig, one per layer, "
                            f"not {self.layers!r}")
        object.__setattr__(self, "layers", layers)
        if self.mode not in MODES:
            raise ValueError(f"mode = {self.mode!r} is not allowed; choose one of {', '.join(MODES)}")
        if self.mode == "dense" and any(c.format not in ("dense", KERNEL_FORMAT) for c in layers):
            raise ValueError("mode 'dense' (the baseline) needs format 'dense' in every layer "
                             f"(or {KERNEL_FORMAT!r}: the convolution core's dense baseline)")

    @classmethod
    def uniform(cls, network, *, lanes=1, format="csc", queue_depth=16, mode="sparse",
                timing=None, sweep_lanes=None, conv="kernel", placement="identity"):
        """The same ``lanes`` (capped at each layer's size), format, depth and sweep lanes
        everywhere. Each may also be a list, one per layer. ``sweep_lanes`` (default: the
        layer's lanes) is capped at the layer's lanes; given as one number that does not
        divide a layer's lanes, that layer uses the largest divisor below it.

        ``conv``: ``"kernel"`` (default) puts every convolutional layer on the convolution
        core (format ``kernel``, lanes across output channels, capped at ``C_out``);
        ``"unrolled"`` runs it like a fully connected layer in ``format`` (the unrolled
        baseline). In the ``dense`` mode a conv layer on the core is the convolution core's
        dense baseline (every input walked every step, a full sweep).

        ``placement``: ``"identity"`` or ``"balanced"`` for every fully connected layer (a
        layer on the convolution core keeps its own order), or a list with one entry per
        layer (``"identity"``, ``"balanced"`` or a permutation of ``range(N)``)."""
        if not isinstance(network, Network):
            raise TypeError(f"network must be a spikefab.model.Network, not "
                            f"{type(network).__name__}")
        count = len(network)
        if conv not in ("kernel", "unrolled"):
            raise ValueError(f"conv = {conv!r} is not allowed; choose 'kernel' (the "
                             f"convolution core) or 'unrolled'")
        on_core = [conv == "kernel" and isinstance(layer, ConvLayer) for layer in network]
        lanes_ = per_layer("lanes", lanes, count)
        if not isinstance(lanes, (list, tuple)):
            _check_int("lanes", lanes, 1, 1 << 16)
            lanes_ = [min(p, layer.geometry.out_channels if core else layer.neurons)
                      for p, layer, core in zip(lanes_, network, on_core)]
        if mode == "dense":
            format = "dense"
        sweep_ = per_layer("sweep_lanes", sweep_lanes, count) if sweep_lanes is not None \
            else [None] * count
        if sweep_lanes is not None and not isinstance(sweep_lanes, (list, tuple)):
            _check_int("sweep_lanes", sweep_lanes, 1, 1 << 16)
            sweep_ = [max(d for d in _divisors(p) if d <= s) for p, s in zip(lanes_, sweep_)]
        formats = [KERNEL_FORMAT if core else fmt
                   for fmt, core in zip(per_layer("format", format, count), on_core)]
        if isinstance(placement, (list, tuple)):
            placements = per_layer("placement", placement, count)
        else:
            placements = ["identity" if fmt == KERNEL_FORMAT else placement for fmt in formats]
        configs = [LayerConfig(p, fmt, q, s, pl) for p, fmt, q, s, pl in
                   zip(lanes_, formats, per_layer("queue_depth", queue_depth, count), sweep_,
                       placements)]
        return cls(tuple(configs), mode=mode, timing=timing or Timing())

    def describe(self):
        """One line: ``"P = 128, S = 8; then P = S = 10; dense, queue 16"``."""
        parts = [f"P = {c.lanes}, S = {c.sweep_lanes}" if c.sweep_lanes != c.lanes
                 else f"P = S = {c.lanes}" for c in self.layers]
        if any(c.format == KERNEL_FORMAT for c in self.layers):
            parts = [f"{part} (convolution core)" if c.format == KERNEL_FORMAT else part
                     for part, c in zip(parts, self.layers)]
        first = next((c for c in self.layers if c.format != KERNEL_FORMAT), self.layers[0])
        placed = [_placement_name(c.placement) for c in self.layers if c.placed]
        where = f", {placed[0]} placement" if placed else ""
        return (f"{'; then '.join(parts)}; {first.format}, queue {first.queue_depth}"
                f"{where}")

    def to_json(self):
        """The exact configuration, JSON-ready (per layer lanes, sweep lanes, format, queue
        depth; the mode and the timing)."""
        layers = [{"lanes": c.lanes, "sweep_lanes": c.sweep_lanes, "format": c.format,
                   "queue_depth": c.queue_depth} for c in self.layers]
        for entry, c in zip(layers, self.layers):     # the identity adds no key
            if c.placed:
                entry["placement"] = (c.placement if isinstance(c.placement, str)
                                      else list(c.placement))
        return {"layers": layers, "mode": self.mode, "timing": asdict(self.timing)}

    def check(self, network):
        """Raise ValueError if this configuration cannot serve ``network``."""
        if len(self.layers) != len(network):
            raise ValueError(f"the hardware configuration has {len(self.layers)} layers, "
                             f"the network {len(network)}")
        for index, (config, layer) in enumerate(zip(self.layers, network)):
            if config.format == KERNEL_FORMAT:
                if not isinstance(layer, ConvLayer):
                    raise ValueError(f"layers[{index}].format = {KERNEL_FORMAT!r} (the "
                                     f"convolution core) needs a convolutional layer; layer "
                                     f"{index} is fully connected: use dense, csc or bitmap")
                channels = layer.geometry.out_channels
                if config.lanes > channels:
                    raise ValueError(f"layers[{index}].lanes = {config.lanes} is out of range "
                                     f"for the convolution core; allowed range is [1, "
                                     f"{channels}] (its output channels)")
                continue
            if config.lanes > layer.neurons:
                raise ValueError(f"layers[{index}].lanes = {config.lanes} is out of range; "
                                 f"allowed range is [1, {layer.neurons}] (its neuron count)")
            if not isinstance(config.placement, str):
                check_placement(config.placement, layer.neurons,
                                name=f"layers[{index}].placement")


@dataclass
class LayerCycles:
    """Per-layer activity predicted by the cycle model, summed over the batch.

    ``events``: SPIKE events consumed; ``words``: weight words read from memory (not the
    placeholder of an empty column; the dense baseline streams every column every step);
    ``synaptic_updates``: non-zero synapses applied (lanes with a valid non-zero weight); ``busy``: cycles the core worked (popped events to free);
    ``stall``: cycles the core waited for room in its output queue; ``lower_bound``: the
    docs/design.md §4 bound for this layer; ``dropped``: with early exit, the ``SPIKE`` and
    ``STEP`` events of exited samples the core discarded (one cycle each, not in ``events``).
    """

    events: int = 0
    words: int = 0
    synaptic_updates: int = 0
    busy: int = 0
    stall: int = 0
    lower_bound: int = 0
    dropped: int = 0


@dataclass
class CycleReport:
    """What :func:`cycle_model` returns.

    ``total``: cycle in which the last sample's result is valid; ``latency``: per-sample
    cycles from its first input push to its result; ``finish``: per-sample result cycle;
    ``layers``: list of :class:`LayerCycles`; ``lower_bound``: sum over layers and steps of
    the per-layer bound (a sequential machine's bound), ``pipeline_bound``: the largest
    single layer's bound (what a perfect layer pipeline could reach); ``input_push``: the
    cycle in which each input event (in :func:`~spikefab.model.events.event_stream` order)
    entered the first queue.
    """

    total: int
    latency: np.ndarray
    finish: np.ndarray
    layers: list
    lower_bound: int
    pipeline_bound: int
    input_push: np.ndarray = None


def _check_arguments(network, result, config):
    """The checks :func:`cycle_model` and :func:`lower_bound` share: the types, a result
    computed by this network (its layer widths), and a configuration that serves it."""
    check_instance("network", network, Network)
    if not isinstance(result, SimResult):
        raise TypeError(f"result must be the SimResult of simulate(network, ...), not "
                        f"{type(result).__name__}")
    check_instance("config", config, HardwareConfig)
    widths = [np.shape(result.inputs)[-1]] + [np.shape(s)[-1] for s in result.spikes]
    if widths != list(network.shape):
        raise ValueError(f"result has layer widths {tuple(widths)}, but the network's shape is "
                         f"{tuple(network.shape)}: pass the SimResult of simulate(network, ...)")
    config.check(network)


def compile_layer(layer, config):
    """The memory image of ``layer`` on a core configured by ``config`` (a
    :class:`LayerConfig`): a :class:`~spikefab.model.kernel_image.KernelImage` for the
    convolution core (format ``kernel``), else a :class:`~spikefab.model.memory.WeightImage`."""
    if config.format == KERNEL_FORMAT:
        return compile_kernel(layer, config.lanes)
    return compile_weights(layer, config.lanes, config.format, placement=config.placement)


def sweep_chunks(image, config):
    """Chunks of one sweep: ``ceil(N / S)``, or ``rows · P / S`` on the convolution core
    (whose padding channels are swept too)."""
    if isinstance(image, KernelImage):
        return image.rows * image.lanes // config.sweep_lanes
    return config.chunks(image.neurons)


def neuron_rank(image):
    """The hardware position of each user neuron of a core with ``image``: the convolution
    core's ``rank``, a fully connected image's ``placement``, or ``None`` (the identity)."""
    if isinstance(image, KernelImage):
        return image.rank
    return getattr(image, "placement", None)


def emitted_stream(trains, image=None):
    """The events a core with ``image`` emits for its output ``trains`` ``[B, T, N]``:
    :func:`~spikefab.model.events.event_stream`, with each step's spikes in the order of the
    core's hardware positions (the convolution core's neurons for a :class:`KernelImage`,
    the placement of a :class:`WeightImage`; ascending address with the identity)."""
    events = event_stream(trains)
    rank = neuron_rank(image)
    if rank is None:
        return events
    out, run = [], []
    for event in events:
        if event[0] == SPIKE:
            run.append(event)
            continue
        run.sort(key=lambda e: int(rank[e[1]]))
        out += run + [event]
        run = []
    return out


def _column_words(network, config):
    return [compile_layer(layer, c) for layer, c in zip(network, config.layers)]


def lower_bound(network, result, config):
    """Per-layer, per-sample, per-step lower bound ``[B, T]`` arrays (docs/design.md §4)."""
    _check_arguments(network, result, config)
    images = [compile_kernel(layer, c.lanes) if c.format == KERNEL_FORMAT else None
              for layer, c in zip(network, config.layers)]
    return _bounds(network, result, config, images, _held_rows(network, result, config, images))


def _bounds(network, result, config, images, held):
    """:func:`lower_bound` with the convolution cores' ``images`` (``KernelImage`` entries;
    others are not read) and their :func:`_held_rows` already computed."""
    bounds = []
    for index, (layer, c, image) in enumerate(zip(network, config.layers, images)):
        trains = result.layer_events(index)                # a direct layer's values: events
        if trains.ndim == 2:
            trains = trains[None]
        nnz = (layer.column_nonzeros() if isinstance(layer, ConvLayer)
               else (layer.weights != 0).sum(axis=0))
        reached = trains.astype(np.int64) @ nnz                    # [B, T]
        if isinstance(image, KernelImage):
            chunks = image.rows * image.lanes // c.sweep_lanes
            if held[index] is not None:                 # skipping: the active rows' chunks
                touched = image.touched(trains)                             # [B, T, HW]
                before = np.zeros_like(held[index])
                before[:, 1:] = held[index][:, :-1]
                active = before | touched[:, :, None, :]
                chunks = active.sum(axis=(2, 3)) * (c.lanes // c.sweep_lanes)
        else:
            chunks = c.chunks(layer.neurons)
        bounds.append(-(-reached // c.lanes) + chunks)
    return bounds


def _held_rows(network, result, config, images):
    """Per layer, the rows ``[B, T, G, HW]`` holding state after each step
    (:meth:`KernelImage.held`) for a convolution core that skips (in ``images``), else
    ``None``; the golden model runs again only when ``result`` has no membrane traces."""
    skipping = [config.mode != "dense" and isinstance(image, KernelImage) and image.skips
                for image in images]
    if not any(skipping):
        return [None] * len(network)
    traces = result.traces
    if traces is None:                                # the skipping sweep needs the state
        traces = simulate(network, result.inputs, record_membranes=True).traces
    held = []
    for index, (image, skips) in enumerate(zip(images, skipping)):
        if skips:
            spikes = np.asarray(result.spikes[index])
            trace = np.asarray(traces[index]).reshape(spikes.shape)
            state = image.held(trace, spikes)
            held.append(state if state.ndim == 4 else state[None])
        else:
            held.append(None)
    return held


class _Queue:
    __slots__ = ("depth", "push", "pop", "latency", "events")

    def __init__(self, depth, latency):
        self.depth = depth
        self.push = []
        self.pop = []
        self.latency = latency
        self.events = []          # the pushed events, when the pushes carry them (early exit)


def _offers(frames, interval):
    """The input events' offers, in order, for a process to send: per event ``(start, delay,
    after)`` — not before cycle ``start``, ``delay`` cycles after the previous transfer (or
    the start), and ``after`` cycles added after its transfer. A frame ``(start, count)``
    offers its first event in cycle ``start`` (or when the previous frame's last one went in,
    if later) and each next one ``interval`` cycles after the previous transfer; a frame
    ``(start, count, delays)`` (a host link's ``SPIKES`` frame) offers event ``i`` ``delays[i]``
    cycles after the previous transfer (the first: after the start)."""
    for frame in frames:
        if len(frame) == 2:
            start, count = frame
            yield from ((start, 0, interval) for _ in range(count))
        else:
            start, _, delays = frame
            yield from ((start, delay, 0) for delay in delays)


def _source(queue, frames, interval):
    """Push the input events in order, offered as :func:`_offers` says."""
    t = 0
    for start, delay, after in _offers(frames, interval):
        t = max(t, start) + delay
        t = yield ("push", queue, t)
        t += after


def _check_schedule(frames, interval, events):
    """The input schedule of :func:`cycle_model`: ``[(start, count), ...]`` or
    ``(start, count, delays)`` entries (default: one frame of every event from cycle 0) and an
    ``interval`` of at least 1."""
    _check_int("interval", interval, 1, 1 << 20)
    if frames is None:
        return [(0, events)]
    try:
        if any(len(f) not in (2, 3) for f in frames):
            raise TypeError
        frames = [(int(f[0]), int(f[1])) if len(f) == 2 else
                  (int(f[0]), int(f[1]), [int(d) for d in f[2]]) for f in frames]
    except (TypeError, ValueError):
        raise TypeError("frames must be a list of (start cycle, event count) or (start cycle, "
                        f"event count, delays) entries, not {frames!r}") from None
    if any(f[0] < 0 or f[1] < 0 for f in frames):
        raise ValueError("frames must have start cycles and event counts >= 0")
    for f in frames:
        if len(f) == 3 and (len(f[2]) != f[1] or any(d < 0 for d in f[2])):
            raise ValueError(f"a frame of {f[1]} events needs {f[1]} delays >= 0, not {f[2]}")
    if sum(f[1] for f in frames) != events:
        raise ValueError(f"the frames carry {sum(f[1] for f in frames)} events; the "
                         f"input spike trains have {events}")
    return frames


class _Emitter:
    """The spike emitter of one core, across sweeps: the last-push cycle of the latest
    entries (ascending), the previous push, and when silent items were issued."""

    __slots__ = ("held", "last_push", "silent")

    def __init__(self):
        self.held = []
        self.last_push = -1
        self.silent = []          # issue cycles of recent silent items (sweep_latency > 2)


def _sweep(counts, first, timing, queue_out, stats, emitter, events=None):
    """Generator of one sweep's pushes (module doc, *sweep*): chunk ``k`` holds
    ``counts[k]`` spiking neurons (``None``: a skipped block of the convolution core, one
    cycle with nothing issued); the marker follows the last chunk. Chunks issue one per
    cycle from cycle ``first`` while fewer than ``emit_depth`` entries are held (issued with
    spikes and not yet fully pushed, this sweep's or an earlier one's). Returns the cycle
    the marker issues. ``events``: the pushed events in order (the spikes, then the
    marker), carried with the pushes (early exit)."""
    sl, depth = timing.sweep_latency, timing.emit_depth
    held = emitter.held
    pushes = iter(events) if events is not None else None
    t = first
    for k in range(len(counts) + 1):
        marker = k == len(counts)
        if not marker and counts[k] is None:      # a skipped block: one cycle, no item
            t += 1
            continue
        spikes = 1 if marker else int(counts[k])
        while True:                               # wait until fewer than depth are held
            silent = [c for c in emitter.silent if c >= t - sl + 2]
            spiky = [p for p in held[-depth:] if p >= t]
            if len(spiky) + len(silent) < depth:
                break
            t = min([c + sl - 1 for c in silent] + [p + 1 for p in spiky])
        if spikes:
            at = max(t + sl, emitter.last_push + 1)
            for _ in range(spikes):
                pushed = yield (("push", queue_out, at) if pushes is None else
                                ("push", queue_out, at, next(pushes)))
                stats.stall += pushed - at
                at = pushed + 1
            emitter.last_push = at - 1
            held.append(emitter.last_push)
            del held[:-depth]
        elif sl > 2:
            emitter.silent = [c for c in emitter.silent if c >= t - sl + 2] + [t]
        if marker:
            return t
        t += 1


def layer_drain(layer, timing):
    """The cycles from a layer core's command to its first sweep item: ``timing.drain``, one
    more on a direct layer (docs/design.md §13: its PE lanes register the weight and value,
    then the product, before they add)."""
    return timing.drain + (1 if getattr(layer, "direct", False) else 0)


def _core(stream, queue_in, queue_out, image, config, fan_in, spikes_out,
          timing, dense, stats, held=None, drain=None):
    """Sequential process of layer core ``index``; ``spikes_out`` yields, per step of the
    batch, the output addresses. On the convolution core (a :class:`KernelImage`) an event
    costs ``max(1, R·G)`` cycles, the next pop comes at least two cycles after the previous
    one (the decode table is read in the cycle after the head arrives, see
    :class:`~spikefab.hw.conv_core.ConvCore`) and the sweep starts one cycle later; without a
    bias it skips the rows that received nothing and hold nothing (``held``: per step of the
    batch, the rows ``[G, HW]`` holding state after it, :meth:`KernelImage.held`)."""
    kernel = isinstance(image, KernelImage)
    skips = kernel and image.skips and not dense
    decoding = kernel and not dense               # events wait for the decode table
    if kernel:
        words, nnz = image.event_words, image.event_updates
    else:
        words, nnz = image.column_words, image.column_nnz
    rank = neuron_rank(image)
    chunks = sweep_chunks(image, config)
    free = 0
    last_pop = -2
    out_steps = iter(spikes_out)
    held_steps = iter(held) if skips else None
    silent = np.zeros(chunks, dtype=np.int64)
    emitter = _Emitter()
    if skips:
        nothing = np.zeros((image.groups, image.positions), dtype=bool)
        state = nothing                               # rows holding state, this sample
        touched = np.zeros(image.positions, dtype=bool)
    for kind, addr in stream:
        start = yield ("pop", queue_in, max(free, last_pop + 2) if decoding else free)
        last_pop = start
        if kind == SPIKE:
            stats.events += 1
            stats.synaptic_updates += int(nnz[addr])     # the baseline gates the same ones
            if skips:
                touched |= image.reach[addr]
            if dense:
                free = start + 1
            else:
                stats.words += int(words[addr])
                free = start + max(1, int(words[addr]))
            stats.busy += max(free, start + 2 if decoding else free) - start
            continue
        first = start + (timing.drain if drain is None else drain) + (1 if kernel else 0)
        if kind == SAMPLE:                            # a clearing sweep, no spikes
            counts = silent
            if skips:
                counts = image.sweep_items(config.sweep_lanes, state, silent)
                state = nothing
        else:                                         # STEP: (dense: every column) + sweep
            if dense and kernel:                      # every input walked, two cycles apart
                first += 2 + int(np.maximum(words, 2).sum())
                stats.words += int(words.sum())
            elif dense:
                first += fan_in * image.rows
                stats.words += fan_in * image.rows
            addresses = next(out_steps)
            neurons = addresses if rank is None else np.asarray(rank)[addresses]
            counts = np.bincount(neurons // config.sweep_lanes, minlength=chunks)
            if skips:
                counts = image.sweep_items(config.sweep_lanes, state | touched[None], counts)
                state = next(held_steps)
                touched = np.zeros(image.positions, dtype=bool)
        marker = yield from _sweep(counts, first, timing, queue_out, stats, emitter)
        free = marker + 1
        stats.busy += free - start


def _run(processes, queues, timing, exits=None):
    """Resolve every process's pops and pushes in time order of dependencies (and, with
    early exit, ``("exit", sample, at)``: the cycle from which the readout's exit of
    ``sample`` is visible, once ``exits`` holds it)."""
    pending = {}
    for proc in processes:
        pending[proc] = next(proc, None)
    active = [p for p in processes if pending[p] is not None]
    while active:
        progressed = False
        for proc in list(active):
            request = pending[proc]
            while request is not None:
                op, queue, at = request[:3]
                if op == "exit":
                    if queue not in exits:
                        break
                    t = exits[queue]
                elif op == "pop":
                    e = len(queue.pop)
                    if e >= len(queue.push):
                        break
                    t = max(at, queue.push[e] + queue.latency)
                    queue.pop.append(t)
                else:
                    if queue is None:
                        t = at
                    else:
                        e = len(queue.push)
                        if e >= queue.depth:
                            if e - queue.depth >= len(queue.pop):
                                break
                            t = max(at, queue.pop[e - queue.depth] + 1)
                        else:
                            t = at
                        queue.push.append(t)
                        if len(request) == 4:
                            queue.events.append(request[3])
                progressed = True
                try:
                    request = proc.send(t)
                except StopIteration:
                    request = None
            pending[proc] = request
            if request is None:
                active.remove(proc)
        if not progressed:
            raise RuntimeError("cycle model deadlock (an internal error): "
                               "no process can advance")


def cycle_model(network, result, config, *, frames=None, interval=1):
    """Predict the cycles of running ``result``'s inputs through ``config``'s accelerator.

    Returns a :class:`CycleReport`.

    Parameters
    ----------
    network : Network
    result : SimResult
        The golden model's run (its spike trains decide which events flow).
    config : HardwareConfig
    frames : list of ``(start, count)`` or ``(start, count, delays)``, optional
        How the input events arrive (a host link's ``EVENTS`` or ``SPIKES`` frames): each
        frame offers its ``count`` events from cycle ``start`` on, ``interval`` cycles apart
        or ``delays[i]`` cycles after the previous transfer (see :func:`_offers`). Default:
        every event offered from cycle 0, back to back (what the co-simulation harness does).
    interval : int
        Cycles from one input transfer to the next offer within a frame (1: one per cycle;
        the host link's push takes 4).

    When ``result`` was simulated with an early ``exit``, the accelerator is the one built
    with that rule (sparse mode, no convolution core; ``ValueError`` otherwise).
    """
    _check_arguments(network, result, config)
    if result.exit is not None:
        from .exit_cycles import exit_cycle_model
        return exit_cycle_model(network, result, config, frames, interval)
    timing = config.timing
    dense = config.mode == "dense"
    images = _column_words(network, config)

    trains = [result.layer_events(i) for i in range(len(network) + 1)]
    trains = [t[None] if t.ndim == 2 else t for t in trains]
    held_rows = _held_rows(network, result, config, images)
    held = [None if state is None else [step for sample in state for step in sample]
            for state in held_rows]

    schedule = _check_schedule(frames, interval, len(event_stream(trains[0])))
    queues = [_Queue(c.queue_depth, timing.queue_latency
                     + (c.format == KERNEL_FORMAT and not dense)) for c in config.layers]
    stats = [LayerCycles() for _ in network]
    processes = [_source(queues[0], schedule, interval)]
    # The last core pushes into the readout (no queue, never blocks): record its pushes.
    readout = _ReadoutQueue()
    for index, (layer, c) in enumerate(zip(network, config.layers)):
        queue_out = queues[index + 1] if index + 1 < len(network) else readout
        out_addresses = [np.flatnonzero(step) for sample in trains[index + 1] for step in sample]
        stream = emitted_stream(trains[index], images[index - 1] if index else None)
        processes.append(_core(stream, queues[index], queue_out,
                               images[index], c, layer.fan_in, out_addresses, timing,
                               dense, stats[index], held[index], layer_drain(layer, timing)))
    _run(processes, queues + [readout], timing)

    # Readout: the last core's pushes in order; SAMPLE markers end each sample.
    last_stream = event_stream(trains[-1])
    finish = np.array([t + timing.readout_latency
                       for (kind, _), t in zip(last_stream, readout.push) if kind == SAMPLE],
                      dtype=np.int64)
    first_push = np.array([queues[0].push[i] for i in sample_starts(trains[0])], dtype=np.int64)
    bounds = _bounds(network, result, config, images, held_rows)
    for s, b in zip(stats, bounds):
        s.lower_bound = int(b.sum())
    return CycleReport(total=int(finish[-1]), latency=finish - first_push, finish=finish,
                       layers=stats, lower_bound=int(sum(b.sum() for b in bounds)),
                       pipeline_bound=int(max(b.sum() for b in bounds)),
                       input_push=np.array(queues[0].push, dtype=np.int64))


class _ReadoutQueue:
    """A sink that accepts every push at once (the readout never back-pressures)."""

    depth = math.inf

    def __init__(self):
        self.push = []
        self.pop = []
        self.events = []


def single_layer_cycles(layer, image, input_trains, output_trains, timing=Timing(),
                        dense=False, sweep_lanes=None):
    """Cycle count of a one-layer accelerator, stepped cycle by cycle.

    ``input_trains`` ``[T, fan_in]`` and ``output_trains`` ``[T, N]`` are a sample's input
    and output spikes (or ``[B, T, ...]`` for a batch run back to back: the count is then
    the cycle of the last result); ``sweep_lanes`` defaults to the image's lanes. Nothing blocks
    in a one-layer accelerator (the queue in front never runs dry, the readout takes every
    event), so one loop over cycles holds the whole machine: the core popping events and
    issuing sweep items, and the emitter pushing one event per cycle, as the module doc
    states them. Equals :func:`cycle_model` for a one-layer network (a test checks it) by a
    separate route.
    """
    check_instance("layer", layer, Layer)
    check_instance("image", image, WeightImage)
    check_instance("timing", timing, Timing)
    sweep_lanes = sweep_lanes or image.lanes
    chunks = -(-layer.neurons // sweep_lanes)
    sl, depth = timing.sweep_latency, timing.emit_depth
    inputs, outputs = np.asarray(input_trains), np.asarray(output_trains)
    if inputs.ndim == 2:
        inputs, outputs = inputs[None], outputs[None]
    events = []
    rank = np.arange(layer.neurons) if image.placement is None else np.asarray(image.placement)
    for sample_in, sample_out in zip(inputs, outputs):
        for spikes_in, spikes_out in zip(sample_in, sample_out):
            events += [("spike", int(j)) for j in np.flatnonzero(spikes_in)]
            events.append(("step", np.bincount(rank[np.flatnonzero(spikes_out)] // sweep_lanes,
                                               minlength=chunks)))
        events.append(("sample", np.zeros(chunks, dtype=np.int64)))
    samples = len(inputs)

    entries = []              # [visible from, pushes left, ends the sample]
    unknown = []              # silent items still in flight: held until this cycle
    next_pop = timing.queue_latency
    sweep = None              # [items left, earliest issue]
    cycle = 0
    while True:
        unknown = [end for end in unknown if end > cycle]
        if sweep is None and events and cycle >= next_pop:          # the core pops
            kind, what = events.pop(0)
            if kind == "spike":
                next_pop = cycle + (1 if dense else max(1, int(image.column_words[what])))
            else:
                first = cycle + layer_drain(layer, timing)
                if dense and kind == "step":
                    first += layer.fan_in * image.rows
                sweep = [[int(c) for c in what] + [kind], first]
        if (sweep is not None and cycle >= sweep[1]
                and len(entries) + len(unknown) < depth):                  # issue
            item = sweep[0].pop(0)
            if isinstance(item, str):                              # the marker
                entries.append([cycle + sl, 1, item == "sample"])
                sweep, next_pop = None, cycle + 1
            elif item:
                entries.append([cycle + sl, item, False])
            else:                          # its silence is known sl - 1 cycles after issue
                unknown.append(cycle + sl - 1)
        if entries and entries[0][0] <= cycle:                       # the emitter pushes
            entries[0][1] -= 1
            if entries[0][1] == 0 and entries.pop(0)[2]:
                samples -= 1
                if samples == 0:
                    return cycle + timing.readout_latency
        cycle += 1


def sweep_cycles(counts, timing=Timing()):
    """Cycles from a sweep's first issue opportunity (``drain`` after the command) to its
    marker's push, for a sweep that starts with an empty emitter and meets no
    back-pressure, simulated cycle by cycle; ``counts[k]`` is the number of spiking neurons
    in chunk ``k``."""
    sl, depth = timing.sweep_latency, timing.emit_depth
    items = [int(c) for c in counts] + [1]     # the marker is an entry of one push
    entries = []                               # [visible from, pushes left]
    unknown = []                               # silent items in flight, held until
    k = 0
    cycle = 0
    while True:
        unknown = [end for end in unknown if end > cycle]
        # Issue: while fewer than ``depth`` items are held (entries, and items whose
        # silence is not known yet).
        if k < len(items) and len(entries) + len(unknown) < depth:
            if items[k]:
                entries.append([cycle + sl, items[k]])
            else:
                unknown.append(cycle + sl - 1)
            k += 1
        # Emit: the head entry, once visible, pushes one event this cycle.
        if entries and entries[0][0] <= cycle:
            entries[0][1] -= 1
            if entries[0][1] == 0:
                entries.pop(0)
                if k == len(items) and not entries:
                    return cycle               # the marker's push
        cycle += 1


# --- figures over many images -------------------------------------------------------------------

class GoldenRuns:
    """The golden model of 8-bit intensity ``images`` rate-coded at ``steps``
    (``encode("rate", images, steps)``; ``encoder="latency"``: latency-coded), with the
    early-exit rule ``exit`` (``None``: none; :func:`~spikefab.model.simulate`), back to back
    (``batch``) and each image alone
    (``single``), computed once and shared by every configuration's cycle model
    (:func:`single_latencies`, :func:`cycle_figures`). ``trains`` holds the spike trains (a
    direct code's values, ``encoder="direct"``);
    ``progress`` shows a bar over the single runs (:mod:`spikefab.toolchain.progress`)."""

    def __init__(self, network, images, steps, *, progress=False, encoder="rate", exit=None):
        from .encoders import encode
        from .simulate import simulate
        self.steps = steps
        self.trains = encode(encoder, np.asarray(images, dtype=np.int64), steps)
        self.batch = simulate(network, self.trains, exit=exit)
        self.single = [simulate(network, train, exit=exit) for train in
                       track(self.trains, f"golden model, each image alone, T = {steps}",
                             unit="image", show=progress)]


def single_latencies(network, config, golden, *, progress=False):
    """Cycle-model cycles of each image of ``golden`` (:class:`GoldenRuns`) run alone, from
    its first input event to its result."""
    return [int(cycle_model(network, result, config).latency[0]) for result in
            track(golden.single, f"cycle model, each image alone, T = {golden.steps}",
                  unit="image", show=progress)]


def cycle_figures(network, config, golden, *, progress=False, single=None):
    """Cycle-model figures of ``config`` on the images of ``golden`` (:class:`GoldenRuns`):
    ``latency`` = mean cycles of an image run alone (first input event to result), its min
    and max, and ``throughput`` = cycles per image back to back (the batch's total / count)
    with the back-to-back mean ``latency_back_to_back``. ``single``: the
    :func:`single_latencies` of the same configuration, when already computed."""
    if single is None:
        single = single_latencies(network, config, golden, progress=progress)
    batch = cycle_model(network, golden.batch, config)
    count = len(single)
    return {"steps": golden.steps, "images": count, "latency": float(np.mean(single)),
            "latency_min": int(min(single)), "latency_max": int(max(single)),
            "throughput": batch.total / count,
            "latency_back_to_back": float(np.mean(batch.latency)),
            "lower_bound_per_image": batch.lower_bound / count}
