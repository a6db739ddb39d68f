"""``make bench``: benchmark figures, printed as Markdown tables (not a timed test).

Golden model
    Throughput of :func:`spikefab.model.simulate` in synaptic events per second on a
    784-256-10 network at 10% input activity, on one core (BLAS threads pinned to 1).
    A *synaptic event* is one (input spike, outgoing synapse) pair: each spike arriving at a
    layer of ``N`` neurons counts ``N`` events, whatever the weight — the usual SynOps count.
Sparsity gain
    On the reference networks (64-128-10 and 784-256-10, realistic ~10% activity in every
    layer) at 50%, 20% and 10% weight density: cycles per inference of the event-driven
    accelerator per weight format against the dense baseline, from the cycle model (which
    the RTL matches exactly — the co-simulation section re-checks it), the theoretical gain
    and the fraction of it achieved, throughput against the docs/design.md §4 lower bound, PE
    utilization and memory bits per format; with lane-balanced pruning, global pruning, and
    global pruning with the balanced neuron placement (:mod:`spikefab.model.placement`).
Co-simulation
    The accelerator in the Amaranth simulator and under cocotb + Verilator: cycles per second,
    and a check that the hardware's cycles equal the model's.

``spikefab bench --help`` lists the options; the golden-model figure is per core, so
``spikefab bench`` pins the BLAS threads to one before NumPy loads
(:func:`spikefab.toolchain.pin_blas_threads`).
"""

import time

import numpy as np

from spikefab.model import (FORMATS, HardwareConfig, compile_weights, cycle_model,
                            reference_network, simulate)

__all__ = ["synapses_per_input", "synaptic_events", "bench_golden", "bench_sparsity",
           "placement_words",
           "bench_conv_sparsity", "bench_cosim", "conv_network", "position_bank_estimate",
           "run"]


def synapses_per_input(layer):
    """How many synapses each input of ``layer`` reaches: every neuron of a fully connected
    layer; for a convolutional layer (:class:`~spikefab.model.conv.ConvLayer`) the output
    positions its kernel reaches from that input (through the layer's sum pool) times the
    output channels, whatever the weights."""
    if getattr(layer, "kernel", None) is None:
        return np.full(layer.fan_in, layer.neurons, dtype=np.int64)
    conv, pool = layer.geometry, layer.pool
    reached = np.zeros((conv.height, conv.width), dtype=np.int64)
    for y in range(conv.height):
        for x in range(conv.width):
            oy_lo, oy_hi, ox_lo, ox_hi = conv.reached_range(y, x)
            reached[y, x] = max(0, oy_hi - oy_lo + 1) * max(0, ox_hi - ox_lo + 1)
    if pool is not None:          # each input reaches what its pooled position reaches
        before = np.zeros((pool.height, pool.width), dtype=np.int64)
        for y in range(pool.height):
            for x in range(pool.width):
                for oy, ox, _, _ in pool.reached(y, x):
                    before[y, x] += reached[oy, ox]
        reached = before
    return np.tile(reached.ravel() * conv.out_channels, layer.in_map[0])


def synaptic_events(network, result):
    """SynOps: every spike arriving at a layer times the synapses it reaches there (for a
    fully connected layer, its neuron count)."""
    total = 0
    for i, layer in enumerate(network):
        arriving = result.layer_events(i).reshape(-1, layer.fan_in).sum(axis=0, dtype=np.int64)
        total += int(arriving @ synapses_per_input(layer))
    return total


def bench_golden(network, *, batch, steps, activity, repeats, seed=2):
    rng = np.random.default_rng(seed)
    spikes = rng.random((batch, steps, network.n_inputs)) < activity
    simulate(network, spikes[:2])                     # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = simulate(network, spikes)
        best = min(best, time.perf_counter() - start)
    events = synaptic_events(network, result)
    return result, events, best


def conv_network(seed=3):
    """The convolutional network of the golden-model figure (docs/design.md §12): MNIST-sized
    input 1 × 28 × 28 → 8 channels 3 × 3 padding 1 → sum pool 2 → 16 channels 3 × 3 padding 1
    → 10 outputs, 4-bit weights, random kernels."""
    from spikefab.model import Layer, Network
    from spikefab.model.conv import Conv2dGeometry, ConvLayer, sum_pool_geometry
    rng = np.random.default_rng(seed)
    neuron = dict(w_bits=4, v_bits=12, leak="shift", k=3)
    return Network([
        ConvLayer(kernel=rng.integers(-7, 8, (8, 1, 3, 3)), theta=20,
                  geometry=Conv2dGeometry(1, 28, 28, 8, 3, padding=1), **neuron),
        ConvLayer(kernel=rng.integers(-7, 8, (16, 8, 3, 3)), theta=30,
                  geometry=Conv2dGeometry(8, 14, 14, 16, 3, padding=1),
                  pool=sum_pool_geometry(8, 28, 28, 2), **neuron),
        Layer(rng.integers(-7, 8, (10, 16 * 14 * 14)), theta=20, **neuron)])


def _golden_table(network, *, batch, steps, activity, repeats):
    """Print :func:`bench_golden`'s table and the layers' activity; return ``(events,
    seconds)``."""
    result, events, seconds = bench_golden(network, batch=batch, steps=steps,
                                           activity=activity, repeats=repeats)
    print("| samples | synaptic events | best time | events/s | samples/s |")
    print("|---|---|---|---|---|")
    print(f"| {batch} | {events:,} | {seconds * 1e3:.1f} ms | {events / seconds:,.0f} "
          f"| {batch / seconds:,.0f} |")
    print("Layer spike activity per step: "
          + ", ".join(f"layer {i + 1} {s.mean():.1%}" for i, s in enumerate(result.spikes)))
    return events, seconds


def _bounds(network, result, config):
    """(dense work bound, sparse lower bound) per batch: the baseline must stream every
    synapse slot and sweep every row each step; the sparse design the reached ones."""
    steps, batch = result.steps, result.inputs.shape[0] if result.inputs.ndim == 3 else 1
    dense = sum((layer.fan_in + 1) * -(-layer.neurons // c.lanes)
                for layer, c in zip(network, config.layers)) * steps * batch
    return dense


def bench_sparsity(network, trains, lanes, label, *, placement="identity", formats=FORMATS):
    """Print the sparsity-gain table rows for one network (its fully connected layers'
    neurons placed by ``placement``, :mod:`spikefab.model.placement`) in each of
    ``formats``; return the rows as dicts."""
    result = simulate(network, trains)
    batch = trains.shape[0]
    baseline = HardwareConfig.uniform(network, lanes=lanes, mode="dense")
    dense_report = cycle_model(network, result, baseline)
    dense_bound = _bounds(network, result, baseline)
    rows = []
    for fmt in formats:
        config = HardwareConfig.uniform(network, lanes=lanes, format=fmt, placement=placement)
        report = cycle_model(network, result, config)
        bits = sum(compile_weights(layer, c.lanes, fmt, placement=c.placement).size_bits
                   for layer, c in zip(network, config.layers))
        theoretical = dense_bound / report.lower_bound
        achieved = dense_report.total / report.total
        utilization = [s.synaptic_updates / (c.lanes * s.busy) if s.busy else 0.0
                       for s, c in zip(report.layers, config.layers)]
        row = {"network": label, "format": fmt, "bits": bits,
               "cycles": report.total / batch, "baseline": dense_report.total / batch,
               "achieved": achieved, "theoretical": theoretical,
               "fraction": achieved / theoretical,
               "bound": report.pipeline_bound / report.total, "utilization": utilization}
        rows.append(row)
        print(f"| {label} | {fmt} | {bits:,} | {row['cycles']:,.0f} | {row['baseline']:,.0f} "
              f"| {achieved:.1f}x | {theoretical:.1f}x | {row['fraction']:.0%} "
              f"| {row['bound']:.0%} | {' / '.join(f'{u:.0%}' for u in utilization)} |")
    return rows


def placement_words(network, lanes):
    """Per fully connected layer of ``network`` with more than one row per lane on ``lanes``
    PEs: the weight words over all columns (``sum_j max_p nnz_p(j)``) with the identity and
    the balanced placement (:func:`spikefab.model.placement.balanced_placement`, and the
    seconds it took), and the floor no placement beats, ``sum_j ceil(nnz_j / P)``."""
    from spikefab.model.placement import balanced_placement, column_words
    rows = []
    for index, layer in enumerate(network):
        p = min(lanes, layer.neurons)
        if getattr(layer, "kernel", None) is not None or -(-layer.neurons // p) < 2:
            continue
        weights = layer.weights
        start = time.perf_counter()
        placement = balanced_placement(weights, p)
        seconds = time.perf_counter() - start
        identity = int(column_words(weights, p).sum())
        balanced = int(column_words(weights, p, placement).sum())
        floor = int((-(-(weights != 0).sum(axis=0) // p)).sum())
        rows.append({"layer": index, "identity": identity, "balanced": balanced,
                     "floor": floor, "seconds": seconds,
                     "removed": (identity - balanced) / (identity - floor)
                     if identity > floor else 1.0})
    return rows


def position_bank_estimate(network, trains, lanes=8):
    """What position banks (design §12, *Not built yet*) would save, per conv layer of
    ``network`` on ``trains`` ``[B, T, N0]``: ``{"layer", "spikes", "today", "banked",
    "banks"}`` per image, from the golden model's spikes. Each input spike costs
    ``max(2, R·G)`` cycles on the core today (``KernelImage.event_words``, the cycle model's
    rule) and would cost ``max(2, G)`` with ``P · Ry · Rx`` lanes (``Ry = ceil(kh / sy)``,
    ``Rx = ceil(kw / sx)``; 2 when it reaches nothing): an estimate of hardware not built."""
    from spikefab.model.conv import ConvLayer
    from spikefab.model.kernel_image import compile_kernel
    result = simulate(network, trains)
    batch = trains.shape[0]
    rows = []
    for index, layer in enumerate(network):
        if not isinstance(layer, ConvLayer):
            continue
        g = layer.geometry
        image = compile_kernel(layer, min(lanes, g.out_channels))
        spikes = np.asarray(result.layer_inputs(index)).astype(np.int64).sum(axis=(0, 1))
        banked = np.where(image.reaches, max(2, image.groups), 2)
        rows.append({"layer": index, "spikes": float(spikes.sum() / batch),
                     "today": float((spikes * np.maximum(2, image.event_words)).sum() / batch),
                     "banked": float((spikes * banked).sum() / batch),
                     "banks": -(-g.kernel[0] // g.stride[0]) * -(-g.kernel[1] // g.stride[1])})
    return rows


def bench_conv_sparsity(network, trains, lanes, label):
    """Print the convolution core's sparsity-gain rows for a conv ``network`` (conv layers on
    the core, the rest csc) against its dense baseline from the same generator, and return
    them: cycles per inference (cycle model = RTL), speed-up, the theoretical gain (the
    baseline's work — every input's ``R·G`` words and every chunk each step — of its busiest
    layer over the sparse design's pipeline bound, the busiest layer's §4 bound: the layers
    of a conv network carry comparable work and run concurrently), its fraction reached, and the weight bits of the core against the same
    layers unrolled (csc)."""
    from spikefab.model.kernel_image import compile_kernel
    result = simulate(network, trains)
    batch = trains.shape[0]
    sparse = HardwareConfig.uniform(network, lanes=lanes, format="csc")
    dense = HardwareConfig.uniform(network, lanes=lanes, mode="dense")
    sparse_report = cycle_model(network, result, sparse)
    dense_report = cycle_model(network, result, dense)
    work = []
    for layer, c in zip(network, dense.layers):
        if c.format == "kernel":
            image = compile_kernel(layer, c.lanes)
            per_step = int(image.event_words.sum()) + image.rows * image.lanes // c.sweep_lanes
        else:
            per_step = (layer.fan_in + 1) * -(-layer.neurons // c.lanes)
        work.append(per_step * result.steps * batch)
    core_bits = sum(compile_kernel(layer, c.lanes).size_bits if c.format == "kernel"
                    else compile_weights(layer, c.lanes, c.format).size_bits
                    for layer, c in zip(network, sparse.layers))
    unrolled_bits = sum(compile_weights(layer, c.lanes, "csc").size_bits
                        for layer, c in zip(network, HardwareConfig.uniform(
                            network, lanes=lanes, format="csc", conv="unrolled").layers))
    achieved = dense_report.total / sparse_report.total
    theoretical = max(work) / sparse_report.pipeline_bound
    row = {"network": label, "cycles": sparse_report.total / batch,
           "baseline": dense_report.total / batch, "achieved": achieved,
           "theoretical": theoretical, "fraction": achieved / theoretical,
           "core_bits": core_bits, "unrolled_bits": unrolled_bits}
    print(f"| {label} | {core_bits:,} | {unrolled_bits:,} | {row['cycles']:,.0f} "
          f"| {row['baseline']:,.0f} | {achieved:.1f}x | {theoretical:.1f}x "
          f"| {row['fraction']:.0%} |")
    return row


def bench_cosim(network, trains, lanes, backends):
    """Run the accelerator on ``backends``; print cycles/s and the model check."""
    from spikefab.sim.cosim import run_accelerator
    config = HardwareConfig.uniform(network, lanes=lanes, format="csc")
    report = cycle_model(network, simulate(network, trains), config)
    label = "-".join(map(str, network.shape))
    for backend in backends:
        run = run_accelerator(network, config, trains, backend=backend)
        exact = run.finish.tolist() == report.finish.tolist()
        build = run.extra.get("build_seconds", 0.0)
        print(f"| {label} | {backend} | {len(trains)} | {run.total:,} | "
              f"{'yes' if exact else 'NO'} | {run.cycles_per_second:,.0f} | {build:.1f} s |")


def run(*, batch=256, steps=25, activity=0.10, repeats=5, samples=16, lanes=8,
        densities=(0.5, 0.2, 0.1), cosim="all"):
    """Print the benchmark tables (the defaults are ``make bench``'s): the golden model on
    ``batch`` samples of ``steps`` steps at input ``activity`` (best of ``repeats`` runs), the
    sparsity gain of ``samples`` samples per reference network at every weight density of
    ``densities`` with ``lanes`` PEs per layer, and the co-simulation speed (``cosim``:
    ``"none"``, ``"small"``, the 64-128-10 network, or ``"all"``, also 784-256-10 under
    Verilator)."""
    network = reference_network(density=0.5)
    shape = "-".join(map(str, network.shape))
    print("# spikefab benchmark\n")
    print(f"## Golden model (simulate), one core — {shape}, T = {steps}, input activity "
          f"{activity:.0%}")
    events, seconds = _golden_table(network, batch=batch, steps=steps, activity=activity,
                                    repeats=repeats)
    target = 10e6
    print(f"Target >= {target:,.0f} events/s: "
          f"{'met' if events / seconds >= target else 'NOT met'} "
          f"({events / seconds / target:.0f}x)\n")

    conv = conv_network()
    conv_batch = max(1, batch // 4)
    print(f"## Golden model (simulate), one core — convolutional 1x28x28 - 8@3x3 - pool 2 - "
          f"16@3x3 - 10 ({'-'.join(map(str, conv.shape))} neurons), T = {steps}, input "
          f"activity {activity:.0%}")
    _golden_table(conv, batch=conv_batch, steps=steps, activity=activity, repeats=repeats)
    print("(a synaptic event of a conv layer: a spike times the outputs its kernel reaches "
          "times the output channels)\n")

    print(f"## Sparsity gain (cycle model = RTL), {samples} samples back to back, "
          f"P = {lanes} per layer, 4-bit weights")
    print("| network (density) | format | weight bits | cycles/inference | dense baseline "
          "| speed-up | theoretical | fraction of gain | vs lower bound | PE utilization |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(5)
    worst = {}
    for sizes, net_steps, net_activity in (((64, 128, 10), 16, 0.15),
                                           ((784, 256, 10), 25, 0.10)):
        trains = rng.random((samples, net_steps, sizes[0])) < net_activity
        for pruning, placement in (("balanced", "identity"), ("global", "identity"),
                                   ("global", "balanced")):
            for density in densities:
                net = reference_network(sizes, density=density, w_bits=4,
                                        lanes=lanes if pruning == "balanced" else None)
                setting = (f"{pruning} pruning" if placement == "identity"
                           else f"{pruning} pruning + {placement} placement")
                label = f"{'-'.join(map(str, sizes))} ({density:.0%}, {setting[:-8] if placement == 'identity' else setting.replace(' pruning', '')})"
                for row in bench_sparsity(net, trains, lanes, label, placement=placement):
                    if row["format"] != "dense":
                        key = (setting, sizes[0])
                        fraction, bound = worst.get(key, (1.0, 1.0))
                        worst[key] = (min(fraction, row["fraction"]), min(bound, row["bound"]))
    print("\nTargets (csc and bitmap): >= 80% of the theoretical gain and >= 80% of the lower "
          "bound's throughput. Worst case per pruning and network:")
    for (setting, inputs), (fraction, bound) in sorted(worst.items()):
        print(f"- {setting}, {inputs}-input network: {fraction:.0%} of the gain, "
              f"{bound:.0%} of the bound")
    print("(global + balanced placement: the same globally pruned networks with the neurons "
          "placed on the lanes by spikefab.model.placement.balanced_placement, "
          "HardwareConfig.uniform(..., placement='balanced'))")
    print("(theoretical gain: the baseline's work, every synapse slot and row every step, over "
          "the docs/design.md §4 bound; vs lower bound: the slowest layer's bound over the cycles; "
          "PE utilization: synaptic updates / (P x busy cycles), per layer; balanced pruning "
          "keeps the same share of weights in every PE lane of every column)\n")

    print(f"## Neuron placement: weight words over all columns, global pruning, P = {lanes}")
    print("| network (density) | layer | identity | balanced placement | floor (any placement) "
          "| excess removed | placement time |")
    print("|---|---|---|---|---|---|---|")
    for sizes in ((64, 128, 10), (784, 256, 10)):
        for density in densities:
            net = reference_network(sizes, density=density, w_bits=4)
            for row in placement_words(net, lanes):
                print(f"| {'-'.join(map(str, sizes))} ({density:.0%}) | {row['layer'] + 1} "
                      f"| {row['identity']:,} | {row['balanced']:,} | {row['floor']:,} "
                      f"| {row['removed']:.0%} | {row['seconds'] * 1e3:.0f} ms |")
    print("(words: sum over columns of max_p nnz_p(j), what one event on every input costs; "
          "floor: sum of ceil(nnz_j / P), which no placement beats; excess removed: (identity - "
          "balanced) / (identity - floor); layers with one row per lane have nothing to place)\n")

    print(f"## Convolution core: sparsity gain (cycle model = RTL), {samples // 4} samples back "
          f"to back, P = {lanes} per layer (conv layers: lanes across output channels)")
    print("| network | weight bits (core) | weight bits (unrolled, csc) | cycles/inference "
          "| dense baseline | speed-up | theoretical | fraction of gain |")
    print("|---|---|---|---|---|---|---|---|")
    trains = rng.random((max(1, samples // 4), steps, conv.n_inputs)) < activity
    bench_conv_sparsity(conv, trains, lanes, f"conv {'-'.join(map(str, conv.shape))} "
                                             f"(T = {steps}, {activity:.0%} input)")
    print("(dense baseline: the same core walking every input every step, before any input "
          "pool, with its words gated, and full sweeps; theoretical gain: the busiest layer's "
          "baseline work over the busiest layer's docs/design.md §4 bound, as the layers run "
          "concurrently; the sparse core skips rows that received nothing and hold nothing)\n")

    if cosim != "none":
        print("## Co-simulation speed (csc, P as above)")
        print("| network | simulator | samples | cycles | equals model | cycles/s | build |")
        print("|---|---|---|---|---|---|---|")
        small = reference_network((64, 128, 10), density=0.5, w_bits=4)
        trains = rng.random((2, 16, 64)) < 0.15
        bench_cosim(small, trains, lanes, ["amaranth", "verilator"])
        if cosim == "all":
            big = reference_network((784, 256, 10), density=0.5, w_bits=4)
            trains = rng.random((1, 25, 784)) < 0.10
            bench_cosim(big, trains, lanes, ["verilator"])

