"""``make verilog``: write the Verilog of each hardware block for one configuration.

The default configuration is the built-in 64-128-10 reference network
(:func:`spikefab.model.reference_network`) with 4 PEs per layer, 4-bit weights, the ``csc``
format and 16-entry queues: ``accelerator.v`` holds the whole network, and the four block
files hold the blocks of its first layer (``--layer`` picks another). Every file starts with
a header comment recording the configuration and the command that made it. Override from
the command line, e.g.::

    python -m spikefab.hw.generate --lanes 8 --format bitmap --w-bits 8
    make verilog VERILOG_ARGS="--lanes 8 --format bitmap"
"""

import argparse
import shlex
import sys
from importlib.metadata import version
from pathlib import Path

from spikefab.model import (FORMATS, LEAK_MODES, RESET_MECHANISMS, RESET_TIMINGS,
                              HardwareConfig, compile_weights, reference_network)
from spikefab.model.checks import flag_float, flag_int, flag_output_dir
from spikefab.model.cycles import QUEUE_DEPTH_RANGE
from spikefab.model.network import MUL_FRAC_RANGE, V_BITS_RANGE, W_BITS_RANGE

from .accelerator import Accelerator
from .event_queue import EventQueue
from .events import addr_bits_for
from .lif_core import LIFCore
from .pe_array import PEArray, accumulator_bits
from .verilog import convert
from .weight_memory import WeightMemory

__all__ = ["generate_blocks", "add_arguments", "run", "main"]


def build_network(args):
    """The configured network: the reference network with the neuron options applied to
    every layer."""
    from spikefab.model import Network
    network = reference_network(tuple(args.sizes), density=args.density, w_bits=args.w_bits,
                                seed=args.seed)
    if not 0 <= args.layer < len(network):
        raise SystemExit(f"error: --layer {args.layer} is out of range; allowed range is "
                         f"[0, {len(network) - 1}]")
    neuron = {"leak": args.leak, "reset": args.reset, "timing": args.timing}
    if args.leak == "shift":
        neuron["k"] = args.k
    elif args.leak == "mul":
        neuron.update(m=args.m, f=args.f)
    return Network([layer.replace(v_bits=args.v_bits, **neuron) for layer in network])


def generate_blocks(layer, *, lanes, fmt, queue_depth, out, header):
    """Write ``event_queue.v``, ``weight_memory.v``, ``pe_array.v`` and ``lif_core.v`` for
    ``layer`` into ``out``; return the paths."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    image = compile_weights(layer, lanes, fmt)
    acc_bits = accumulator_bits(layer.w_bits, layer.fan_in)
    blocks = {
        "event_queue": EventQueue(addr_bits_for(layer.fan_in), queue_depth),
        "weight_memory": WeightMemory(image),
        "pe_array": PEArray(lanes=lanes, rows=image.rows, w_bits=layer.w_bits,
                            acc_bits=acc_bits),
        "lif_core": LIFCore(layer, lanes=lanes, acc_bits=acc_bits),
    }
    paths = []
    for name, block in blocks.items():
        path = out / f"{name}.v"
        path.write_text(convert(block, name, header=header))
        paths.append(path)
    return paths


#: Largest layer the command line accepts (the generator's address width allows more; the
#: boards' host link addresses 16384 inputs).
MAX_NEURONS = 65535


def add_arguments(p):
    """The options of ``spikefab verilog`` (and ``python -m spikefab.hw.generate``)."""
    p.add_argument("--out", type=flag_output_dir, default="build/verilog",
                   help="output folder (default build/verilog)")
    p.add_argument("--sizes", type=flag_int(1, MAX_NEURONS), nargs="+", default=[64, 128, 10],
                   help="reference network sizes N0 N1 ... (default 64 128 10)")
    p.add_argument("--layer", type=flag_int(0, MAX_NEURONS), default=0,
                   help="which layer's blocks to write (default 0)")
    p.add_argument("--density", type=flag_float(0, 1, low_open=True), default=0.5,
                   help="weight density (0, 1] (default 0.5)")
    p.add_argument("--seed", type=flag_int(0, 2**32 - 1), default=1,
                   help="reference network seed")
    p.add_argument("--lanes", type=flag_int(1, 256), default=4, help="PEs P (default 4)")
    p.add_argument("--format", choices=FORMATS, default="csc", help="weight format")
    p.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=4,
                   help="weight width (default 4)")
    p.add_argument("--v-bits", type=flag_int(*V_BITS_RANGE), default=16,
                   help="membrane width (default 16)")
    p.add_argument("--queue-depth", type=flag_int(*QUEUE_DEPTH_RANGE), default=16,
                   help="event queue depth (default 16)")
    p.add_argument("--leak", choices=LEAK_MODES, default="shift")
    p.add_argument("--k", type=flag_int(0, V_BITS_RANGE[1] - 1), default=3,
                   help="shift leak k (default 3)")
    p.add_argument("--m", type=flag_int(0, 1 << MUL_FRAC_RANGE[1]), default=7,
                   help="mul leak multiplier m (default 7)")
    p.add_argument("--f", type=flag_int(*MUL_FRAC_RANGE), default=3,
                   help="mul leak fraction bits f (default 3)")
    p.add_argument("--reset", choices=RESET_MECHANISMS, default="subtract")
    p.add_argument("--timing", choices=RESET_TIMINGS, default="immediate")
    return p


def parser():
    p = argparse.ArgumentParser(prog="python -m spikefab.hw.generate",
                                description=__doc__.split("\n")[0])
    return add_arguments(p)


def run(args, command="spikefab verilog"):
    """Write the Verilog files for the parsed ``args``; every error ends in one line."""
    if len(args.sizes) < 2:
        raise SystemExit(f"error: --sizes needs at least two sizes (inputs, then one per "
                         f"layer), not {len(args.sizes)}")
    try:
        network = build_network(args)
        layer = network[args.layer]
        config = (f"the {'-'.join(map(str, args.sizes))} reference network (seed {args.seed}, "
                  f"density {args.density}), blocks of layer {args.layer}: {layer.neurons} "
                  f"neurons, fan-in {layer.fan_in}, w_bits {layer.w_bits}, v_bits "
                  f"{layer.v_bits}, theta {layer.theta}, leak {layer.leak} (k={layer.k}, "
                  f"m={layer.m}, f={layer.f}), reset {layer.reset}, timing {layer.timing}; "
                  f"P = {args.lanes}, format {args.format}, queue depth {args.queue_depth}")
        header = (f"spikefab {version('spikefab')} - generated Verilog\n"
                  f"configuration: {config}\n"
                  f"command: {command} {shlex.join(getattr(args, 'argv', []))}")
        paths = generate_blocks(layer, lanes=args.lanes, fmt=args.format,
                                queue_depth=args.queue_depth, out=args.out, header=header)
        hardware = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format,
                                          queue_depth=args.queue_depth)
        path = Path(args.out) / "accelerator.v"
        path.write_text(convert(Accelerator(network, hardware), "accelerator", header=header))
        paths.append(path)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: this configuration cannot be generated: {error}; change the "
                         f"option that sets it (see --help)") from None
    except OSError as error:
        raise SystemExit(f"error: cannot write into --out {args.out}: {error.strerror or error}") \
            from None
    print(f"configuration: {config}")
    for path in paths:
        print(f"wrote {path}")
    return paths


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.argv = argv
    return run(args, command="python -m spikefab.hw.generate")


if __name__ == "__main__":
    main()
