"""``spikefab verilog`` / ``make verilog``: write the Verilog of each hardware block for one
configuration (:func:`spikefab.hw.generate.write_verilog`).

The default configuration is the built-in 64-128-10 reference network
(:func:`spikefab.model.reference_network`) with 4 PEs per layer, 4-bit weights, the ``csc``
format and 16-entry queues: ``accelerator.v`` holds the whole network, and the four block
files hold the blocks of its first layer (``--layer`` picks another). Every file starts with
a header comment recording the configuration and the command that made it. Override from
the command line, e.g.::

    spikefab verilog --lanes 8 --format bitmap --w-bits 8
    make verilog VERILOG_ARGS="--lanes 8 --format bitmap"
"""

import shlex

from spikefab.cli.args import SizesAction, flag_float, flag_int, flag_output_dir
from spikefab.model import FORMATS, LEAK_MODES, RESET_MECHANISMS, RESET_TIMINGS
from spikefab.model.cycles import QUEUE_DEPTH_RANGE
from spikefab.model.network import MUL_FRAC_RANGE, V_BITS_RANGE, W_BITS_RANGE

__all__ = ["add_arguments", "run"]

#: Largest layer the command line accepts (the generator's address width allows more; the
#: boards' host link addresses 16384 inputs).
MAX_NEURONS = 65535


def add_arguments(p):
    """The options of ``spikefab verilog``: each one's help names its default."""
    p.add_argument("--out", type=flag_output_dir, default="build/verilog",
                   help="output folder (default build/verilog)")
    p.add_argument("--sizes", type=flag_int(1, MAX_NEURONS), nargs="+", default=[64, 128, 10],
                   action=SizesAction,
                   help="reference network sizes N0 N1 ...: the inputs, then the neurons of "
                        "each layer (default 64 128 10)")
    p.add_argument("--layer", type=flag_int(0, MAX_NEURONS), default=0,
                   help="which layer's blocks to write, from 0 (default 0)")
    p.add_argument("--density", type=flag_float(0, 1, low_open=True), default=0.5,
                   help="fraction of the weights kept, (0, 1] (default 0.5)")
    p.add_argument("--seed", type=flag_int(0, 2**32 - 1), default=1,
                   help="seed of the reference network's random weights (default 1)")
    p.add_argument("--lanes", type=flag_int(1, 256), default=4,
                   help="PEs per layer P (default 4)")
    p.add_argument("--format", choices=FORMATS, default="csc",
                   help="weight memory format (default csc)")
    p.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=4,
                   help="weight width in bits (default 4)")
    p.add_argument("--v-bits", type=flag_int(*V_BITS_RANGE), default=16,
                   help="membrane width in bits (default 16)")
    p.add_argument("--queue-depth", type=flag_int(*QUEUE_DEPTH_RANGE), default=16,
                   help="event queue depth in entries (default 16)")
    p.add_argument("--leak", choices=LEAK_MODES, default="shift",
                   help="membrane leak per step: none, shift (v - (v >> k)) or mul "
                        "((v * m) >> f) (default shift)")
    p.add_argument("--k", type=flag_int(0, V_BITS_RANGE[1] - 1), default=3,
                   help="shift of the shift leak, beta = 1 - 2**-k (default 3)")
    p.add_argument("--m", type=flag_int(0, 1 << MUL_FRAC_RANGE[1]), default=7,
                   help="multiplier of the mul leak, beta = m / 2**f (default 7)")
    p.add_argument("--f", type=flag_int(*MUL_FRAC_RANGE), default=3,
                   help="fraction bits of the mul leak (default 3)")
    p.add_argument("--reset", choices=RESET_MECHANISMS, default="subtract",
                   help="membrane reset after a spike: subtract the threshold or set to zero "
                        "(default subtract)")
    p.add_argument("--timing", choices=RESET_TIMINGS, default="immediate",
                   help="reset in the step of the spike (immediate) or in the next step, as "
                        "snnTorch does (delayed) (default immediate)")
    return p


def leak_text(leak, k, m, f):
    """The leak as a person reads it: ``shift, k = 3: v - (v >> 3) per step (beta 0.875)``."""
    if leak == "shift":
        return f"shift, k = {k}: v - (v >> {k}) per step (beta {1 - 2.0 ** -k:g})"
    if leak == "mul":
        return f"mul, m = {m}, f = {f}: (v * {m}) >> {f} per step (beta {m / 2 ** f:g})"
    return "none: the membrane keeps its value"


def configuration_table(args, layer):
    """What ``spikefab verilog`` generated, one row per setting (``layer``: the model layer
    whose blocks were written), as an aligned table."""
    from spikefab.studies.report import table
    rows = [
        ("network", f"{'-'.join(map(str, args.sizes))} reference network, seed {args.seed}"),
        ("weights kept", f"{100 * args.density:g} %"),
        ("blocks of", f"layer {args.layer}: {layer.neurons} neurons, fan-in {layer.fan_in}"),
        ("weights", f"{args.w_bits} bits, {args.format} format"),
        ("PEs per layer", f"P = {args.lanes}"),
        ("membrane", f"{args.v_bits} bits, threshold {layer.theta}"),
        ("leak", leak_text(args.leak, args.k, args.m, args.f)),
        ("reset", f"{args.reset}, {args.timing}"),
        ("event queue", f"{args.queue_depth} entries"),
    ]
    return table(["setting", "value"], rows, right=[])


def run(args):
    """Write the Verilog files for the parsed ``args``; every error ends in one line."""
    from spikefab.hw.generate import LayerOutOfRange, write_verilog

    try:
        written = write_verilog(
            args.out, sizes=args.sizes, layer=args.layer, density=args.density, seed=args.seed,
            lanes=args.lanes, fmt=args.format, w_bits=args.w_bits, v_bits=args.v_bits,
            queue_depth=args.queue_depth, leak=args.leak, k=args.k, m=args.m, f=args.f,
            reset=args.reset, timing=args.timing,
            command=f"spikefab verilog {shlex.join(getattr(args, 'argv', []))}")
    except LayerOutOfRange as error:
        raise SystemExit(f"error: --layer {error.layer} is out of range; allowed range is "
                         f"[0, {error.layers - 1}]") from None
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: this configuration cannot be generated: {error}; change the "
                         f"option that sets it (see --help)") from None
    except OSError as error:
        raise SystemExit(f"error: cannot write into --out {args.out}: {error.strerror or error}") \
            from None
    from spikefab.model import reference_network
    layer = reference_network(tuple(args.sizes), density=args.density, w_bits=args.w_bits,
                              seed=args.seed)[args.layer]
    print("configuration (also in each file's header comment):")
    print(configuration_table(args, layer))
    for path in written.paths:
        print(f"wrote {path}")
    return written.paths
