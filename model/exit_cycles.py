"""The cycle model of an accelerator built with early exit (docs/design.md §4, *Early exit*).

:func:`spikefab.model.cycle_model` hands a result simulated with an ``exit`` rule to
:func:`exit_cycle_model`: the same processes as without exit (queues, cores, sweeps, the
emitter), with every event tagged by its sample and step, so a core can discard the events of
a sample whose exit the readout has made visible (one cycle each; ``SAMPLE`` is always
processed) and the readout's exit cycle is known.
"""

import numpy as np

from .cycles import (CycleReport, LayerCycles, _bounds, _check_schedule, _column_words, _Emitter,
                     _offers, _Queue, _ReadoutQueue, _run, _sweep, layer_drain, neuron_rank,
                     sweep_chunks)
from .events import SAMPLE, SPIKE, STEP, sample_starts
from .kernel_image import KERNEL_FORMAT
from .simulate import simulate

__all__ = ["check_exit_config", "exit_cycle_model"]


def check_exit_config(config):
    """Early exit runs on the event-driven layer cores: ``sparse`` mode, no convolution core.
    Raises ``ValueError`` naming what is not allowed."""
    if config.mode != "sparse":
        raise ValueError(f"early exit needs mode 'sparse', not {config.mode!r} (the dense "
                         f"baseline has no early exit)")
    if any(c.format == KERNEL_FORMAT for c in config.layers):
        raise ValueError(f"early exit runs on the fully connected layer cores; format "
                         f"{KERNEL_FORMAT!r} (the convolution core) is not allowed with it: "
                         f"use dense, csc or bitmap (conv='unrolled')")


def exit_cycle_model(network, result, config, frames, interval):
    """:func:`cycle_model` of an accelerator built with early exit, for ``result`` =
    ``simulate(network, inputs, exit=rule)``. The cores compute every step they take before
    the exit is visible (the full run's spikes), then discard their exited sample's events."""
    check_exit_config(config)
    timing = config.timing
    images = _column_words(network, config)
    values = np.asarray(result.inputs)               # a direct layer's values, or spikes
    values = values[None] if values.ndim == 2 else values
    inputs = result.layer_events(0)
    inputs = inputs[None] if inputs.ndim == 2 else inputs
    ran = np.atleast_1d(np.asarray(result.ran))
    samples, steps = inputs.shape[0], inputs.shape[1]
    full = simulate(network, values)                 # what a core computes before the exit
    events = []
    for b, sample in enumerate(inputs):
        for t, step in enumerate(sample):
            events += [(SPIKE, int(a), b, t) for a in np.flatnonzero(step)]
            events.append((STEP, 0, b, t))
        events.append((SAMPLE, 0, b, steps))
    schedule = _check_schedule(frames, interval, len(events))
    queues = [_Queue(c.queue_depth, timing.queue_latency) for c in config.layers]
    stats = [LayerCycles() for _ in network]
    exits = {}
    readout = _ReadoutQueue()
    processes = [_tagged_source(queues[0], schedule, interval, events)]
    for index, c in enumerate(config.layers):
        last = index + 1 == len(network)
        out = [[np.flatnonzero(step) for step in sample] for sample in full.spikes[index]]
        processes.append(_exit_core(queues[index], readout if last else queues[index + 1],
                                    images[index], c, out, timing, stats[index], ran, steps,
                                    samples, exits if last else None,
                                    layer_drain(network[index], timing)))
    _run(processes, queues + [readout], timing, exits)
    finish = np.array([exits[b] if b in exits else
                       next(t for (kind, _, s, _), t in zip(readout.events, readout.push)
                            if kind == SAMPLE and s == b) + timing.readout_latency
                       for b in range(samples)], dtype=np.int64)
    starts = sample_starts(inputs)
    first_push = np.array([queues[0].push[i] for i in starts], dtype=np.int64)
    bounds = _bounds(network, result, config, images, [None] * len(network))
    for s, b in zip(stats, bounds):
        s.lower_bound = int(b.sum())
    return CycleReport(total=int(finish.max()), latency=finish - first_push, finish=finish,
                       layers=stats, lower_bound=int(sum(b.sum() for b in bounds)),
                       pipeline_bound=int(max(b.sum() for b in bounds)),
                       input_push=np.array(queues[0].push, dtype=np.int64))


def _tagged_source(queue, frames, interval, events):
    """:func:`_source` with every push carrying its event ``(kind, addr, sample, step)``."""
    t = 0
    for (start, delay, after), event in zip(_offers(frames, interval), events):
        t = max(t, start) + delay
        t = yield ("push", queue, t, event)
        t += after


def _exit_core(queue_in, queue_out, image, config, spikes_out, timing, stats, ran, steps,
               samples, exits, drain):
    """A layer core with early exit: pops tagged events; an event of sample ``b`` at a step
    ``>= ran[b]`` (after the exit step), popped in a cycle in which the readout's exit of
    ``b`` is visible, is discarded in one cycle (``SAMPLE`` is always processed: its sweep
    clears the sample's state). The last core (``exits`` given) records when each exit
    becomes visible: the cycle after its exit step's ``STEP`` marker reaches the readout."""
    words, nnz = image.column_words, image.column_nnz
    rank = neuron_rank(image)
    chunks = sweep_chunks(image, config)
    silent = np.zeros(chunks, dtype=np.int64)
    emitter = _Emitter()
    free = 0
    while True:
        start = yield ("pop", queue_in, free)
        kind, addr, b, t = queue_in.events[len(queue_in.pop) - 1]
        if kind != SAMPLE and t >= ran[b]:
            visible = yield ("exit", b, start)
            if start >= visible:
                stats.dropped += 1
                stats.busy += 1
                free = start + 1
                continue
        if kind == SPIKE:
            stats.events += 1
            stats.synaptic_updates += int(nnz[addr])
            stats.words += int(words[addr])
            free = start + max(1, int(words[addr]))
            stats.busy += free - start
            continue
        if kind == SAMPLE:
            counts, pushes = silent, [(SAMPLE, 0, b, t)]
        else:
            addresses = spikes_out[b][t]
            if rank is None:                  # the emitter's order: hardware positions
                positions = addresses
            else:
                positions = np.asarray(rank)[addresses]
                addresses = addresses[np.argsort(positions, kind="stable")]
            counts = np.bincount(positions // config.sweep_lanes, minlength=chunks)
            pushes = [(SPIKE, int(a), b, t) for a in addresses] + [(STEP, 0, b, t)]
        marker = yield from _sweep(counts, start + drain, timing, queue_out, stats,
                                   emitter, pushes)
        if exits is not None and kind == STEP and t + 1 == ran[b] < steps:
            exits[b] = emitter.last_push + timing.readout_latency
        free = marker + 1
        stats.busy += free - start
        if kind == SAMPLE and b == samples - 1:
            return
