"""Command line of the board flow: ``spikefab synth|prog|run`` (also
``python -m spikefab.boards synth|prog|run``).

``make synth BOARD=icebreaker``, ``make prog BOARD=…`` and ``make run BOARD=… PORT=…`` call it.
The network is the built-in digits-sized default (the 64-128-10 reference network with 4-bit
weights, 50 % of them kept, balanced over the PE lanes) unless ``--network FILE.npz`` names
one saved with :meth:`spikefab.model.Network.save`.

Every error a user can cause ends in one line naming the flag and the allowed values (bad
flags are refused by argparse before anything runs; a network file that cannot be read, a
configuration the generator refuses, a design that does not fit and a tool that fails each
get an ``error: …`` line saying what to do).
"""

import argparse
import json
import sys

import numpy as np

from spikefab.model import (FORMATS, HardwareConfig, Network, cycle_model, encode_rate,
                              reference_network, simulate)
from spikefab.model.checks import flag_input_file, flag_int, flag_output_dir
from spikefab.model.cycles import QUEUE_DEPTH_RANGE

__all__ = ["BOARD_NAMES", "COMMANDS", "add_arguments", "main", "network_and_config", "prog",
           "run", "synth"]

BOARD_NAMES = ("icebreaker", "ulx3s", "orangecrab")

#: The host link addresses at most 16384 inputs and counts steps in 16 bits.
MAX_NEURONS = 1 << 14
MAX_STEPS = (1 << 16) - 1


def _fail(message):
    return SystemExit(f"error: {message}")


def network_and_config(args):
    """The network (``--network`` file or the reference network of ``--sizes``) and its
    hardware configuration; ``--lanes`` defaults to 2 on the iCEBreaker, 8 elsewhere.

    Raises ``SystemExit`` with one line naming the flag when the file cannot be read or the
    configuration cannot be built."""
    if args.lanes is None:
        args.lanes = 2 if args.board == "icebreaker" else 8
    if args.network:
        try:
            network = Network.load(args.network)
        except (OSError, ValueError, TypeError) as error:
            raise _fail(f"--network: {error}; give a file written by Network.save (.npz)") \
                from None
        if network.n_inputs > MAX_NEURONS:
            raise _fail(f"--network {args.network} has {network.n_inputs} inputs; the host "
                        f"link addresses at most {MAX_NEURONS}")
    else:
        if len(args.sizes) < 2:
            raise _fail(f"--sizes needs at least two sizes (inputs, then one per layer), not "
                        f"{len(args.sizes)}")
        try:
            network = reference_network(tuple(args.sizes), w_bits=4, density=0.5,
                                        lanes=args.lanes)
        except (ValueError, TypeError) as error:
            raise _fail(f"--sizes {' '.join(map(str, args.sizes))}: {error}") from None
    sweep_lanes = getattr(args, "sweep_lanes", None)
    try:
        config = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format,
                                        queue_depth=args.queue_depth, sweep_lanes=sweep_lanes)
        config.check(network)
    except (ValueError, TypeError) as error:
        raise _fail(f"--lanes {args.lanes} / --sweep-lanes {sweep_lanes} / --format "
                    f"{args.format} / --queue-depth {args.queue_depth}: {error}") from None
    return network, config


def typical_inputs(network, samples=16, steps=16, activity=0.15, seed=0):
    """Rate-coded random intensities (``activity`` mean spike probability) for the latency
    figure of the report."""
    rng = np.random.default_rng(seed)
    x = (rng.random((samples, network.n_inputs)) < 2 * activity) * rng.integers(0, 256, (
        samples, network.n_inputs))
    return encode_rate(x, steps)


def synth(args):
    """``spikefab synth``: bitstream and report for ``--board``."""
    from spikefab.toolchain import ToolNotFound

    from spikefab.model import compile_weights

    from .registry import get_board, runtime_weight_layers
    from .report import ResourceOverflow, SynthesisError
    from .synth import synthesize
    from .top import BoardTop

    network, config = network_and_config(args)
    board = get_board(args.board)
    out = args.out / args.board
    runtime = runtime_weight_layers(board, [compile_weights(layer, c.lanes, c.format)
                                            for layer, c in zip(network, config.layers)])
    if any(runtime):
        print(f"weights of layer(s) {[i + 1 for i, r in enumerate(runtime) if r]} go to SPRAM: "
              f"loaded at run time (spikefab run loads them), not in the bitstream")
    top = BoardTop(network, config, baud=args.baud, max_steps=args.steps,
                   runtime_weights=runtime)
    try:
        top.link_for(board.clock_mhz * 1e6)   # checks --baud and the limits; the build reuses it
    except (ValueError, TypeError) as error:
        raise _fail(f"this configuration cannot be generated: {error}") from None
    try:
        report = synthesize(board, top, build_dir=out)
    except (ResourceOverflow, SynthesisError, ToolNotFound) as error:
        raise _fail(str(error)) from None
    trains = typical_inputs(network, steps=args.steps)
    golden = simulate(network, trains)
    cycles = cycle_model(network, golden, config)
    mean = float(np.mean(cycles.latency))
    latency = report.latency_us(mean)
    report.write(out)
    summary = json.loads((out / "report.json").read_text())
    summary["network"] = {"shape": list(network.shape), "lanes": [c.lanes for c in config.layers],
                          "sweep_lanes": [c.sweep_lanes for c in config.layers],
                          "weights_in_spram": runtime,
                          "format": args.format, "queue_depth": args.queue_depth,
                          "source": (str(args.network) if args.network else
                                     f"{'-'.join(map(str, args.sizes))} reference network")}
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
    return report


def prog(args):
    """``spikefab prog``: program the bitstream of ``spikefab synth`` into ``--board``."""
    from .program import ProgramError, program
    out = args.out / args.board
    bitstream = out / ("top.bin" if args.board == "icebreaker" else "top.bit")
    try:
        print(program(args.board, bitstream, flash=args.flash))
    except ProgramError as error:
        raise _fail(error) from None


def run(args):
    """``spikefab run``: load the network into the board on ``--port`` and compare its
    answers with the golden model."""
    from .host import Device, open_serial
    from .protocol import ProtocolError

    if not args.port:
        raise _fail("no serial port given; use PORT=/dev/ttyUSB1 (make run) or --port")
    network, config = network_and_config(args)
    trains = None
    if args.spikes:
        try:
            trains = np.load(args.spikes, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise _fail(f"--spikes {args.spikes}: cannot read it as a .npy array ({error})") \
                from None
    try:
        device = Device(open_serial(args.port, args.baud, timeout=2.0))
        device.check(network, config)
        device.load(network, progress=True)
        if trains is None:
            trains = typical_inputs(network, samples=args.samples, steps=args.steps)
        results = device.infer(trains, progress=True)
    except (OSError, ProtocolError, ValueError, TypeError) as error:
        raise _fail(error) from None
    golden = simulate(network, trains)
    agree = sum(r.cls == c and list(r.counts) == list(k)
                for r, c, k in zip(results, golden.predicted, golden.counts))
    print(f"{len(results)} samples: classes {[r.cls for r in results][:20]}"
          f"{' ...' if len(results) > 20 else ''}")
    print(f"agreement with the golden model (class and every count): {agree}/{len(results)}")
    print(f"device counters: {device.counters()}")
    if agree != len(results):
        raise _fail("the board disagrees with the golden model")


def add_arguments(parser, command):
    """The options of ``spikefab <command>`` for ``command`` in synth, prog, run."""
    s = parser
    s.add_argument("--board", choices=BOARD_NAMES, default="icebreaker")
    s.add_argument("--out", type=flag_output_dir, default="build",
                   help="build folder (default build/); the board's files go to OUT/BOARD")
    s.add_argument("--network", type=flag_input_file,
                   help="a network saved with Network.save (.npz)")
    s.add_argument("--sizes", type=flag_int(1, MAX_NEURONS), nargs="+", default=[64, 128, 10],
                   help="layer sizes of the built-in reference network (default 64 128 10)")
    s.add_argument("--lanes", type=flag_int(1, 256), default=None,
                   help="PEs per layer, capped at each layer's size (default 2 on the "
                        "iCEBreaker, 8 on ECP5 boards)")
    s.add_argument("--sweep-lanes", type=flag_int(1, 256), default=None,
                   help="neurons the LIF sweep updates per cycle, per layer the largest "
                        "divisor of its lanes up to this (default: the lanes)")
    s.add_argument("--format", choices=FORMATS, default="csc")
    s.add_argument("--queue-depth", type=flag_int(*QUEUE_DEPTH_RANGE), default=16,
                   help="event queue depth (default 16)")
    s.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=16,
                   help="timesteps per sample T, the longest sample the bitstream counts "
                        "(default 16)")
    s.add_argument("--baud", type=flag_int(1200, 3_000_000), default=115200,
                   help="UART speed (default 115200)")
    if command == "prog":
        s.add_argument("--flash", action="store_true", help="write the configuration flash")
    if command == "run":
        s.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB1")
        s.add_argument("--samples", type=flag_int(1, 1 << 20), default=100,
                       help="random samples to run (default 100)")
        s.add_argument("--spikes", type=flag_input_file,
                       help=".npy of spike trains [B, T, N0] (default: random)")
    return s


#: ``name: (help, run)`` of the board commands.
COMMANDS = {
    "synth": ("synthesize, place and route, write the bitstream and the report", synth),
    "prog": ("program the board with openFPGALoader", prog),
    "run": ("load the network and run samples on a connected board", run),
}


def parser():
    p = argparse.ArgumentParser(prog="python -m spikefab.boards",
                                description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name, (helptext, function) in COMMANDS.items():
        s = sub.add_parser(name, help=helptext, description=helptext)
        add_arguments(s, name)
        s.set_defaults(run=function)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    main(sys.argv[1:])
