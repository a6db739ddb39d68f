"""``make demo``: the co-design flow on the built-in default network.

What runs today (the golden-model half of the flow): a digits-sized 64-128-10 network with
random 4-bit weights pruned to 50%, rate-encoded random 8x8 "images", the golden
simulation, and per weight format the memory size and the cycle-model prediction against
the dense baseline. Training on the digits data set, hardware co-simulation and synthesis
join this command as the issues that build them land (see README, "Status").
"""

import argparse

import numpy as np

from spikeforge.model import (FORMATS, HardwareConfig, compile_weights, cycle_model,
                              encode_rate, reference_network, simulate)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--density", type=float, default=0.5)
    parser.add_argument("--w-bits", type=int, default=4)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="8 samples")
    args = parser.parse_args(argv)
    samples = 8 if args.quick else args.samples

    network = reference_network((64, 128, 10), density=args.density, w_bits=args.w_bits)
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, size=(samples, 64)) * (rng.random((samples, 64)) < 0.3)
    spikes = encode_rate(images, args.steps)
    result = simulate(network, spikes)
    print(f"network {'-'.join(map(str, network.shape))}, w_bits {args.w_bits}, "
          f"density {args.density:.0%}, T = {args.steps}, {samples} samples")
    for index in range(len(network) + 1):
        name = "input" if index == 0 else f"layer {index}"
        print(f"  {name:8s} spike activity {result.layer_inputs(index).mean():.1%} per step")
    print(f"  predicted classes: {np.bincount(result.predicted, minlength=10).tolist()}")

    dense = cycle_model(network, result, HardwareConfig.uniform(
        network, lanes=args.lanes, mode="dense"))
    print(f"\nP = {args.lanes} per layer; dense baseline {dense.total / samples:,.0f} cycles/sample")
    print(f"{'format':8s} {'memory bits':>12s} {'cycles/sample':>14s} {'speed-up':>9s}")
    for fmt in FORMATS:
        config = HardwareConfig.uniform(network, lanes=args.lanes, format=fmt)
        report = cycle_model(network, result, config)
        bits = sum(compile_weights(layer, c.lanes, fmt).size_bits
                   for layer, c in zip(network, config.layers))
        print(f"{fmt:8s} {bits:12,d} {report.total / samples:14,.0f} "
              f"{dense.total / report.total:8.1f}x")


if __name__ == "__main__":
    main()
