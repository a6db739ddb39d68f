"""The options shared by the board commands ``spikefab synth``, ``spikefab prog`` and
``spikefab run`` (:mod:`spikefab.cli.synth`, :mod:`spikefab.cli.prog`, :mod:`spikefab.cli.run`),
and the network they select.

``make synth BOARD=icebreaker``, ``make prog BOARD=…`` and ``make run BOARD=… PORT=…`` call
them. The network is the built-in digits-sized default (the 64-128-10 reference network with
4-bit weights, 50 % of them kept, balanced over the PE lanes) unless ``--network FILE.npz``
names one saved with :meth:`spikefab.model.Network.save` (e.g. the one a report wrote, with
the command that rebuilds its design: :mod:`spikefab.boards.rebuild`). ``--lanes`` and
``--sweep-lanes`` take one value or one per layer; ``--placement`` places the fully connected
layers' neurons on the lanes (:mod:`spikefab.model.placement`). ``--exit`` (``synth`` and
``run``; :func:`spikefab.cli.args.flag_exit`) is the early-exit rule built into the
bitstream; ``run`` checks it against the device's identity, or takes it from there.

Every error a user can cause ends in one line naming the flag and the allowed values: a bad
flag value (out of range, ``--sizes`` with one size, a lane count per layer that does not
match the network, a configuration the flags do not make) is refused by argparse, usage and
one line, exit status 2; a network file that cannot be read, a design that does not fit and a
tool that fails each get an ``error: …`` line saying what to do (exit status 1).
"""

from spikefab.cli.args import (SizesAction, add_exit_argument, fail, flag_float,
                               flag_input_file, flag_int, flag_output_dir, input_code)
from spikefab.model import FORMATS, HardwareConfig, Network, reference_network
from spikefab.model.cycles import QUEUE_DEPTH_RANGE
from spikefab.model.encoders import HARDWARE_ENCODERS, SCAN_RANGE
from spikefab.model.placement import PLACEMENTS

__all__ = ["BOARD_NAMES", "MAX_NEURONS", "MAX_STEPS", "add_arguments", "baud_of", "fail",
           "network_and_config", "read_network", "read_spikes"]

BOARD_NAMES = ("icebreaker", "ulx3s", "orangecrab")

#: The host link addresses at most 16384 inputs and counts steps in 16 bits.
MAX_NEURONS = 1 << 14
MAX_STEPS = (1 << 16) - 1
#: ``--steps`` when neither the option nor the ``--network`` file gives T.
DEFAULT_STEPS = 16


def _refuse(args, message):
    """End with argparse's usage and ``error: message`` (exit status 2: a bad flag value),
    or with one ``error: …`` line when ``args`` did not come from the parser."""
    parser = getattr(args, "board_parser", None)
    if parser is not None:
        parser.error(message)
    raise fail(message)


def _one_or_each(values):
    """A flag of one value (the same everywhere) or one per layer, as
    :meth:`~spikefab.model.HardwareConfig.uniform` takes it."""
    if values is None:
        return None
    return values[0] if len(values) == 1 else list(values)


def network_and_config(args):
    """The network (``--network`` file or the reference network of ``--sizes``) and its
    hardware configuration; ``--lanes`` defaults to 2 on the iCEBreaker, 8 elsewhere, and
    ``--steps`` to the T the ``--network`` file records (a line says so), else 16.
    ``--lanes`` and ``--sweep-lanes`` are one value (capped at each layer's size; the sweep
    lanes the largest divisor of each layer's lanes up to it) or one per layer (exactly).

    Raises ``SystemExit`` with one line naming the flag when the file cannot be read, and
    argparse's usage and one line (exit status 2) when the flags do not make a configuration
    for the network."""
    if args.lanes is None:
        args.lanes = [2 if args.board == "icebreaker" else 8]
    elif isinstance(args.lanes, int):                     # the Python API's single value
        args.lanes = [args.lanes]
    lanes = _one_or_each(args.lanes)
    if args.network:
        network = read_network(args.network)
        if network.n_inputs > MAX_NEURONS:
            raise fail(f"--network {args.network} has {network.n_inputs} inputs; the host "
                       f"link addresses at most {MAX_NEURONS}")
    else:
        if len(args.sizes) < 2:
            _refuse(args, _sizes_message(args.sizes))
        try:
            network = reference_network(tuple(args.sizes), w_bits=4, density=0.5,
                                        lanes=lanes if isinstance(lanes, int) else None)
        except (ValueError, TypeError) as error:
            raise fail(f"--sizes {' '.join(map(str, args.sizes))}: {error}") from None
    # --steps, else the file's T (a line says so), else 16
    input_code(args, network, args.network, steps=DEFAULT_STEPS, uses=("steps",))
    if network[0].direct and hasattr(args, "scan"):           # spikefab synth
        # A direct network takes its images as values, through the encoder's direct kind.
        if args.encoder is None:
            args.encoder = "direct"
            print("on-chip encoder: direct (the network's first layer takes values)",
                  flush=True)
        elif args.encoder != "direct":
            raise fail(f"--encoder {args.encoder}: {args.network} has a direct first layer "
                       f"(x_bits = {network[0].x_bits}), whose images go in as values: "
                       f"--encoder direct (or leave --encoder out)")
        if network[0].x_bits > 8:
            raise fail(f"{args.network}: a direct first layer of x_bits = {network[0].x_bits} "
                       f"cannot take its pixels over the host link (a byte each); allowed "
                       f"range is [1, 8]")
    sweep = getattr(args, "sweep_lanes", None)
    if isinstance(sweep, int):
        sweep = [sweep]
    for flag, values in (("--lanes", args.lanes), ("--sweep-lanes", sweep)):
        if values is not None and len(values) not in (1, len(network)):
            _refuse(args, f"{flag} has {len(values)} values for a network of {len(network)} "
                          f"layers ({'-'.join(map(str, network.shape))}); give one value, or "
                          f"one per layer")
    try:
        config = HardwareConfig.uniform(network, lanes=lanes, format=args.format,
                                        queue_depth=args.queue_depth,
                                        sweep_lanes=_one_or_each(sweep),
                                        conv=getattr(args, "conv", "kernel"),
                                        placement=getattr(args, "placement", "identity"))
        config.check(network)
    except (ValueError, TypeError) as error:
        _refuse(args, f"--lanes {' '.join(map(str, args.lanes))} / --sweep-lanes "
                      f"{'(the lanes)' if sweep is None else ' '.join(map(str, sweep))} / "
                      f"--format {args.format} / --queue-depth {args.queue_depth}: {error}")
    return network, config


def read_network(path):
    """The network of ``--network path``, or one ``error: …`` line saying what to give."""
    try:
        return Network.load(path)
    except (OSError, ValueError, TypeError) as error:
        raise fail(f"--network: {error}; give a file written by Network.save (.npz)") from None


def _sizes_message(sizes):
    return (f"--sizes needs at least two sizes (inputs, then one per layer), not "
            f"{len(sizes)}; allowed: 2 or more sizes in [1, {MAX_NEURONS}]")


def add_arguments(parser, command):
    """The options of ``spikefab <command>`` for ``command`` in synth, prog, run."""
    s = parser
    s.set_defaults(board_parser=s)
    s.add_argument("--board", choices=BOARD_NAMES, default="icebreaker",
                   help=f"the board to build for: {', '.join(BOARD_NAMES)} (default "
                        f"icebreaker)")
    s.add_argument("--out", type=flag_output_dir, default="build",
                   help="build folder (default build/); the board's files go to OUT/BOARD")
    s.add_argument("--network", type=flag_input_file,
                   help="a network saved with Network.save (.npz), e.g. the one a report "
                        "wrote (default: the reference network of --sizes)")
    s.add_argument("--sizes", type=flag_int(1, MAX_NEURONS), nargs="+", default=[64, 128, 10],
                   action=SizesAction,
                   help="layer sizes of the built-in reference network, at least two "
                        "(default 64 128 10)")
    s.add_argument("--lanes", type=flag_int(1, 256), nargs="+", default=None,
                   help="PEs per layer: one value, capped at each layer's size, or one per "
                        "layer (default 2 on the iCEBreaker, 8 on ECP5 boards)")
    s.add_argument("--sweep-lanes", type=flag_int(1, 256), nargs="+", default=None,
                   help="neurons the LIF sweep updates per cycle: one value (per layer the "
                        "largest divisor of its lanes up to it) or one per layer, each a "
                        "divisor of the layer's lanes (default: the lanes)")
    s.add_argument("--format", choices=FORMATS, default="csc",
                   help=f"weight memory format: {', '.join(FORMATS)} (default csc)")
    s.add_argument("--placement", choices=PLACEMENTS, default="identity",
                   help="neuron placement of the fully connected layers: identity (neuron i "
                        "in PE lane i mod P) or balanced (the compiler spreads each column's "
                        "non-zero weights over the lanes; fixed in the bitstream, shows only "
                        "in cycles) (default identity)")
    s.add_argument("--conv", choices=("kernel", "unrolled"), default="kernel",
                   help="convolutional layers: kernel runs them on the convolution core (each "
                        "kernel stored once, --lanes across output channels, capped at them), "
                        "unrolled as fully connected layers in --format, one weight per "
                        "synapse (default kernel)")
    s.add_argument("--queue-depth", type=flag_int(*QUEUE_DEPTH_RANGE), default=16,
                   help="event queue depth (default 16)")
    s.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=None,
                   help="timesteps per sample T, the longest sample the bitstream counts "
                        "(default: the T the --network file records, as spikefab train "
                        "writes it; else 16)")
    s.add_argument("--baud", type=flag_int(1200, 12_000_000), default=None,
                   help="UART speed of the host link (default: the board's, the highest rate "
                        "its USB-UART bridge and clock make exactly: icebreaker 3000000, ulx3s "
                        "1000000, orangecrab 115200" + (
                            "; run: the rate OUT/BOARD/design.json names when spikefab synth "
                            "wrote one there" if command == "run" else "") + ")")
    if command == "synth":
        s.add_argument("--clock-mhz", type=flag_float(0, 400, low_open=True), default=None,
                       help="run the design from the FPGA's PLL at this clock (MHz), made "
                            "exactly from the board oscillator (e.g. ulx3s 75, icebreaker "
                            "24); the UART's default rate then follows it: the highest rate "
                            "the board's USB-UART bridge makes that this clock makes with an "
                            "integer divisor >= 4 (default: the board oscillator, no PLL)")
        s.add_argument("--encoder", choices=HARDWARE_ENCODERS, default=None,
                       help="build the on-chip input encoder behind the host link's PIXELS "
                            "command (docs/design.md §13): the host sends each image once as "
                            "8-bit pixels and the board makes its rate or latency spikes over "
                            "--steps steps, bit for bit as the golden model (default: none, "
                            "the host sends spikes)")
        s.add_argument("--scan", type=flag_int(*SCAN_RANGE), default=8,
                       help="with --encoder: inputs the encoder examines per cycle, k "
                            "(default 8)")
        add_exit_argument(s, help="early exit built into the bitstream (docs/design.md §2): "
                                  "none, exact (a sample ends once its class can no longer "
                                  "change) or margin:N (once the leading class is N spikes "
                                  "ahead; N at most 65535 over the host link); every sample "
                                  "then has --steps steps (default none)")
    if command == "run":
        add_exit_argument(s, default=None,
                          help="the early exit the bitstream was built with: none, exact or "
                               "margin:N; checked against the device's identity (default: "
                               "taken from the device, whose samples then have its T steps)")
    if command == "synth":
        s.add_argument("--spikes", type=flag_input_file,
                       help="the samples of the latency figure: spike trains [B, T, N0] as "
                            ".npy, or .npz with the array 'spikes' (e.g. the samples file a "
                            "report wrote); T at most --steps (default: 16 random samples "
                            "at ~15 %% input activity, T = --steps)")
        s.add_argument("--dry-run", action="store_true",
                       help="elaborate the board top and write what yosys would read "
                            "(OUT/BOARD/top.il) and design.json, without running the tools "
                            "(default: off)")
    if command == "prog":
        s.add_argument("--flash", action="store_true",
                       help="write the configuration flash (default: off, SRAM)")
    if command == "run":
        s.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB1 (no "
                                      "default: required)")
        s.add_argument("--samples", type=flag_int(1, 1 << 20), default=100,
                       help="random samples to run (default 100)")
        s.add_argument("--spikes", type=flag_input_file,
                       help="spike trains [B, T, N0]: .npy, or .npz with the array 'spikes' "
                            "(e.g. the samples file a report wrote) (default: --samples random "
                            "ones)")
        s.add_argument("--pixels", type=flag_input_file,
                       help="images [B, N0] of integer intensities for a bitstream built with "
                            "the on-chip encoder (spikefab synth --encoder): .npy, or .npz with "
                            "the array 'pixels'; sent as PIXELS frames, the golden model fed "
                            "the device's own code of them (default: such a device gets "
                            "--samples random images, others spike trains)")
    return s


def baud_of(args):
    """The UART rate of ``--baud``, else (``spikefab run``) the one ``OUT/BOARD/design.json``
    names (the bitstream ``spikefab synth`` built there), else the board's
    :attr:`~spikefab.boards.registry.Board.default_baud`; and where it came from."""
    import json

    from spikefab.boards.registry import get_board
    if args.baud is not None:
        return args.baud, "--baud"
    design = args.out / args.board / "design.json"
    if design.is_file():
        try:
            built = json.loads(design.read_text())
        except (OSError, ValueError):
            built = {}
        if built.get("board") == args.board and isinstance(built.get("baud"), int):
            return built["baud"], f"the rate of the bitstream in {design}"
    return get_board(args.board).default_baud, f"the {args.board}'s default"


def load_array(path, name, what):
    """The array in ``path``: a ``.npy``, or an ``.npz`` holding the array ``name``, given as
    ``--name`` (``what`` it should hold, for the message); one ``error: …`` line otherwise."""
    import numpy as np
    try:
        with open(path, "rb") as file:
            loaded = np.load(file, allow_pickle=False)
            if isinstance(loaded, np.lib.npyio.NpzFile):
                with loaded:
                    if name not in loaded:
                        raise ValueError(f"the .npz holds {sorted(loaded.files)}, not "
                                         f"'{name}'")
                    loaded = loaded[name]
    except (OSError, ValueError) as error:
        raise fail(f"--{name} {path}: cannot read it as {what} ({error}); give a .npy "
                   f"array or an .npz with '{name}'") from None
    return np.asarray(loaded)


def read_spikes(path, network, steps):
    """The spike trains of ``--spikes`` (``.npy``, or ``.npz`` with ``spikes``) as a
    ``[B, T, N0]`` array, checked against ``network`` and ``steps``; one ``error: …`` line
    otherwise."""
    import numpy as np
    trains = load_array(path, "spikes", "spike trains")
    if trains.ndim != 3 or trains.shape[2] != network.n_inputs or not len(trains):
        raise fail(f"--spikes {path}: shape {trains.shape}; allowed: [B, T, "
                   f"{network.n_inputs}] with B >= 1 (the network's inputs)")
    if trains.shape[1] > steps:
        raise fail(f"--spikes {path}: T = {trains.shape[1]} steps; allowed: at most --steps "
                   f"{steps}")
    if not np.isin(trains, (0, 1)).all():
        raise fail(f"--spikes {path}: allowed values are 0 and 1 (spikes)")
    return trains.astype(bool)
