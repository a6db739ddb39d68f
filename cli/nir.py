"""``spikefab nir``: bring a NIR graph in (and check it in the co-simulated accelerator), or
write a spikefab network out as NIR.

``spikefab nir import model.nir`` reads the graph with :func:`spikefab.model.import_nir`
(discretization, leak, reset and scale rules in :mod:`spikefab.model.nir_io`), prints the
per-layer import report, writes ``network.npz`` and ``import.md`` to ``--out`` (default
``build/nir``), and co-simulates ``--cosim`` samples (default 10) under Verilator: random
input spike trains of ``--activity`` (or the trains of ``--spikes``, a ``.npy`` array
``[samples, T, inputs]`` of 0/1), every spike of every layer, count, class, result cycle and
counter compared with the golden and cycle models. The printed next step builds a bitstream:
``make synth BOARD=ulx3s BOARD_ARGS="--network build/nir/network.npz --lanes 8"``.

``spikefab nir export network.npz`` writes ``--out`` (default ``build/nir/model.nir``)
with :func:`spikefab.model.to_nir`.
"""

import argparse
import math
import sys
from pathlib import Path

import numpy as np

from spikefab.model import FORMATS, HardwareConfig, Network
from spikefab.cli.args import flag_float, flag_input_file, flag_int, flag_output_dir
from spikefab.model.network import V_BITS_RANGE, W_BITS_RANGE

MAX_STEPS = (1 << 16) - 1


def _flag_scale(text):
    if text in ("auto", "max-abs"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; use auto, max-abs or a "
                                         f"number > 0")
    return value


def add_arguments(parser):
    """The options of ``spikefab nir import|export``."""
    sub = parser.add_subparsers(dest="direction", required=True, metavar="import|export")
    i = sub.add_parser("import", help="read a .nir file into a network, report, co-simulate",
                       description="read a .nir file into a spikefab network")
    i.add_argument("graph", type=flag_input_file, help="the .nir file")
    i.add_argument("--out", type=flag_output_dir, default="build/nir",
                   help="output folder for network.npz and import.md (default build/nir)")
    i.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=None,
                   help="weight bits (default: the file's metadata, else the smallest width "
                        "holding integer weights, else 8)")
    i.add_argument("--v-bits", type=flag_int(*V_BITS_RANGE), default=None,
                   help="membrane bits (default: metadata, else max(16, derived))")
    i.add_argument("--scale", type=_flag_scale, default="auto",
                   help="auto (keep integers, else max-abs), max-abs, or a number > 0")
    i.add_argument("--dt", type=flag_float(0, 1e6, low_open=True), default=None,
                   help="time step (default: the graph's dt metadata, else 1e-4)")
    i.add_argument("--discretization", choices=["euler", "zoh"], default=None,
                   help="forward Euler (default, snnTorch's) or zero-order hold")
    i.add_argument("--reset", choices=["zero", "subtract"], default=None,
                   help="override the reset mechanism (default: metadata, else zero)")
    i.add_argument("--timing", choices=["immediate", "delayed"], default=None,
                   help="override the reset timing (default: metadata, else immediate)")
    i.add_argument("--leak-mode", choices=["auto", "shift", "mul"], default="auto")
    i.add_argument("--cosim", type=flag_int(0, 1 << 16), default=10,
                   help="samples to co-simulate under Verilator (default 10; 0 skips)")
    i.add_argument("--spikes", type=flag_input_file, default=None,
                   help=".npy input spike trains [samples, T, inputs] for the co-simulation")
    i.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=25,
                   help="T of the random trains (default 25)")
    i.add_argument("--activity", type=flag_float(0, 1), default=0.2,
                   help="spike probability of the random trains (default 0.2)")
    i.add_argument("--lanes", type=flag_int(1, 256), default=8,
                   help="PEs per layer of the co-simulated accelerator (default 8)")
    i.add_argument("--format", choices=FORMATS, default="csc")
    i.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0)
    e = sub.add_parser("export", help="write a network.npz as a .nir file",
                       description="write a spikefab network as a .nir file")
    e.add_argument("network", type=flag_input_file, help="a network.npz (Network.save)")
    e.add_argument("--out", type=Path, default=Path("build/nir/model.nir"),
                   help="the .nir file to write (default build/nir/model.nir)")
    e.add_argument("--dt", type=flag_float(0, 1e6, low_open=True), default=1e-4)
    return parser


def parser():
    return add_arguments(argparse.ArgumentParser(prog="python -m spikefab.cli.nir",
                                                 description=__doc__.split("\n")[0]))


def main(argv=None):
    return run(parser().parse_args(argv))


def _trains(args, network):
    if args.spikes is not None:
        try:
            trains = np.load(args.spikes, allow_pickle=False)
        except (OSError, ValueError) as error:
            raise SystemExit(f"error: --spikes {args.spikes}: not a NumPy .npy array "
                             f"({error})") from None
        if trains.ndim != 3 or trains.shape[2] != network.n_inputs:
            raise SystemExit(f"error: --spikes holds shape {trains.shape}; expected "
                             f"[samples, T, {network.n_inputs}]")
        if not np.isin(trains, (0, 1)).all():
            raise SystemExit("error: --spikes must hold only 0 and 1")
        return trains[:args.cosim].astype(np.int64)
    rng = np.random.default_rng(args.seed)
    return (rng.random((args.cosim, args.steps, network.n_inputs)) < args.activity).astype(
        np.int64)


def run(args):
    """Run ``spikefab nir`` for parsed ``args``."""
    from spikefab.model import import_nir, to_nir
    if args.direction == "export":
        try:
            network = Network.load(args.network)
        except ValueError as error:
            raise SystemExit(f"error: {error}") from None
        out = Path(args.out).resolve()
        out.parent.mkdir(parents=True, exist_ok=True)
        to_nir(network, out, dt=args.dt)
        print(f"wrote {out}: {'-'.join(map(str, network.shape))}, "
              f"{len(network)} LIF/IF layers with spikefab metadata")
        return {"nir": str(out)}

    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    try:
        imported = import_nir(args.graph, w_bits=args.w_bits, v_bits=args.v_bits,
                              scale=args.scale, dt=args.dt,
                              discretization=args.discretization, reset=args.reset,
                              timing=args.timing, leak_mode=args.leak_mode)
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: {args.graph}: {error}") from None
    network = imported.network
    network.save(out / "network.npz")
    table = imported.table()
    print(f"{args.graph} → {'-'.join(map(str, network.shape))}\n{table}")
    summary = {"network": str(out / "network.npz"), "exact": imported.exact,
               "shape": list(network.shape), "cosim_samples": 0}
    lines = [f"# NIR import of {args.graph}", "", table, ""]
    if args.cosim:
        from spikefab.sim.cosim import mismatches, run_accelerator
        trains = _trains(args, network)
        config = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format)
        print(f"co-simulating {len(trains)} samples (T = {trains.shape[1]}, P = {args.lanes}, "
              f"{args.format}) under Verilator ...")
        run_ = run_accelerator(network, config, trains, backend="verilator",
                               build_dir=out / "verilator")
        problems, golden = mismatches(network, config, trains, run_)
        if problems:
            raise SystemExit("MISMATCH between hardware and golden model: " +
                             "; ".join(problems))
        spikes = sum(int(s.sum()) for s in golden.spikes)
        message = (f"hardware = golden model = cycle model on all {len(trains)} samples: "
                   f"every spike ({spikes:,} in all), count, class, result cycle and counter")
        print(message)
        lines += [message, ""]
        summary["cosim_samples"] = len(trains)
    next_step = (f'make synth BOARD=ulx3s BOARD_ARGS="--network {args.out}/network.npz '
                 f'--lanes {args.lanes} --format {args.format}"')
    print(f"wrote {out / 'network.npz'} and {out / 'import.md'}; a bitstream: {next_step}")
    (out / "import.md").write_text("\n".join(lines + [f"Bitstream: `{next_step}`", ""]))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
