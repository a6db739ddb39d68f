"""The accelerator: a pipeline of event queues and layer cores generated from a network."""

from amaranth import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from spikefab.model import HardwareConfig, Network, Timing, compile_weights
from spikefab.model.exit_cycles import check_exit_config
from spikefab.model.early_exit import exit_rule
from spikefab.model.kernel_image import KERNEL_FORMAT, compile_kernel

from .conv_core import ConvCore
from .event_queue import EventQueue
from .events import EventKind, EventLayout, addr_bits_for
from .layer_core import LayerCore, LayerCounters
from .layouts import NamedArrayLayout
from .weight_memory import LoadTarget
from .params import check_instance, check_int, validating
from .readout import CYCLE_BITS, Readout

__all__ = ["Accelerator", "HARDWARE_TIMING", "TapLayout", "hardware_config"]

#: The fixed latencies this RTL implements; the cycle model must use exactly these.
HARDWARE_TIMING = Timing(queue_latency=1, drain=2, sweep_latency=3, readout_latency=1,
                         emit_depth=4)


def hardware_config(network, lanes, sweep_lanes, fmt="dense", queue_depth=16):
    """The configuration of the Spiker+ comparison (and of the MNIST demo and the co-design
    study): the first (hidden) layer with ``lanes`` P (capped at its size) and ``sweep_lanes``
    S (must divide P), every later layer fully parallel (P = S = its size), with
    :data:`HARDWARE_TIMING`. Raises ``ValueError`` naming the parameter."""
    first = min(lanes, network[0].neurons)
    rest = [layer.neurons for layer in list(network)[1:]]
    config = HardwareConfig.uniform(network, lanes=[first, *rest],
                                    sweep_lanes=[sweep_lanes, *rest], format=fmt,
                                    queue_depth=queue_depth, timing=HARDWARE_TIMING)
    config.check(network)
    return config


class TapLayout(data.StructLayout):
    """A monitor of one inter-layer stream: ``transfer`` is high in the cycle an event moves."""

    def __init__(self, addr_bits):
        super().__init__({"transfer": 1, "kind": EventKind, "addr": addr_bits})


class Accelerator(wiring.Component):
    """A multi-layer event-driven SNN accelerator (docs/design.md §3) for ``network``.

    ``input events → [queue 1] → [layer core 1] → [queue 2] → [layer core 2] → … → [readout]``

    Layers run concurrently: layer ``l`` may work on step ``t`` while layer ``l-1`` works on
    step ``t+1``; ``SAMPLE`` markers separate back-to-back samples and clear all state. The
    timing is the contract of :mod:`spikefab.model.cycles` with :data:`HARDWARE_TIMING`: the
    cycle model predicts the cycles exactly for one layer.

    Parameters
    ----------
    network : Network
    config : HardwareConfig
        ``lanes``, ``sweep_lanes``, ``format`` and ``queue_depth`` per layer, and the mode (``dense`` builds the
        sparsity-oblivious baseline). Its ``timing`` must be :data:`HARDWARE_TIMING`. A
        convolutional layer with format ``kernel`` runs on a
        :class:`~spikefab.hw.conv_core.ConvCore` (each kernel stored once); any other
        layer on a :class:`~spikefab.hw.layer_core.LayerCore`.
    max_steps : int
        Longest sample in steps, ``[1, 2**24]``; sizes the output counters.
    taps : bool
        Add ``taps`` outputs that show every inter-layer event (for co-simulation).
    result_counters : bool
        Snapshot the counters into every result (a board that reads ``counters`` directly
        saves the registers by turning it off).
    capacity : list of int or None, optional
        Weight-memory depth per layer for run-time loading (the pointer fields are then
        compiled wide enough for any image of that many words).
    runtime_weights : list of bool, optional
        Per layer, build the weight store as a run-time loaded single-port memory (no
        initial contents; SPRAM on the iCE40 UP5K, see :class:`WeightMemory`): its weights
        must be loaded through ``load`` before the first sample.
    exit : None, ``"exact"`` or ``("margin", m)``
        Early exit (docs/design.md §2 and §4, *Early exit*; off by default, and then the hardware
        is exactly the one without it): the readout evaluates the rule at every ``STEP``
        marker of the last layer, emits the result (with ``steps``, the steps the sample
        ran) when it holds, and every layer core discards the exited sample's remaining
        ``SPIKE`` and ``STEP`` events, one cycle each, counted in its ``dropped`` counter
        (layer 1's are the discarded input events). Sparse mode, fully connected layer
        cores only.
    steps : int
        With ``exit``: ``T``, the steps of every sample, ``[1, max_steps]``.

    Members
    -------
    events : ``In(stream.Signature(EventLayout(addr_bits(N0)[, x_bits])))``
        A sample is, per step, its input spikes (any order) and ``STEP``; then ``SAMPLE``.
        A direct network's events carry the input's ``value`` (docs/design.md §13): its
        non-zero values as ``SPIKE(j, value)`` (step 0 for ``encode_direct``), the ``T``
        ``STEP`` markers, ``SAMPLE``.
    results : ``Out(stream.Signature(ResultLayout(N_L, bits(max_steps), counters)))``
        One per sample: class, counts, the cycle of the result and a snapshot of the
        performance counters in that cycle (cumulative since reset: the difference between
        consecutive results is a sample's share, exact for the whole batch).
    counters : ``Out(ArrayLayout(LayerCounters, L))``
        Per layer, cumulative since reset, live.
    high_water : ``Out(ArrayLayout(16, L))``
        Per layer, the largest fill of its input queue.
    load : ``In(stream.Signature({layer, target, addr, data}, always_ready=True))``
        Run-time write of one weight-memory word of one layer (use while ``idle``).
    idle : ``Out(1)``
        Nothing in flight: every queue empty, every layer core idle, no result waiting.
    error : ``Out(1)``
        Sticky: a block reported an impossible condition or an output count saturated.
    taps : ``Out(...)``, with ``taps=True``
        ``taps[l]``: the events leaving layer ``l`` (``TapLayout``).
    """

    def __init__(self, network, config, *, max_steps=255, taps=False, capacity=None,
                 result_counters=True, runtime_weights=None, exit=None, steps=None):
        with validating(self):
            check_instance("network", network, Network)
            check_instance("config", config, HardwareConfig)
            config.check(network)
            if config.timing != HARDWARE_TIMING:
                raise ValueError(f"config.timing = {config.timing} differs from the timing "
                                 f"this hardware implements, {HARDWARE_TIMING}")
            self.max_steps = check_int("max_steps", max_steps, 1, 1 << 24)
            self.network, self.config = network, config
            capacity = list(capacity) if capacity is not None else [None] * len(network)
            if len(capacity) != len(network):
                raise ValueError(f"capacity has {len(capacity)} entries for "
                                 f"{len(network)} layers")
            runtime = (list(runtime_weights) if runtime_weights is not None
                       else [False] * len(network))
            if len(runtime) != len(network):
                raise ValueError(f"runtime_weights has {len(runtime)} entries for "
                                 f"{len(network)} layers")
            self.runtime_weights = [bool(r) for r in runtime]
            dense = config.mode == "dense"
            self.exit_rule = exit_rule(exit)
            tag_bits = None
            if self.exit_rule is not None:
                check_exit_config(config)
                self.steps = check_int("steps", steps, 1, self.max_steps)
                # A core can be at most this many samples ahead of the readout: every
                # SAMPLE marker between them holds a queue entry, an emitter entry or a core.
                ahead = sum(c.queue_depth for c in config.layers) + \
                    len(network) * (HARDWARE_TIMING.emit_depth + 2)
                tag_bits = (ahead + 1).bit_length()
            self.images = []
            for index, (layer, c, cap) in enumerate(zip(network, config.layers, capacity)):
                if c.format == KERNEL_FORMAT:
                    if cap is not None or self.runtime_weights[index]:
                        raise ValueError(f"layer {index} runs on the convolution core, whose "
                                         f"kernel memory is built with its contents: no "
                                         f"capacity or run-time weights for it")
                    self.images.append(compile_kernel(layer, c.lanes))
                    continue
                fields = {}
                if cap is not None and c.format != "dense":
                    # Pointer fields wide enough for any image that fits ``cap`` words.
                    rows = -(-layer.neurons // c.lanes)
                    fields = dict(start_bits=max(1, (cap - 1).bit_length()),
                                  length_bits=max(1, rows.bit_length()))
                self.images.append(compile_weights(layer, c.lanes, c.format,
                                                   placement=c.placement, **fields))
            fan_ins = [layer.fan_in for layer in network]
            # Queue 1 of a direct network carries the input values (docs/design.md §13).
            self.value_bits = network[0].x_bits if network[0].direct else 0
            if self.value_bits and dense:
                raise ValueError("a direct network (first layer with x_bits) needs the sparse "
                                 "mode; the dense baseline takes spikes only")
            self.queues = [EventQueue(addr_bits_for(n), c.queue_depth,
                                      self.value_bits if index == 0 else 0)
                           for index, (n, c) in enumerate(zip(fan_ins, config.layers))]
            self.cores = [
                ConvCore(layer, image, drain=HARDWARE_TIMING.drain, sweep_lanes=c.sweep_lanes,
                         emit_depth=HARDWARE_TIMING.emit_depth, dense=dense)
                if c.format == KERNEL_FORMAT else
                LayerCore(layer, image, dense=dense, capacity=cap, drain=HARDWARE_TIMING.drain,
                          sweep_lanes=c.sweep_lanes, emit_depth=HARDWARE_TIMING.emit_depth,
                          runtime_weights=rt, exit_tag_bits=tag_bits)
                for layer, image, cap, c, rt in zip(network, self.images, capacity,
                                                    config.layers, self.runtime_weights)]
            self.counters_layout = NamedArrayLayout(
                LayerCounters(dropped=self.exit_rule is not None), len(network), prefix="layer")
            self.readout = Readout(network.n_outputs, max(1, max_steps.bit_length()),
                                   self.counters_layout if result_counters else None,
                                   **({} if self.exit_rule is None else
                                      dict(exit=self.exit_rule, steps=self.steps,
                                           tag_bits=tag_bits)))
        ports = {
            "events": In(stream.Signature(EventLayout(addr_bits_for(network.n_inputs),
                                                      self.value_bits))),
            "results": Out(stream.Signature(self.readout.result.payload.shape())),
            "counters": Out(self.counters_layout),
            "high_water": Out(NamedArrayLayout(16, len(network), prefix="layer")),
            "load": In(stream.Signature(data.StructLayout({
                "layer": range(len(network)),
                "target": LoadTarget,
                "addr": max(len(core.load.payload.addr) for core in self.cores),
                "data": max(len(core.load.payload.data) for core in self.cores),
            }), always_ready=True)),
            "idle": Out(1),
            "error": Out(1),
        }
        self.has_taps = taps
        if taps:
            width = max(addr_bits_for(layer.neurons) for layer in network)
            ports["taps"] = Out(NamedArrayLayout(TapLayout(width), len(network),
                                                 prefix="layer"))
        super().__init__(ports)

    @property
    def result_layout(self):
        return self.readout.result.payload.shape()

    def elaborate(self, platform):
        m = Module()
        layers = len(self.network)
        for index, (queue, core) in enumerate(zip(self.queues, self.cores)):
            m.submodules[f"queue{index + 1}"] = queue
            m.submodules[f"layer{index + 1}"] = core
            wiring.connect(m, queue.o, core.i)
            m.d.comb += [self.counters[index].eq(core.counters),
                         self.high_water[index].eq(queue.high_water)]
        m.submodules.readout = readout = self.readout
        wiring.connect(m, wiring.flipped(self.events), self.queues[0].i)
        for index in range(layers - 1):
            wiring.connect(m, self.cores[index].o, self.queues[index + 1].i)
        wiring.connect(m, self.cores[-1].o, readout.i)
        wiring.connect(m, readout.result, wiring.flipped(self.results))

        for index, core in enumerate(self.cores):
            m.d.comb += [core.load.valid.eq(self.load.valid & (self.load.payload.layer == index)),
                         core.load.payload.target.eq(self.load.payload.target),
                         core.load.payload.addr.eq(self.load.payload.addr),
                         core.load.payload.data.eq(self.load.payload.data)]
        m.d.comb += self.idle.eq(
            (sum((queue.level != 0) | ~core.idle for queue, core in zip(self.queues, self.cores))
             == 0) & ~readout.result.valid)

        if self.exit_rule is not None:
            for core in self.cores:
                m.d.comb += core.exit.eq(readout.exit)

        errors = [core.error for core in self.cores] + [readout.error]
        m.d.comb += self.error.eq(sum(errors) != 0)

        # Cycle count: 0 in the cycle of the first input event, then +1 every cycle.
        elapsed = Signal(CYCLE_BITS)
        started = Signal()
        first = self.events.valid & self.events.ready
        with m.If(started | first):
            m.d.sync += [elapsed.eq(elapsed + 1), started.eq(1)]
        m.d.comb += readout.now.eq(elapsed)
        if readout.has_counters:
            m.d.comb += readout.counters.eq(self.counters)

        if self.has_taps:
            for index, core in enumerate(self.cores):
                tap = self.taps[index]
                m.d.comb += [tap.transfer.eq(core.o.valid & core.o.ready),
                             tap.kind.eq(core.o.payload.kind),
                             tap.addr.eq(core.o.payload.addr)]
        return m
