"""Command line of the board flow: ``python -m spikeforge.boards synth|prog|run``.

``make synth BOARD=icebreaker``, ``make prog BOARD=…`` and ``make run BOARD=… PORT=…`` call it.
The network is the built-in digits-sized default (the 64-128-10 reference network with 4-bit
weights, 50 % of them kept, balanced over the PE lanes) unless ``--network FILE.npz`` names
one saved with :meth:`spikeforge.model.Network.save`.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from spikeforge.model import (FORMATS, HardwareConfig, Network, cycle_model, encode_rate,
                              reference_network, simulate)

__all__ = ["main"]

BOARDS = ("icebreaker", "ulx3s", "orangecrab")


def network_and_config(args):
    """The network (``--network`` file or the reference network of ``--sizes``) and its
    hardware configuration; ``--lanes`` defaults to 2 on the iCEBreaker, 8 elsewhere."""
    if args.lanes is None:
        args.lanes = 2 if args.board == "icebreaker" else 8
    if args.network:
        network = Network.load(args.network)
    else:
        network = reference_network(tuple(args.sizes), w_bits=4, density=0.5, lanes=args.lanes)
    config = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format,
                                    queue_depth=args.queue_depth)
    return network, config


def typical_inputs(network, samples=16, steps=16, activity=0.15, seed=0):
    """Rate-coded random intensities (``activity`` mean spike probability) for the latency
    figure of the report."""
    rng = np.random.default_rng(seed)
    x = (rng.random((samples, network.n_inputs)) < 2 * activity) * rng.integers(0, 256, (
        samples, network.n_inputs))
    return encode_rate(x, steps)


def synth(args):
    from .synth import ResourceOverflow, SynthesisError, get_board, synthesize
    from .top import BoardTop

    network, config = network_and_config(args)
    board = get_board(args.board)
    out = Path(args.out) / args.board
    top = BoardTop(network, config, baud=args.baud, max_steps=args.steps)
    try:
        report = synthesize(board, top, build_dir=out)
    except (ResourceOverflow, SynthesisError) as error:
        raise SystemExit(f"error: {error}") from None
    trains = typical_inputs(network, steps=args.steps)
    golden = simulate(network, trains)
    cycles = cycle_model(network, golden, config)
    mean = float(np.mean(cycles.latency))
    latency = report.latency_us(mean)
    report.write(out)
    summary = json.loads((out / "report.json").read_text())
    summary["network"] = {"shape": list(network.shape), "lanes": [c.lanes for c in config.layers],
                          "format": args.format, "queue_depth": args.queue_depth,
                          "source": args.network or (f"{'-'.join(map(str, args.sizes))} "
                                                     f"reference network")}
    summary["latency"] = {"cycles_per_inference": mean, "steps": args.steps,
                          "us_at_board_clock": latency.board_clock, "us_at_fmax": latency.fmax,
                          "inputs": "16 rate-coded random samples, ~15 % input activity"}
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    text = report.table() + (
        f"\nNetwork {'-'.join(map(str, network.shape))}, P = {[c.lanes for c in config.layers]}, "
        f"{args.format}; latency of an inference (T = {args.steps}, cycle model, mean of 16 "
        f"samples): {mean:,.0f} cycles = {latency.board_clock:,.1f} µs at the "
        f"{board.clock_mhz:g} MHz board clock"
        + (f", {latency.fmax:,.1f} µs at Fmax" if latency.fmax else "") + ".\n")
    (out / "report.md").write_text(text)
    print(text)
    print(f"bitstream: {report.bitstream}\nreport: {out / 'report.md'}, {out / 'report.json'}")


def prog(args):
    from .program import ProgramError, program
    out = Path(args.out) / args.board
    bitstream = out / ("top.bin" if args.board == "icebreaker" else "top.bit")
    try:
        print(program(args.board, bitstream, flash=args.flash))
    except ProgramError as error:
        raise SystemExit(f"error: {error}") from None


def run(args):
    from .host import Device, open_serial
    from .protocol import ProtocolError

    if not args.port:
        raise SystemExit("error: no serial port given; use PORT=/dev/ttyUSB1 (make run) or "
                         "--port")
    network, config = network_and_config(args)
    try:
        device = Device(open_serial(args.port, args.baud, timeout=2.0))
        device.check(network, config)
        device.load(network, progress=True)
        trains = (np.load(args.spikes) if args.spikes
                  else typical_inputs(network, samples=args.samples, steps=args.steps))
        results = device.infer(trains, progress=True)
    except (OSError, ProtocolError, ValueError) as error:
        raise SystemExit(f"error: {error}") from None
    golden = simulate(network, trains)
    agree = sum(r.cls == c and list(r.counts) == list(k)
                for r, c, k in zip(results, golden.predicted, golden.counts))
    print(f"{len(results)} samples: classes {[r.cls for r in results][:20]}"
          f"{' ...' if len(results) > 20 else ''}")
    print(f"agreement with the golden model (class and every count): {agree}/{len(results)}")
    print(f"device counters: {device.counters()}")
    if agree != len(results):
        raise SystemExit("error: the board disagrees with the golden model")


def parser():
    p = argparse.ArgumentParser(prog="python -m spikeforge.boards", description=__doc__.split(
        "\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, helptext in (("synth", "synthesize, place and route, write the bitstream and the "
                                     "report"),
                           ("prog", "program the board with openFPGALoader"),
                           ("run", "load the network and run samples on a connected board")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--board", choices=BOARDS, default="icebreaker")
        s.add_argument("--out", default="build", help="build folder (default build/)")
        s.add_argument("--network", help="a network saved with Network.save (.npz)")
        s.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 10],
                       help="layer sizes of the built-in reference network (default 64 128 10)")
        s.add_argument("--lanes", type=int, default=None,
                       help="PEs per layer (default 2 on the iCEBreaker, 8 on ECP5 boards)")
        s.add_argument("--format", choices=FORMATS, default="csc")
        s.add_argument("--queue-depth", type=int, default=16)
        s.add_argument("--steps", type=int, default=16, help="timesteps per sample (T)")
        s.add_argument("--baud", type=int, default=115200)
        if name == "prog":
            s.add_argument("--flash", action="store_true", help="write the configuration flash")
        if name == "run":
            s.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB1")
            s.add_argument("--samples", type=int, default=100)
            s.add_argument("--spikes", help=".npy of spike trains [B, T, N0] (default: random)")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    {"synth": synth, "prog": prog, "run": run}[args.command](args)


if __name__ == "__main__":
    main(sys.argv[1:])
