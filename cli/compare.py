"""``spikefab compare``: spikefab beside Spiker+ on MNIST 784-128-10
(:mod:`spikefab.studies.compare`). The defaults that depend on ``--quick`` are filled and the
configuration is checked up front (one ``error: …`` line naming the flag); a failed check or
build ends in ``error: …`` after the report is written."""

from spikefab.cli.args import fail, flag_int, flag_output_dir, make_output_dir
from spikefab.model import FORMATS
from spikefab.model.cycles import QUEUE_DEPTH_RANGE, LayerConfig
from spikefab.studies import compare
from spikefab.studies.compare import (BOARDS, BUNDLED, DEFAULT_COSIM, DEFAULT_CURVE,
                                      DEFAULT_IMAGES, DEFAULT_STEPS, QUICK_CURVE, QUICK_IMAGES)
from spikefab.studies.report import StudyError

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab compare``'s options."""
    parser.add_argument("--lanes", type=flag_int(1, 4096), default=128,
                        help="hidden layer: accumulate lanes P, capped at its size (default 128)")
    parser.add_argument("--sweep-lanes", type=flag_int(1, 4096), default=8,
                        help="hidden layer: LIF sweep lanes S, a divisor of P (default 8)")
    parser.add_argument("--format", choices=FORMATS, default="dense",
                        help="weight format (default dense: the network is dense)")
    parser.add_argument("--queue-depth", type=flag_int(*QUEUE_DEPTH_RANGE), default=16,
                        help="event queue depth (default 16)")
    parser.add_argument("--steps", type=flag_int(1, (1 << 16) - 1), nargs="+",
                        default=list(DEFAULT_STEPS),
                        help="timesteps T, the first is the main one (default 100 25)")
    parser.add_argument("--images", type=flag_int(1, 1 << 16), default=None,
                        help=f"test images for the cycle figures (default {DEFAULT_IMAGES}, "
                             f"{QUICK_IMAGES} with --quick)")
    parser.add_argument("--curve", type=flag_int(1, 4096), nargs="+", default=None,
                        help="P of the cycles-vs-LUT curve (default 8 16 32 64 128; 8 16 with "
                             "--quick)")
    parser.add_argument("--curve-sweep-lanes", type=flag_int(1, 4096), nargs="+",
                        default=None,
                        help="S of the curve: one value or one per P (default min(P, "
                             "--sweep-lanes), the largest divisor of P below it)")
    parser.add_argument("--cosim", type=flag_int(0, 1 << 16), default=None,
                        help=f"test images co-simulated under Verilator at the first T "
                             f"(default {DEFAULT_COSIM}, 0 with --quick)")
    parser.add_argument("--boards", nargs="+", choices=[*BOARDS, "none"], default=None,
                        help="board builds (default ulx3s icebreaker; none with --quick)")
    parser.add_argument("--icebreaker-lanes", type=flag_int(1, 4096), default=8,
                        help="P of every layer of the iCEBreaker build, capped at the "
                             "layer's size (default 8)")
    parser.add_argument("--icebreaker-sweep-lanes", type=flag_int(1, 4096), default=2,
                        help="S of every layer of the iCEBreaker build, the largest divisor "
                             "of the layer's P up to it (default 2: 8 and 2 fit the UP5K)")
    parser.add_argument("--no-synth", action="store_true",
                        help="leave out synth_xilinx (no LUT6 figures)")
    parser.add_argument("--timeout", type=flag_int(10, 24 * 3600), default=3600,
                        help="seconds per synth_xilinx run (default 3600)")
    parser.add_argument("--hidden", type=flag_int(1, 4096), default=128,
                        help="hidden neurons of the reference classifier (default 128, "
                             "Spiker+'s; other sizes are not its workload)")
    parser.add_argument("--train-images", type=flag_int(10, 4990), default=4000,
                        help="training images of the 5,000 bundled (default 4000)")
    parser.add_argument("--test-images", type=flag_int(10, 4990), default=1000,
                        help="test images (default 1000)")
    parser.add_argument("--quick", action="store_true",
                        help="a small run: 20 images, curve P = 8 16, no co-simulation, no "
                             "board builds unless --boards asks")
    parser.add_argument("--out", type=flag_output_dir, default="build/compare",
                        help="output folder (default build/compare)")
    return parser


def settle(args):
    """Fill the defaults that depend on ``--quick`` and check the configuration up front (one
    line naming the flag); returns the study's settings."""
    if args.images is None:
        args.images = QUICK_IMAGES if args.quick else DEFAULT_IMAGES
    if args.curve is None:
        args.curve = list(QUICK_CURVE if args.quick else DEFAULT_CURVE)
    if args.cosim is None:
        args.cosim = 0 if args.quick else DEFAULT_COSIM
    if args.boards is None:
        args.boards = [] if args.quick else list(BOARDS)
    args.boards = [] if "none" in args.boards else list(dict.fromkeys(args.boards))
    args.steps = list(dict.fromkeys(args.steps))
    if args.train_images + args.test_images > BUNDLED:
        raise fail(f"--train-images {args.train_images} + --test-images {args.test_images} "
                    f"exceed the 5,000 bundled MNIST images")
    if args.curve_sweep_lanes and len(args.curve_sweep_lanes) not in (1, len(args.curve)):
        raise fail(f"--curve-sweep-lanes has {len(args.curve_sweep_lanes)} values for "
                    f"{len(args.curve)} curve points; give one, or one per P")
    lanes = min(args.lanes, args.hidden)
    try:
        LayerConfig(lanes, args.format, args.queue_depth, args.sweep_lanes)
    except ValueError as error:
        raise fail(f"--lanes {args.lanes} / --sweep-lanes {args.sweep_lanes}: {error}") \
            from None
    for index, p in enumerate(args.curve if args.curve_sweep_lanes else ()):
        p = min(p, args.hidden)
        s = args.curve_sweep_lanes[0 if len(args.curve_sweep_lanes) == 1 else index]
        try:
            LayerConfig(p, args.format, args.queue_depth, s)
        except ValueError as error:
            raise fail(f"--curve {p} / --curve-sweep-lanes {s}: {error}") from None
    args.curve_points = compare.curve_points(args.curve, hidden=args.hidden,
                                             sweep_lanes=args.sweep_lanes,
                                             curve_sweep_lanes=args.curve_sweep_lanes)
    args.icebreaker_config = (args.icebreaker_lanes, args.icebreaker_sweep_lanes)
    return compare.Comparison(
        lanes=args.lanes, sweep_lanes=args.sweep_lanes, format=args.format,
        queue_depth=args.queue_depth, steps=args.steps, images=args.images,
        curve=args.curve_points, cosim=args.cosim, boards=args.boards,
        icebreaker=args.icebreaker_config, synth=not args.no_synth, timeout=args.timeout,
        hidden=args.hidden, train_images=args.train_images, test_images=args.test_images,
        out=args.out)


def run(args):
    """``spikefab compare``: the comparison; returns its summary dict (also
    ``compare.json``)."""
    settings = settle(args)
    make_output_dir(settings.out)
    try:
        return compare.run(settings, options=vars(args))
    except StudyError as error:
        raise SystemExit(f"error: {error}") from None
