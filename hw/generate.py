"""``make verilog``: write the Verilog of each hardware block for one configuration.

The default configuration is the built-in 64-128-10 reference network
(:func:`spikeforge.model.reference_network`) with 4 PEs per layer, 4-bit weights, the ``csc``
format and 16-entry queues: ``accelerator.v`` holds the whole network, and the four block
files hold the blocks of its first layer (``--layer`` picks another). Every file starts with
a header comment recording the configuration and the command that made it. Override from
the command line, e.g.::

    python -m spikeforge.hw.generate --lanes 8 --format bitmap --w-bits 8
    make verilog VERILOG_ARGS="--lanes 8 --format bitmap"
"""

import argparse
import shlex
import sys
from importlib.metadata import version
from pathlib import Path

from spikeforge.model import FORMATS, LEAK_MODES, RESET_MECHANISMS, RESET_TIMINGS
from spikeforge.model import compile_weights, reference_network

from spikeforge.model import HardwareConfig

from .accelerator import Accelerator
from .event_queue import EventQueue
from .events import addr_bits_for
from .lif_core import LIFCore
from .pe_array import PEArray, accumulator_bits
from .verilog import convert
from .weight_memory import WeightMemory

__all__ = ["generate_blocks", "main"]


def build_network(args):
    """The configured network: the reference network with the neuron options applied to
    every layer."""
    from spikeforge.model import Network
    network = reference_network(tuple(args.sizes), density=args.density, w_bits=args.w_bits,
                                seed=args.seed)
    if not 0 <= args.layer < len(network):
        raise SystemExit(f"--layer {args.layer} is out of range; allowed range is "
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
    out = Path(out)
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


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="build/verilog", help="output folder")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 10],
                   help="reference network sizes N0 N1 ... (default 64 128 10)")
    p.add_argument("--layer", type=int, default=0, help="which layer of it (default 0)")
    p.add_argument("--density", type=float, default=0.5, help="weight density (default 0.5)")
    p.add_argument("--seed", type=int, default=1, help="reference network seed")
    p.add_argument("--lanes", type=int, default=4, help="PEs P (default 4)")
    p.add_argument("--format", choices=FORMATS, default="csc", help="weight format")
    p.add_argument("--w-bits", type=int, default=4, help="weight width (default 4)")
    p.add_argument("--v-bits", type=int, default=16, help="membrane width (default 16)")
    p.add_argument("--queue-depth", type=int, default=16, help="event queue depth")
    p.add_argument("--leak", choices=LEAK_MODES, default="shift")
    p.add_argument("--k", type=int, default=3, help="shift leak k (default 3)")
    p.add_argument("--m", type=int, default=7, help="mul leak multiplier m (default 7)")
    p.add_argument("--f", type=int, default=3, help="mul leak fraction bits f (default 3)")
    p.add_argument("--reset", choices=RESET_MECHANISMS, default="subtract")
    p.add_argument("--timing", choices=RESET_TIMINGS, default="immediate")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    try:
        network = build_network(args)
        layer = network[args.layer]
        config = (f"the {'-'.join(map(str, args.sizes))} reference network (seed {args.seed}, "
                  f"density {args.density}), blocks of layer {args.layer}: {layer.neurons} "
                  f"neurons, fan-in {layer.fan_in}, w_bits {layer.w_bits}, v_bits "
                  f"{layer.v_bits}, theta {layer.theta}, leak {layer.leak} (k={layer.k}, "
                  f"m={layer.m}, f={layer.f}), reset {layer.reset}, timing {layer.timing}; "
                  f"P = {args.lanes}, format {args.format}, queue depth {args.queue_depth}")
        header = (f"spikeforge {version('spikeforge')} - generated Verilog\n"
                  f"configuration: {config}\n"
                  f"command: python -m spikeforge.hw.generate "
                  f"{shlex.join(sys.argv[1:] if argv is None else argv)}")
        paths = generate_blocks(layer, lanes=args.lanes, fmt=args.format,
                                queue_depth=args.queue_depth, out=args.out, header=header)
        hardware = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format,
                                          queue_depth=args.queue_depth)
        path = Path(args.out) / "accelerator.v"
        path.write_text(convert(Accelerator(network, hardware), "accelerator", header=header))
        paths.append(path)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: {error}") from None
    print(f"configuration: {config}")
    for path in paths:
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
