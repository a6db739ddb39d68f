"""``spikefab bench``: the benchmark tables of :mod:`spikefab.studies.bench`, printed as
Markdown. The golden-model figure is per core: :func:`spikefab.cli.main` pins the BLAS
threads to one before NumPy loads."""

from spikefab.cli.args import flag_float, flag_int

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab bench``'s options."""
    parser.add_argument("--batch", type=flag_int(1, 1 << 16), default=256,
                        help="samples per simulate() call (default 256)")
    parser.add_argument("--steps", type=flag_int(1, 1 << 16), default=25,
                        help="timesteps per sample T (default 25)")
    parser.add_argument("--activity", type=flag_float(0, 1), default=0.10,
                        help="input spike probability (default 0.1)")
    parser.add_argument("--repeats", type=flag_int(1, 1000), default=5,
                        help="timed runs, the best is reported (default 5)")
    parser.add_argument("--samples", type=flag_int(1, 1 << 16), default=16,
                        help="samples run through the cycle model per network (default 16)")
    parser.add_argument("--lanes", type=flag_int(1, 256), default=8,
                        help="PEs per layer, capped at N (default 8)")
    parser.add_argument("--densities", type=flag_float(0, 1, low_open=True), nargs="+",
                        default=[0.5, 0.2, 0.1], help="weight densities (default 0.5 0.2 0.1)")
    parser.add_argument("--cosim", choices=["none", "small", "all"], default="all",
                        help="co-simulation runs: none, the 64-128-10 network, or also "
                             "784-256-10 under Verilator (default all)")
    return parser


def run(args):
    """``spikefab bench``: print the benchmark tables."""
    from spikefab.studies import bench
    return bench.run(batch=args.batch, steps=args.steps, activity=args.activity,
                     repeats=args.repeats, samples=args.samples, lanes=args.lanes,
                     densities=args.densities, cosim=args.cosim)
