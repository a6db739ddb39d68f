"""``spikefab synth``: synthesize, place and route the board top of a network for
``--board``; write the bitstream and the resource / Fmax / latency report to ``OUT/BOARD``.
The options and the network selection are :mod:`spikefab.cli.board_options`.

Every report that names a design prints the ``spikefab synth`` command that rebuilds it
(:mod:`spikefab.boards.rebuild`): its network file, per-layer ``--lanes`` and
``--sweep-lanes``, ``--format``, ``--queue-depth``, ``--steps`` (the longest sample the
bitstream counts), ``--exit`` (the early-exit rule built in, docs/design.md §2; every
sample then has ``--steps`` steps) and ``--spikes`` (the samples its latency came from).
``--clock-mhz F`` runs the design from the FPGA's PLL at ``F`` MHz (docs/design.md §6):
the report's clock and its timing verdict are then the PLL's, and a build that misses timing
at it ends with an error (exit status 1) after writing the report.
``--dry-run`` stops after elaborating the board top: it writes ``top.il``, the RTLIL the
board flow hands to yosys, and ``design.json``, so two designs can be compared without
running the tools.
"""

import json

import numpy as np

from spikefab.boards.host import typical_inputs
from spikefab.cli import board_options
from spikefab.cli.args import exit_flag, exit_value, fail
from spikefab.cli.board_options import network_and_config, read_spikes
from spikefab.model import cycle_model, simulate

__all__ = ["add_arguments", "run", "RANDOM_SAMPLES", "RANDOM_ACTIVITY"]

#: Without ``--spikes``, the latency is the mean over this many rate-coded random samples ...
RANDOM_SAMPLES = 16
#: ... of this mean input activity (spike probability per input and step).
RANDOM_ACTIVITY = 0.15


def add_arguments(parser):
    """``spikefab synth``'s options."""
    board_options.add_arguments(parser, "synth")


def _latency_samples(args, network):
    """``(trains, words)``: the samples of the latency figure and where they came from."""
    from spikefab.boards.rebuild import user_path
    if args.spikes:
        trains = read_spikes(args.spikes, network, args.steps)
        if exit_value(getattr(args, "exit", None)) is not None and trains.shape[1] != args.steps:
            raise fail(f"--spikes {user_path(args.spikes)}: T = {trains.shape[1]} steps; with "
                       f"--exit every sample has --steps {args.steps} steps")
        return trains, (f"the {len(trains)} samples in {user_path(args.spikes)}, "
                        f"T = {trains.shape[1]}")
    trains = typical_inputs(network, samples=RANDOM_SAMPLES, steps=args.steps,
                            activity=RANDOM_ACTIVITY)
    code = "direct values" if network[0].direct else "rate code"
    return trains, (f"{RANDOM_SAMPLES} random samples at {RANDOM_ACTIVITY:.0%} input "
                    f"activity ({code}, seed 0), T = {args.steps}")


def _encoder(args, network):
    """The on-chip encoder's arguments (``HostLink(encoder=)``): ``--encoder``, ``--steps``,
    ``--scan``; a direct network's ``x_bits``."""
    encoder = {"kind": args.encoder, "steps": args.steps, "scan": args.scan}
    if args.encoder == "direct":
        encoder["x_bits"] = network[0].x_bits
    return encoder


def _design(board, network, config, args, runtime):
    """What decides the bitstream, JSON-ready (``design.json``)."""
    clock = getattr(args, "clock_mhz", None)
    return {"board": board.name, "shape": list(network.shape), "config": config.to_json(),
            "max_steps": args.steps, "baud": args.baud, "weights_in_spram": runtime,
            **({} if clock is None else {"clock_mhz": clock, "pll": True}),
            "exit": exit_flag(exit_value(getattr(args, "exit", None))),
            **({} if getattr(args, "encoder", None) is None else
               {"encoder": _encoder(args, network)}),
            "network": str(args.network) if args.network else
            f"{'-'.join(map(str, args.sizes))} reference network"}


def _dry_run(board, top, out, design):
    """Write the board flow's RTLIL of ``top`` (``top.il``) and ``design.json`` to ``out``
    without running the tools."""
    plan = board.platform().prepare(top, name="top")
    out.mkdir(parents=True, exist_ok=True)
    rtlil = plan.files["top.il"]
    (out / "top.il").write_text(rtlil if isinstance(rtlil, str) else rtlil.decode())
    (out / "design.json").write_text(json.dumps(design, indent=2) + "\n")
    print(f"dry run: {out / 'top.il'} (what yosys reads), {out / 'design.json'}; no tool ran")


def run(args):
    """``spikefab synth``: bitstream and report for ``--board``."""
    from spikefab.toolchain import ToolNotFound

    from spikefab.boards.build import board_top, runtime_layers
    from spikefab.boards.pll import pll_for
    from spikefab.boards.registry import default_baud, get_board
    from spikefab.boards.report import ResourceOverflow, SynthesisError
    from spikefab.boards.synth import synthesize

    board = get_board(args.board)
    clock = getattr(args, "clock_mhz", None)
    if clock is not None:
        try:
            pll_for(board.family, board.clock_mhz, clock)
        except ValueError as error:
            raise _bad_clock(args, f"--clock-mhz {clock:g}: {error}") from None
    network, config = network_and_config(args)
    rule = exit_value(getattr(args, "exit", None))
    args.baud = args.baud or default_baud(board, clock)   # design.json names the rate built
    run_mhz = board.clock_mhz if clock is None else clock
    out = args.out / args.board
    trains, source = _latency_samples(args, network)
    runtime = runtime_layers(board, network, config)
    if any(runtime):
        print(f"weights of layer(s) {[i + 1 for i, r in enumerate(runtime) if r]} go to SPRAM: "
              f"loaded at run time (spikefab run loads them), not in the bitstream")
    exits = "" if rule is None else f", early exit {exit_flag(rule)}"
    print(f"design: {'-'.join(map(str, network.shape))}, {config.describe()}, max steps "
          f"{args.steps}{exits}", flush=True)
    try:                                      # checks --baud and the limits
        top = board_top(board, network, config, baud=args.baud, max_steps=args.steps,
                        runtime_weights=runtime, exit=rule, clock_mhz=clock,
                        encoder=None if getattr(args, "encoder", None) is None else
                        _encoder(args, network))
    except (ValueError, TypeError) as error:
        raise fail(f"this configuration cannot be generated: {error}") from None
    design = _design(board, network, config, args, runtime)
    # Each sample run alone, from its first input event to its result (as the reports do).
    cycles = [int(cycle_model(network, simulate(network, train, exit=rule), config).latency[0])
              for train in trains]
    mean = float(np.mean(cycles))
    if args.dry_run:
        design["latency"] = {"cycles_per_inference": mean, "inputs": source}
        print(f"latency of an inference (cycle model, each sample alone, mean of {source}): "
              f"{mean:,.1f} cycles")
        return _dry_run(board, top, out, design)
    try:
        report = synthesize(board, top, build_dir=out)
    except (ResourceOverflow, SynthesisError, ToolNotFound) as error:
        raise fail(str(error)) from None
    latency = report.latency_us(mean)
    report.write(out)
    summary = json.loads((out / "report.json").read_text())
    summary["network"] = {"shape": list(network.shape), "lanes": [c.lanes for c in config.layers],
                          "sweep_lanes": [c.sweep_lanes for c in config.layers],
                          "weights_in_spram": runtime,
                          "format": args.format, "queue_depth": args.queue_depth,
                          "source": design["network"]}
    summary["design"] = design
    summary["latency"] = {"cycles_per_inference": mean, "steps": int(trains.shape[1]),
                          "samples": len(trains), "each_alone": True,
                          "us_at_board_clock": latency.board_clock, "us_at_fmax": latency.fmax,
                          **({} if clock is None else {"clock_mhz": clock}),
                          "inputs": source}
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    text = report.table() + (
        f"\nNetwork {'-'.join(map(str, network.shape))}, {config.describe()}, max steps "
        f"{args.steps}{exits}; latency of an inference, compute only (cycle model, each sample "
        f"alone, mean of {source}; end to end through the host link: spikefab throughput): "
        f"{mean:,.0f} cycles = {latency.board_clock:,.1f} µs at the "
        f"{run_mhz:g} MHz {report.clock_name}"
        + (f", {latency.fmax:,.1f} µs at Fmax" if latency.fmax else "") + ".\n")
    (out / "report.md").write_text(text)
    print(text)
    print(f"bitstream: {report.bitstream}\nreport: {out / 'report.md'}, {out / 'report.json'}")
    if clock is not None and report.timing_met is False:
        raise fail(f"timing is not met at the {clock:g} MHz PLL clock: Fmax "
                   f"{report.fmax_mhz:.2f} MHz (net {report.clock}); the bitstream would run "
                   f"out of specification; build at a lower --clock-mhz (at most "
                   f"{report.fmax_mhz:.2f}, made exactly by the PLL) or without it")
    return report


def _bad_clock(args, message):
    """A ``--clock-mhz`` the PLL cannot make: argparse's usage and one line (exit status 2)."""
    parser = getattr(args, "board_parser", None)
    if parser is not None:
        parser.error(message)
    return fail(message)
