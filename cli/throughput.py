"""``spikefab throughput``: images per second end to end through each board's host link
(the real host driver over the Verilator model of the board's host link, simulated time at
the board clock, the UART cycle-exact), beside the compute-only µs per image, for the digits
and MNIST demo networks (:mod:`spikefab.studies.link_throughput`)."""

import json

from spikefab.cli.args import (fail, flag_float, flag_input_file, flag_int, flag_output_dir,
                               input_code, make_output_dir)
from spikefab.cli.board_options import BOARD_NAMES, MAX_STEPS, read_network
from spikefab.model.encoders import HARDWARE_ENCODERS, SCAN_RANGE

__all__ = ["add_arguments", "run"]


def _baud(text):
    """``--baud``: a rate in [1200, 12000000], or ``default`` (the board's)."""
    if text == "default":
        return None
    return flag_int(1200, 12_000_000)(text)


_MHZ = flag_float(0, 400, low_open=True)


def _clock(text):
    """``--clock-mhz``: ``BOARD=MHZ`` (or a bare MHz for the one ``--board``)."""
    import argparse
    board, sep, mhz = text.rpartition("=")
    if sep and board not in BOARD_NAMES:
        raise argparse.ArgumentTypeError(f"{text}: unknown board {board!r}; allowed: "
                                         f"{', '.join(BOARD_NAMES)}")
    return (board or None), _MHZ(mhz)


def clocks_of(args):
    """``{board: MHz}`` of ``--clock-mhz``; a bare MHz needs exactly one ``--board``. Each
    clock is checked against the board's PLL (one error line naming the nearest
    frequencies it makes)."""
    from spikefab.boards.pll import pll_for
    from spikefab.boards.registry import get_board
    clocks = {}
    for board, mhz in args.clock_mhz or ():
        if board is None:
            if len(args.board) != 1:
                raise fail(f"--clock-mhz {mhz:g} names no board; with several --board give "
                           f"BOARD=MHZ, e.g. ulx3s=75 icebreaker=24")
            board = args.board[0]
        if board not in args.board:
            raise fail(f"--clock-mhz {board}={mhz:g}: {board} is not among --board "
                       f"{' '.join(args.board)}")
        spec = get_board(board)
        try:
            pll_for(spec.family, spec.clock_mhz, mhz)
        except ValueError as error:
            raise fail(f"--clock-mhz {board}={mhz:g}: {error}") from None
        clocks[board] = mhz
    return clocks


def add_arguments(parser):
    """``spikefab throughput``'s options."""
    parser.add_argument("--demo", choices=("digits", "mnist"), nargs="+",
                        default=["digits", "mnist"],
                        help="the demo networks to run (default digits mnist)")
    parser.add_argument("--board", choices=BOARD_NAMES, nargs="+", default=list(BOARD_NAMES),
                        help=f"the boards: their clock, UART rate and the demo's configuration "
                             f"for them (default {' '.join(BOARD_NAMES)})")
    parser.add_argument("--baud", type=_baud, nargs="+", default=[None],
                        help="UART rates to measure, each in [1200, 12000000] or 'default' "
                             "(the board's: icebreaker 3000000, ulx3s 1000000, orangecrab "
                             "115200; at a --clock-mhz, the rate that clock makes); e.g. --baud 115200 default (default: default)")
    parser.add_argument("--clock-mhz", type=_clock, nargs="+", default=None,
                        help="run a board at its PLL clock, as spikefab synth --clock-mhz "
                             "builds it: BOARD=MHZ each (e.g. ulx3s=75 icebreaker=24), or one "
                             "MHz with one --board; its default UART rate follows the clock "
                             "(default: every board at its oscillator)")
    parser.add_argument("--images", type=flag_int(1, 1000), default=3,
                        help="test images per run, coded as the demo codes them (or by "
                             "--encoder) (default 3; time is simulated, so a few are exact)")
    parser.add_argument("--encoder", choices=HARDWARE_ENCODERS, default=None,
                        help="input code of the test images: rate or latency (time to first "
                             "spike), as spikefab train --encoder; for a --network trained so "
                             "(default: the code the --network file records, as spikefab "
                             "train writes it; else the demo's, rate)")
    parser.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=None,
                        help="timesteps T of the input code (default: the T the --network "
                             "file records; else the demo's: digits 32, mnist 25)")
    parser.add_argument("--network", type=flag_input_file,
                        help="the demo's network saved by Network.save (e.g. "
                             "build/demo-mnist/network.npz from make demo); needs one --demo "
                             "(default: train it as the demo trains it)")
    parser.add_argument("--epochs", type=flag_int(1, 1000), default=None,
                        help="MNIST training epochs when the network is trained here (default "
                             "the demo's, 30)")
    parser.add_argument("--events", action="store_true",
                        help="send two-byte EVENTS frames and a RESULT request per image, as "
                             "the driver did before protocol version 4 (default: one-byte "
                             "SPIKES frames, the last an INFER whose reply is the result)")
    parser.add_argument("--pixels", action="store_true",
                        help="build the on-chip input encoder (the demo's code, or --encoder, "
                             "over its T) and send each image once as 8-bit PIXELS frames, "
                             "the last one's reply the result (protocol version 5; default: "
                             "the host sends the spikes)")
    parser.add_argument("--scan", type=flag_int(*SCAN_RANGE), default=8,
                        help="with --pixels: inputs the encoder examines per cycle, k "
                             "(default 8)")
    parser.add_argument("--out", type=flag_output_dir, default="build/throughput",
                        help="where results.json and the Verilator builds go (default "
                             "build/throughput)")
    return parser


def run(args):
    """``spikefab throughput``: measure and print the table."""
    from spikefab.studies import link_throughput as study
    from spikefab.studies.report import table

    if args.pixels and args.events:
        raise fail("--pixels and --events are two ways to send the images; choose one")
    if args.network is not None and len(args.demo) != 1:
        raise fail(f"--network names one demo's network; give one --demo, not "
                   f"{' '.join(args.demo)}")
    if args.network is not None:     # the code and T the file records, unless given
        network = read_network(args.network)
        input_code(args, network, args.network)
        if network[0].direct and not args.pixels:
            raise fail(f"--network {args.network} has a direct first layer: its images go up "
                       f"as values, in PIXELS frames (add --pixels); spikes cannot carry them")
    clocks = clocks_of(args)
    out = make_output_dir(args.out)
    bauds = list(dict.fromkeys(args.baud))
    try:
        runs = study.run(args.demo, args.board, images=args.images, bauds=bauds,
                         networks={args.demo[0]: args.network} if args.network else None,
                         epochs=args.epochs, encoder=args.encoder, steps=args.steps, out=out, cache_dir=out / "verilator",
                         progress=True, clocks=clocks, events=args.events,
                         scan=args.scan if args.pixels else None)
    except ValueError as error:                # a rate the board clock cannot make, a bad file
        raise fail(f"this run cannot be made: {error}") from None
    (out / "results.json").write_text(json.dumps([r.to_json() for r in runs], indent=1) + "\n")
    header, rows = study.table_rows(runs)
    print(table(header, rows))
    for r in runs:
        if r.pll:
            print(f"{r.board}: at its {r.clock_mhz:g} MHz PLL clock, {r.baud:,} baud (divisor "
                  f"{r.divisor}); the PLL itself is not simulated")
    print("end to end: images through the real host driver (Device.infer, as spikefab run; "
          "PIXELS: Device.infer_pixels), simulated time at the board clock (or PLL clock), "
          "UART cycle-exact; host and USB latency per request not included. compute only: the "
          "cycle model's cycles of each image alone (first input event to result; PIXELS: "
          "from the encoder's start, its events as it makes them) at the board clock.")
    header, rows = study.plan_rows(runs)
    print("\nwhat the next steps of the link would give, end to end images/s (arithmetic from "
          "the split above, not measured):")
    print(table(header, rows))
    print(f"results: {out / 'results.json'}")
    if not all(r.agree for r in runs):
        raise fail("a device answer differs from the golden or cycle model (results.json)")
    return runs
