"""``make bench``: benchmark figures, printed as tables (not a timed test).

Golden model
    Throughput of :func:`spikeforge.model.simulate` in synaptic events per second on a
    784-256-10 network at 10% input activity, on one core (BLAS threads pinned to 1).
    A *synaptic event* is one (input spike, outgoing synapse) pair: each spike arriving at a
    layer of ``N`` neurons counts ``N`` events, whatever the weight — the usual SynOps count.
Cycle model
    Its own speed (events per second) and its prediction for the same network per memory
    format, with the memory bits of each format and the DESIGN.md §4 lower bound.

Run ``python -m spikeforge.sim.bench --help`` for options.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from spikeforge.model import (FORMATS, HardwareConfig, compile_weights, cycle_model,  # noqa: E402
                              reference_network, simulate)


def synaptic_events(network, result):
    """SynOps: every spike arriving at a layer times that layer's neuron count."""
    return sum(int(result.layer_inputs(i).sum()) * layer.neurons
               for i, layer in enumerate(network))


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256, help="samples per simulate() call")
    parser.add_argument("--steps", type=int, default=25, help="timesteps per sample (T)")
    parser.add_argument("--activity", type=float, default=0.10, help="input spike probability")
    parser.add_argument("--density", type=float, default=0.5, help="weight density kept")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs (best is reported)")
    parser.add_argument("--lanes", type=int, default=8, help="PEs per layer for the cycle model")
    parser.add_argument("--cycle-samples", type=int, default=16,
                        help="samples run through the cycle model")
    args = parser.parse_args(argv)

    network = reference_network(density=args.density)
    shape = "-".join(map(str, network.shape))
    print(f"# spikeforge benchmark — network {shape}, T = {args.steps}, input activity "
          f"{args.activity:.0%}, weight density {args.density:.0%}\n")

    result, events, seconds = bench_golden(network, batch=args.batch, steps=args.steps,
                                           activity=args.activity, repeats=args.repeats)
    hidden = [float(s.mean()) for s in result.spikes]
    print("## Golden model (simulate), one core")
    print(f"| samples | synaptic events | best time | events/s | samples/s |")
    print(f"|---|---|---|---|---|")
    print(f"| {args.batch} | {events:,} | {seconds * 1e3:.1f} ms | {events / seconds:,.0f} "
          f"| {args.batch / seconds:,.0f} |")
    print(f"\nLayer spike activity per step: "
          + ", ".join(f"layer {i + 1} {a:.1%}" for i, a in enumerate(hidden)))
    target = 10e6
    print(f"Target >= {target:,.0f} events/s: "
          f"{'met' if events / seconds >= target else 'NOT met'} "
          f"({events / seconds / target:.0f}x)\n")

    subset = simulate(network, result.inputs[:args.cycle_samples])
    print(f"## Cycle model, {args.cycle_samples} samples back to back, P = {args.lanes} per layer")
    print("| format | weight memory bits | cycles/sample | lower bound/sample "
          "| bound/cycles | model time | events/s |")
    print("|---|---|---|---|---|---|---|")
    rows = [(fmt, "sparse") for fmt in FORMATS] + [("dense", "dense")]
    for fmt, mode in rows:
        config = HardwareConfig.uniform(network, lanes=args.lanes, format=fmt, mode=mode)
        bits = sum(compile_weights(layer, c.lanes, fmt).size_bits
                   for layer, c in zip(network, config.layers))
        start = time.perf_counter()
        report = cycle_model(network, subset, config)
        elapsed = time.perf_counter() - start
        n_events = sum(s.events for s in report.layers)
        label = fmt if mode == "sparse" else "dense baseline"
        per_sample = report.total / args.cycle_samples
        bound = report.lower_bound / args.cycle_samples
        print(f"| {label} | {bits:,} | {per_sample:,.0f} | {bound:,.0f} "
              f"| {bound / per_sample:.0%} | {elapsed * 1e3:.0f} ms | {n_events / elapsed:,.0f} |")
    print("\n(lower bound: DESIGN.md §4, summed over layers — a sequential machine's bound)")


if __name__ == "__main__":
    main()
