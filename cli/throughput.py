"""``spikefab throughput``: images per second end to end through each board's host link
(the real host driver over the Verilator model of the board's host link, simulated time at
the board clock, the UART cycle-exact), beside the compute-only µs per image, for the digits
and MNIST demo networks (:mod:`spikefab.studies.link_throughput`)."""

import json

from spikefab.cli.args import fail, flag_input_file, flag_int, flag_output_dir, make_output_dir
from spikefab.cli.board_options import BOARD_NAMES, MAX_STEPS
from spikefab.model.encoders import HARDWARE_ENCODERS

__all__ = ["add_arguments", "run"]


def _baud(text):
    """``--baud``: a rate in [1200, 3000000], or ``default`` (the board's)."""
    if text == "default":
        return None
    return flag_int(1200, 3_000_000)(text)


def add_arguments(parser):
    """``spikefab throughput``'s options."""
    parser.add_argument("--demo", choices=("digits", "mnist"), nargs="+",
                        default=["digits", "mnist"],
                        help="the demo networks to run (default digits mnist)")
    parser.add_argument("--board", choices=BOARD_NAMES, nargs="+", default=list(BOARD_NAMES),
                        help=f"the boards: their clock, UART rate and the demo's configuration "
                             f"for them (default {' '.join(BOARD_NAMES)})")
    parser.add_argument("--baud", type=_baud, nargs="+", default=[None],
                        help="UART rates to measure, each in [1200, 3000000] or 'default' "
                             "(the board's: icebreaker 3000000, ulx3s 1000000, orangecrab "
                             "115200); e.g. --baud 115200 default (default: default)")
    parser.add_argument("--images", type=flag_int(1, 1000), default=3,
                        help="test images per run, coded as the demo codes them (or by "
                             "--encoder) (default 3; time is simulated, so a few are exact)")
    parser.add_argument("--encoder", choices=HARDWARE_ENCODERS, default=None,
                        help="input code of the test images: rate or latency (time to first "
                             "spike), as spikefab train --encoder; for a --network trained so "
                             "(default: the demo's, rate)")
    parser.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=None,
                        help="timesteps T of the input code (default the demo's: digits 32, "
                             "mnist 25)")
    parser.add_argument("--network", type=flag_input_file,
                        help="the demo's network saved by Network.save (e.g. "
                             "build/demo-mnist/network.npz from make demo); needs one --demo "
                             "(default: train it as the demo trains it)")
    parser.add_argument("--epochs", type=flag_int(1, 1000), default=None,
                        help="MNIST training epochs when the network is trained here (default "
                             "the demo's, 30)")
    parser.add_argument("--out", type=flag_output_dir, default="build/throughput",
                        help="where results.json and the Verilator builds go (default "
                             "build/throughput)")
    return parser


def run(args):
    """``spikefab throughput``: measure and print the table."""
    from spikefab.studies import link_throughput as study
    from spikefab.studies.report import table

    if args.network is not None and len(args.demo) != 1:
        raise fail(f"--network names one demo's network; give one --demo, not "
                   f"{' '.join(args.demo)}")
    out = make_output_dir(args.out)
    bauds = list(dict.fromkeys(args.baud))
    try:
        runs = study.run(args.demo, args.board, images=args.images, bauds=bauds,
                         networks={args.demo[0]: args.network} if args.network else None,
                         epochs=args.epochs, encoder=args.encoder, steps=args.steps, out=out, cache_dir=out / "verilator",
                         progress=True)
    except ValueError as error:                # a rate the board clock cannot make, a bad file
        raise fail(f"this run cannot be made: {error}") from None
    (out / "results.json").write_text(json.dumps([r.to_json() for r in runs], indent=1) + "\n")
    header, rows = study.table_rows(runs)
    print(table(header, rows))
    print("end to end: images through the real host driver (Device.infer, as spikefab run), "
          "simulated time at the board clock, UART cycle-exact; host and USB latency per "
          "request not included. compute only: the cycle model's cycles of each image alone "
          "(first input event to result) at the board clock.")
    header, rows = study.plan_rows(runs)
    print("\nwhat the next steps of the link would give, end to end images/s (arithmetic from "
          "the split above, not measured):")
    print(table(header, rows))
    print(f"results: {out / 'results.json'}")
    if not all(r.agree for r in runs):
        raise fail("a device answer differs from the golden or cycle model (results.json)")
    return runs
