"""The options shared by the board commands ``spikefab synth``, ``spikefab prog`` and
``spikefab run`` (:mod:`spikefab.cli.synth`, :mod:`spikefab.cli.prog`, :mod:`spikefab.cli.run`),
and the network they select.

``make synth BOARD=icebreaker``, ``make prog BOARD=…`` and ``make run BOARD=… PORT=…`` call
them. The network is the built-in digits-sized default (the 64-128-10 reference network with
4-bit weights, 50 % of them kept, balanced over the PE lanes) unless ``--network FILE.npz``
names one saved with :meth:`spikefab.model.Network.save`.

Every error a user can cause ends in one line naming the flag and the allowed values (bad
flags are refused by argparse before anything runs; a network file that cannot be read, a
configuration the generator refuses, a design that does not fit and a tool that fails each
get an ``error: …`` line saying what to do).
"""

from spikefab.cli.args import fail, flag_input_file, flag_int, flag_output_dir
from spikefab.model import FORMATS, HardwareConfig, Network, reference_network
from spikefab.model.cycles import QUEUE_DEPTH_RANGE

__all__ = ["BOARD_NAMES", "MAX_NEURONS", "MAX_STEPS", "add_arguments", "fail",
           "network_and_config"]

BOARD_NAMES = ("icebreaker", "ulx3s", "orangecrab")

#: The host link addresses at most 16384 inputs and counts steps in 16 bits.
MAX_NEURONS = 1 << 14
MAX_STEPS = (1 << 16) - 1


def network_and_config(args):
    """The network (``--network`` file or the reference network of ``--sizes``) and its
    hardware configuration; ``--lanes`` defaults to 2 on the iCEBreaker, 8 elsewhere.

    Raises ``SystemExit`` with one line naming the flag when the file cannot be read or the
    configuration cannot be built."""
    if args.lanes is None:
        args.lanes = 2 if args.board == "icebreaker" else 8
    if args.network:
        try:
            network = Network.load(args.network)
        except (OSError, ValueError, TypeError) as error:
            raise fail(f"--network: {error}; give a file written by Network.save (.npz)") \
                from None
        if network.n_inputs > MAX_NEURONS:
            raise fail(f"--network {args.network} has {network.n_inputs} inputs; the host "
                       f"link addresses at most {MAX_NEURONS}")
    else:
        if len(args.sizes) < 2:
            raise fail(f"--sizes needs at least two sizes (inputs, then one per layer), not "
                       f"{len(args.sizes)}")
        try:
            network = reference_network(tuple(args.sizes), w_bits=4, density=0.5,
                                        lanes=args.lanes)
        except (ValueError, TypeError) as error:
            raise fail(f"--sizes {' '.join(map(str, args.sizes))}: {error}") from None
    sweep_lanes = getattr(args, "sweep_lanes", None)
    try:
        config = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format,
                                        queue_depth=args.queue_depth, sweep_lanes=sweep_lanes)
        config.check(network)
    except (ValueError, TypeError) as error:
        raise fail(f"--lanes {args.lanes} / --sweep-lanes {sweep_lanes} / --format "
                   f"{args.format} / --queue-depth {args.queue_depth}: {error}") from None
    return network, config


def add_arguments(parser, command):
    """The options of ``spikefab <command>`` for ``command`` in synth, prog, run."""
    s = parser
    s.add_argument("--board", choices=BOARD_NAMES, default="icebreaker")
    s.add_argument("--out", type=flag_output_dir, default="build",
                   help="build folder (default build/); the board's files go to OUT/BOARD")
    s.add_argument("--network", type=flag_input_file,
                   help="a network saved with Network.save (.npz)")
    s.add_argument("--sizes", type=flag_int(1, MAX_NEURONS), nargs="+", default=[64, 128, 10],
                   help="layer sizes of the built-in reference network (default 64 128 10)")
    s.add_argument("--lanes", type=flag_int(1, 256), default=None,
                   help="PEs per layer, capped at each layer's size (default 2 on the "
                        "iCEBreaker, 8 on ECP5 boards)")
    s.add_argument("--sweep-lanes", type=flag_int(1, 256), default=None,
                   help="neurons the LIF sweep updates per cycle, per layer the largest "
                        "divisor of its lanes up to this (default: the lanes)")
    s.add_argument("--format", choices=FORMATS, default="csc")
    s.add_argument("--queue-depth", type=flag_int(*QUEUE_DEPTH_RANGE), default=16,
                   help="event queue depth (default 16)")
    s.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=16,
                   help="timesteps per sample T, the longest sample the bitstream counts "
                        "(default 16)")
    s.add_argument("--baud", type=flag_int(1200, 3_000_000), default=115200,
                   help="UART speed (default 115200)")
    if command == "prog":
        s.add_argument("--flash", action="store_true", help="write the configuration flash")
    if command == "run":
        s.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB1")
        s.add_argument("--samples", type=flag_int(1, 1 << 20), default=100,
                       help="random samples to run (default 100)")
        s.add_argument("--spikes", type=flag_input_file,
                       help=".npy of spike trains [B, T, N0] (default: random)")
    return s
