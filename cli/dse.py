"""``spikefab dse`` / ``make dse``: design-space exploration on Dask (:mod:`spikefab.dse.sweep`:
the stages, the distribution, the cache). A sweep specification file (or ``--preset``) in,
Pareto fronts, the LHR study and the report out in ``--out``; a specification that cannot be
used, a missing Dask or an unreachable scheduler ends in one ``error: …`` line."""

from pathlib import Path

from spikefab.cli.args import flag_int, flag_output_dir, flag_scheduler

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab dse``'s options."""
    from spikefab.dse.sweep import PRESETS
    parser.add_argument("spec", nargs="?", default=None,
                        help="sweep specification (.yaml, .yml or .toml); default: --preset")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="digits",
                        help="built-in sweep used without SPEC (default digits)")
    parser.add_argument("--scheduler", type=flag_scheduler, default="local",
                        help="local (a LocalCluster, default), serial, or tcp://host:port")
    parser.add_argument("--workers", type=flag_int(1, 256), default=None,
                        help="LocalCluster worker processes (default: one per core)")
    parser.add_argument("--out", type=flag_output_dir, default=Path("build/dse"),
                        help="output folder (default build/dse)")
    parser.add_argument("--cache", type=flag_output_dir, default=None,
                        help="result cache folder (default OUT/cache)")
    parser.add_argument("--no-cache", action="store_true", help="compute everything again")
    parser.add_argument("--no-dashboard", action="store_true",
                        help="LocalCluster without the Dask dashboard")
    return parser


def run(args):
    """Run the sweep, print the report; errors end in ``error: …``."""
    from spikefab.dse.spec import SpecError, load_spec
    from spikefab.dse.report import report_markdown
    from spikefab.dse.sweep import PRESETS, SchedulerError, run_sweep
    try:
        spec = load_spec(args.spec if args.spec is not None else PRESETS[args.preset])
    except SpecError as error:
        raise SystemExit(f"error: {error}") from None
    cache = None if args.no_cache else (args.cache or args.out / "cache")
    try:
        result = run_sweep(spec, scheduler=args.scheduler, workers=args.workers, out=args.out,
                           cache=cache, dashboard=not args.no_dashboard)
    except (SpecError, SchedulerError) as error:
        raise SystemExit(f"error: {error}") from None
    print(report_markdown(result, spec))
    print(f"written: {args.out}/points.csv, points.json, pareto.md, pareto.json, fronts.png, "
          f"lhr.md, report.md")
    return 0
