"""``python -m spikefab.cli.synth_sweep``: the synthesis sweep of
:mod:`spikefab.studies.synth_sweep` (the 784-128-10 reference network's board top through
yosys ``synth_ecp5`` for every lane count and weight format). Not a ``spikefab`` command: a
maintainer's measurement, run as a module.

    python -m spikefab.cli.synth_sweep --out build/sweep

Exit status 1 when a point failed in yosys or needed a workaround (a configuration the board
top refuses at elaboration is reported, not counted).
"""

import argparse
import sys

from spikefab.model import FORMATS
from spikefab.studies import synth_sweep

__all__ = ["add_arguments", "run", "parser", "main"]


def add_arguments(parser):
    """The sweep's options."""
    parser.add_argument("--out", default="build/sweep", help="output folder")
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 128, 10])
    parser.add_argument("--lanes", type=int, nargs="+", default=list(synth_sweep.LANES))
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--queue-depth", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=900,
                        help="seconds per yosys run before the point is given up")
    parser.add_argument("--baud", type=int, default=None,
                        help="the host link's UART rate (default: the ULX3S's default baud, "
                             "1000000)")
    return parser


def parser():
    return add_arguments(argparse.ArgumentParser(
        prog="python -m spikefab.cli.synth_sweep",
        description=synth_sweep.__doc__.split("\n\n")[0]))


def run(args):
    """The sweep for parsed ``args``; returns the exit status (1 when a point failed)."""
    records = synth_sweep.run(args.out, sizes=args.sizes, lanes=args.lanes,
                              formats=args.formats, queue_depth=args.queue_depth,
                              timeout=args.timeout, baud=args.baud)
    return 1 if synth_sweep.failed(records) else 0


def main(argv=None):
    return run(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
