"""``spikefab soak`` / ``make soak``: thousands of random network x input co-simulations under
Verilator, each compared with the golden and cycle models (:mod:`spikefab.sim.soak`: what is
drawn, how cases are batched per build). A mismatch ends in ``error: …`` after the failing
networks' replay commands (``spikefab soak … --only K``) are printed."""

import secrets
from pathlib import Path

from spikefab.cli.args import flag_int, flag_output_dir
from spikefab.sim.soak import DEFAULT_PER_BUILD

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab soak``'s options."""
    parser.add_argument("--cases", type=flag_int(1, 10_000_000), default=10_000,
                        help="cases (samples on random networks) in all (default 10000)")
    parser.add_argument("--seed", type=flag_int(0, (1 << 63) - 1), default=None,
                        help="seed of the run (default: a fresh random one, printed)")
    parser.add_argument("--per-build", type=flag_int(1, 100_000), default=DEFAULT_PER_BUILD,
                        help=f"samples per random network / Verilator build "
                             f"(default {DEFAULT_PER_BUILD})")
    parser.add_argument("--only", type=flag_int(0, 10_000_000), default=None,
                        help="replay network K of the run alone (default: run every network)")
    parser.add_argument("--jobs", type=flag_int(1, 64), default=1,
                        help="builds in parallel (default 1; each Verilator build already "
                             "uses every core)")
    parser.add_argument("--out", type=flag_output_dir, default=Path("build/soak"),
                        help="folder for the summary and failing networks (default build/soak)")
    parser.add_argument("--keep", action="store_true",
                        help="keep every Verilator build folder (OUT/work)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def run(args):
    """Run the soak; mismatches end in ``error: …`` after the replay commands are printed."""
    from spikefab.sim.soak import soak
    seed = args.seed if args.seed is not None else secrets.randbelow(1 << 31)
    try:
        summary = soak(seed, args.cases, per_build=args.per_build, out=args.out,
                       only=args.only, jobs=args.jobs, progress=not args.no_progress,
                       keep=args.keep)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    if summary["mismatched_cases"]:
        raise SystemExit(f"error: {summary['mismatched_cases']} case(s) differ from the golden "
                         f"or cycle model (seed {seed}); the failing networks and their replay "
                         f"commands are in {args.out}")
    return summary
