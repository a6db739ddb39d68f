"""``spikefab synth``: synthesize, place and route the board top of a network for
``--board``; write the bitstream and the resource / Fmax / latency report to ``OUT/BOARD``.
The options and the network selection are :mod:`spikefab.cli.board_options`."""

import json

import numpy as np

from spikefab.boards.host import typical_inputs
from spikefab.cli import board_options
from spikefab.cli.args import fail
from spikefab.cli.board_options import network_and_config
from spikefab.model import cycle_model, simulate

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab synth``'s options."""
    board_options.add_arguments(parser, "synth")


def run(args):
    """``spikefab synth``: bitstream and report for ``--board``."""
    from spikefab.toolchain import ToolNotFound

    from spikefab.boards.build import board_top, runtime_layers
    from spikefab.boards.registry import get_board
    from spikefab.boards.report import ResourceOverflow, SynthesisError
    from spikefab.boards.synth import synthesize

    network, config = network_and_config(args)
    board = get_board(args.board)
    out = args.out / args.board
    runtime = runtime_layers(board, network, config)
    if any(runtime):
        print(f"weights of layer(s) {[i + 1 for i, r in enumerate(runtime) if r]} go to SPRAM: "
              f"loaded at run time (spikefab run loads them), not in the bitstream")
    try:                                      # checks --baud and the limits
        top = board_top(board, network, config, baud=args.baud, max_steps=args.steps,
                        runtime_weights=runtime)
    except (ValueError, TypeError) as error:
        raise fail(f"this configuration cannot be generated: {error}") from None
    try:
        report = synthesize(board, top, build_dir=out)
    except (ResourceOverflow, SynthesisError, ToolNotFound) as error:
        raise fail(str(error)) from None
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
