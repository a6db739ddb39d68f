"""``spikefab codesign``: the co-design sweep of :mod:`spikefab.studies.codesign` (beta x
threshold x surrogate slope on MNIST; accuracy, activity, cycles, Pareto front). The
defaults that depend on ``--quick`` are filled and the flags checked together up front (one
``error: …`` line naming them)."""

from spikefab.cli.args import fail, flag_float, flag_int, flag_output_dir, make_output_dir
from spikefab.model.cycles import LayerConfig
from spikefab.model.memory import FORMATS
from spikefab.model.network import W_BITS_RANGE
from spikefab.model.train import LEAK_CHOICES, SHIFT_RANGE
from spikefab.studies import codesign
from spikefab.studies.codesign import (BUNDLED, DEFAULT_BETAS, DEFAULT_EPOCHS, DEFAULT_IMAGES,
                                       DEFAULT_SLOPES, DEFAULT_TEST, DEFAULT_THRESHOLDS,
                                       DEFAULT_TRAIN, QUICK_BETAS, QUICK_EPOCHS, QUICK_IMAGES,
                                       QUICK_TEST, QUICK_THRESHOLDS, QUICK_TRAIN)

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab codesign``'s options."""
    parser.add_argument("--betas", type=flag_float(0, 1), nargs="+", default=None,
                        help="decays beta to sweep (default 0.5 0.75 0.875 0.9375 1; "
                             "0.875 1 with --quick)")
    parser.add_argument("--thresholds", type=flag_float(0, 1e6, low_open=True), nargs="+",
                        default=None,
                        help="thresholds (float-weight units, snnTorch's) to sweep (default "
                             "0.5 1 1.5 2 3; 0.5 1 with --quick)")
    parser.add_argument("--slopes", type=flag_float(0, 1e6, low_open=True), nargs="+",
                        default=list(DEFAULT_SLOPES),
                        help="surrogate slopes to sweep (default 25)")
    parser.add_argument("--surrogate", choices=("fast_sigmoid", "arctan"),
                        default="fast_sigmoid", help="surrogate gradient (default fast_sigmoid)")
    parser.add_argument("--leak-mode", choices=LEAK_CHOICES, default="shift",
                        help="hardware leak beta maps to (default shift: 1 - 2**-k)")
    parser.add_argument("--epochs", type=flag_int(1, 1000), default=None,
                        help=f"training epochs per point (default {DEFAULT_EPOCHS}, "
                             f"{QUICK_EPOCHS} with --quick)")
    parser.add_argument("--train", type=flag_int(10, BUNDLED - 10), default=None,
                        help=f"training images of the 5,000 bundled (default {DEFAULT_TRAIN}, "
                             f"{QUICK_TRAIN} with --quick)")
    parser.add_argument("--test", type=flag_int(10, BUNDLED - 10), default=None,
                        help=f"test images (default {DEFAULT_TEST}, {QUICK_TEST} with --quick)")
    parser.add_argument("--images", type=flag_int(1, BUNDLED), default=None,
                        help=f"test images for the cycle figures (default {DEFAULT_IMAGES}, "
                             f"{QUICK_IMAGES} with --quick)")
    parser.add_argument("--steps", type=flag_int(1, 1000), default=25,
                        help="timesteps T (default 25)")
    parser.add_argument("--hidden", type=flag_int(1, 4096), default=128,
                        help="hidden neurons (default 128)")
    parser.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=4,
                        help="weight bits (default 4)")
    parser.add_argument("--shift", type=flag_int(*SHIFT_RANGE), default=1,
                        help="training augmentation: random shifts of up to this many pixels "
                             "(default 1)")
    parser.add_argument("--lanes", type=flag_int(1, 4096), default=128,
                        help="hidden layer: accumulate lanes P, capped at its size (default 128, "
                             "as spikefab compare)")
    parser.add_argument("--sweep-lanes", type=flag_int(1, 4096), default=8,
                        help="hidden layer: LIF sweep lanes S, a divisor of P (default 8)")
    parser.add_argument("--format", choices=FORMATS, default="dense",
                        help="weight format (default dense)")
    parser.add_argument("--tolerance", type=flag_float(0, 100), default=3.0,
                        help="accuracy points the finding may give up (default 3)")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                        help="seed of the split and the training (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="a small run: 500 / 100 images, 3 epochs, beta 0.875 1 x "
                             "threshold 0.5 1, 20 images for the cycles")
    parser.add_argument("--out", type=flag_output_dir, default="build/codesign",
                        help="output folder (default build/codesign)")
    return parser


def settle(args):
    """Fill the defaults that depend on ``--quick`` and check the flags together; returns the
    study's settings."""
    quick = args.quick
    for name, full, small in (("betas", DEFAULT_BETAS, QUICK_BETAS),
                              ("thresholds", DEFAULT_THRESHOLDS, QUICK_THRESHOLDS),
                              ("epochs", DEFAULT_EPOCHS, QUICK_EPOCHS),
                              ("train", DEFAULT_TRAIN, QUICK_TRAIN),
                              ("test", DEFAULT_TEST, QUICK_TEST),
                              ("images", DEFAULT_IMAGES, QUICK_IMAGES)):
        if getattr(args, name) is None:
            value = small if quick else full
            setattr(args, name, list(value) if isinstance(value, tuple) else value)
    for name in ("betas", "thresholds", "slopes"):
        setattr(args, name, list(dict.fromkeys(getattr(args, name))))
    if args.train + args.test > BUNDLED:
        raise fail(f"--train {args.train} + --test {args.test} exceed the 5,000 bundled "
                    f"MNIST images")
    if args.images > args.test:
        raise fail(f"--images {args.images} is more than the --test {args.test} images")
    try:
        LayerConfig(min(args.lanes, args.hidden), args.format, 16, args.sweep_lanes)
    except ValueError as error:
        raise fail(f"--lanes {args.lanes} / --sweep-lanes {args.sweep_lanes}: {error}") \
            from None
    return codesign.CoDesign(
        betas=args.betas, thresholds=args.thresholds, slopes=args.slopes,
        surrogate=args.surrogate, leak_mode=args.leak_mode, epochs=args.epochs,
        train=args.train, test=args.test, images=args.images, steps=args.steps,
        hidden=args.hidden, w_bits=args.w_bits, shift=args.shift, lanes=args.lanes,
        sweep_lanes=args.sweep_lanes, format=args.format, tolerance=args.tolerance,
        seed=args.seed, out=args.out)


def run(args):
    """``spikefab codesign``: the sweep; returns its summary dict (also ``codesign.json``)."""
    settings = settle(args)
    make_output_dir(settings.out)
    return codesign.run(settings)
