"""``spikefab nir``: bring a NIR graph in (and check it in the co-simulated accelerator), or
write a spikefab network out as NIR.

``spikefab nir import model.nir`` reads the graph with :func:`spikefab.model.import_nir`
(discretization, leak, reset and scale rules in :mod:`spikefab.model.nir_io`), prints the
per-layer import report, writes ``network.npz`` and ``import.md`` to ``--out`` (default
``build/nir``), and co-simulates ``--cosim`` samples (default 10) under Verilator: random
input spike trains of ``--activity`` (or the trains of ``--spikes``, a ``.npy`` array
``[samples, T, inputs]`` of 0/1), every spike of every layer, count, class, result cycle and
counter compared with the golden and cycle models. Before the co-simulation the same samples
run through the float reference of the graph (:func:`spikefab.model.nir_io.compare_with_reference`):
spike agreement and first-spike shift, with a warning beyond the documented bound; a
co-simulation without spikes is flagged as proving nothing. The printed next step builds a
bitstream of exactly the co-simulated design, e.g. ``spikefab synth --board ulx3s --network
build/nir/network.npz --lanes 8 --format csc --queue-depth 16 --steps 25``.

``--encoder direct`` (with ``--x-bits``, default 8) imports a model that takes its image as
a static input (snnTorch's usual pattern: the graph cannot say so) with a direct first layer
(docs/design.md §13; a graph written from a direct network says it itself); its
co-simulation is not built yet, so it needs ``--cosim 0``.

``spikefab nir export network.npz`` writes ``--out`` (default ``build/nir/model.nir``)
with :func:`spikefab.model.to_nir`.
"""

import argparse
import math
import shlex
import sys
from pathlib import Path

import numpy as np

from spikefab.model import FORMATS, HardwareConfig, Network
from spikefab.cli.args import flag_float, flag_input_file, flag_int, flag_output_dir
from spikefab.model.network import INPUT_CODES, V_BITS_RANGE, W_BITS_RANGE, X_BITS_RANGE

MAX_STEPS = (1 << 16) - 1
#: Event queue depth of the co-simulated accelerator, and of the bitstream the next step builds.
QUEUE_DEPTH = 16


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
                       description="read a .nir file into a spikefab network; its default "
                                   "co-simulation needs the sim extra (--cosim 0 skips it)")
    i.add_argument("graph", type=flag_input_file, help="the .nir file")
    i.add_argument("--out", type=flag_output_dir, default="build/nir",
                   help="output folder for network.npz and import.md (default build/nir)")
    i.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=None,
                   help="weight bits; more bits round weights, bias and threshold more "
                        "finely (default: the file's metadata, else the smallest width "
                        "holding integer weights, else 8)")
    i.add_argument("--v-bits", type=flag_int(*V_BITS_RANGE), default=None,
                   help="membrane bits (default: metadata, else max(16, derived))")
    i.add_argument("--mul-bits", type=flag_int(1, 16), default=8,
                   help="fraction bits f of a mul leak m/2^f: beta is rounded to a multiple "
                        "of 2^-f (default 8)")
    i.add_argument("--scale", type=_flag_scale, default="auto",
                   help="auto (keep integers, else max-abs), max-abs, or a number > 0 "
                        "(default auto)")
    i.add_argument("--dt", type=flag_float(0, 1e6, low_open=True), default=None,
                   help="time step (default: the graph's dt metadata, else 1e-4)")
    i.add_argument("--discretization", choices=["euler", "zoh"], default=None,
                   help="forward Euler (snnTorch's) or zero-order hold (default: the graph's "
                        "metadata, else euler)")
    i.add_argument("--reset", choices=["zero", "subtract"], default=None,
                   help="override the reset mechanism (default: metadata, else zero)")
    i.add_argument("--timing", choices=["immediate", "delayed"], default=None,
                   help="override the reset timing (default: metadata, else immediate)")
    i.add_argument("--leak-mode", choices=["auto", "shift", "mul"], default="auto",
                   help="auto: shift when beta = 1 - 2^-k exactly, else mul; shift: the "
                        "nearest shift; mul: m/2^f (default auto)")
    i.add_argument("--encoder", choices=INPUT_CODES, default=None,
                   help="the network's input code (default: the graph's metadata, else "
                        "none); direct: the first layer takes the image as a static input, "
                        "x-bit intensities standing for x / 2^x_bits (needs --cosim 0)")
    i.add_argument("--x-bits", type=flag_int(*X_BITS_RANGE), default=None,
                   help="with --encoder direct: the input intensities' bits (default: the "
                        "graph's metadata, else 8)")
    i.add_argument("--cosim", type=flag_int(0, 1 << 16), default=10,
                   help="samples to compare with the float reference and co-simulate under "
                        "Verilator, which needs the sim extra (default 10; 0 skips both)")
    i.add_argument("--spikes", type=flag_input_file, default=None,
                   help=".npy input spike trains [samples, T, inputs] for the co-simulation "
                        "(default: random trains of --steps and --activity)")
    i.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=25,
                   help="T of the random trains (default 25)")
    i.add_argument("--activity", type=flag_float(0, 1), default=0.2,
                   help="spike probability of the random trains (default 0.2)")
    i.add_argument("--lanes", type=flag_int(1, 256), default=8,
                   help="PEs per layer of the co-simulated accelerator (default 8)")
    i.add_argument("--format", choices=FORMATS, default="csc",
                   help="weight-memory format of the co-simulated accelerator (default csc)")
    i.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                   help="seed of the random trains (default 0)")
    e = sub.add_parser("export", help="write a network.npz as a .nir file",
                       description="write a spikefab network as a .nir file")
    e.add_argument("network", type=flag_input_file, help="a network.npz (Network.save)")
    e.add_argument("--out", type=Path, default=Path("build/nir/model.nir"),
                   help="the .nir file to write (default build/nir/model.nir)")
    e.add_argument("--dt", type=flag_float(0, 1e6, low_open=True), default=1e-4,
                   help="time step written to the graph: tau = dt/(1 - beta) (default 1e-4, "
                        "snnTorch's)")
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


def _shown(path):
    """``path`` as the user would type it: relative to the working folder when inside it."""
    path = Path(path)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _behaviour(args, imported, trains, golden):
    """Lines comparing the float reference of the graph with the integer network on
    ``trains``, and a warning when they differ beyond the documented bound."""
    from spikefab.model.nir_io import AGREEMENT_BOUND, SHIFT_BOUND, compare_with_reference
    found = compare_with_reference(imported, trains, golden)
    per_layer = ", ".join(
        f"{layer['node']} {layer['agreement']:.1%} ({layer['float_spikes']:,} float / "
        f"{layer['integer_spikes']:,} integer spikes, first spike moved up to "
        f"{layer['max_shift']} steps, {layer['one_only']} fire in one only)"
        for layer in found["layers"])
    lines = [f"float reference (the NIR graph in float64, {imported.discretization}) beside the "
             f"integer network on {found['samples']} samples x {found['steps']} steps: spike "
             f"agreement {found['agreement']:.1%}; per layer: {per_layer}"]
    if not found["within_bound"]:
        lines.append(
            f"warning: the quantized network behaves differently from the NIR graph beyond "
            f"the bound (spike agreement >= {AGREEMENT_BOUND:.0%}, first spikes within "
            f"{SHIFT_BOUND} steps, no neuron firing in only one): raise --mul-bits (now "
            f"{args.mul_bits}) for the leak, --w-bits for weights, bias and threshold, "
            f"--v-bits if membranes saturate")
    return lines


def _activity(args, imported, golden, trains):
    """Warnings when the checked samples have no spikes (in a layer or at all)."""
    counts = [int(s.sum()) for s in golden.spikes]
    source = ("give --spikes trains with more input spikes or more steps" if args.spikes
              else f"raise --activity (now {args.activity:g}) or --steps (now "
                   f"{trains.shape[1]})")
    if not any(counts):
        return [f"warning: no neuron spiked in any of the {len(trains)} samples, so the "
                f"comparison proved nothing about spikes; {source}"]
    silent = [layer.node for layer, count in zip(imported.layers, counts) if not count]
    if silent:
        return [f"warning: no spike in layer {', '.join(silent)} in any sample, so its "
                f"spikes were not checked; {source}"]
    return []


def run(args):
    """Run ``spikefab nir`` for parsed ``args``."""
    from spikefab.model.nir_io import NIRImportError, import_nir, to_nir
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

    shown = _shown(args.graph)
    try:
        imported = import_nir(args.graph, w_bits=args.w_bits, v_bits=args.v_bits,
                              scale=args.scale, dt=args.dt,
                              discretization=args.discretization, reset=args.reset,
                              timing=args.timing, leak_mode=args.leak_mode,
                              mul_bits=args.mul_bits, encoder=args.encoder,
                              x_bits=args.x_bits)
    except NIRImportError as error:
        raise SystemExit(f"error: {error.text(flags=True, path=shown)}" if error.path
                         else f"error: {shown}: {error.text(flags=True)}") from None
    except (ValueError, TypeError) as error:
        raise SystemExit(f"error: {shown}: {error}") from None
    network = imported.network
    if args.cosim and network.encoder == "direct":
        raise SystemExit(f"error: {shown}: the first layer is a direct input layer (x_bits = "
                         f"{network[0].x_bits}); its co-simulation and float reference are "
                         f"not built yet: pass --cosim 0")
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    network.save(out / "network.npz")
    table = imported.table(flags=True)
    print(f"{shown} → {'-'.join(map(str, network.shape))}\n{table}")
    summary = {"network": str(out / "network.npz"), "exact": imported.exact,
               "shape": list(network.shape), "cosim_samples": 0}
    lines = [f"# NIR import of {shown}", "", table, ""]
    steps = args.steps
    if args.cosim:
        from spikefab.model import simulate
        trains = _trains(args, network)
        steps = trains.shape[1]
        golden = simulate(network, trains)
        behaviour = _behaviour(args, imported, trains, golden)
        print("\n".join(behaviour))
        lines += behaviour + [""]
        from spikefab.sim.cosim import mismatches, run_accelerator
        config = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format,
                                        queue_depth=QUEUE_DEPTH)
        print(f"co-simulating {len(trains)} samples (T = {steps}, P = {args.lanes}, "
              f"{args.format}) under Verilator ...")
        run_ = run_accelerator(network, config, trains, backend="verilator",
                               build_dir=out / "verilator")
        problems, golden = mismatches(network, config, trains, run_)
        if problems:
            raise SystemExit("MISMATCH between hardware and golden model: " +
                             "; ".join(problems))
        spikes = sum(int(s.sum()) for s in golden.spikes)
        message = [f"hardware = golden model = cycle model on all {len(trains)} samples: "
                   f"every spike ({spikes:,} in all), count, class, result cycle and counter"]
        message += _activity(args, imported, golden, trains)
        print("\n".join(message))
        lines += message + [""]
        summary["cosim_samples"] = len(trains)
    next_step = " ".join(shlex.quote(word) for word in (
        "spikefab", "synth", "--board", "ulx3s", "--network",
        _shown(out / "network.npz"), "--lanes", str(args.lanes), "--format", args.format,
        "--queue-depth", str(QUEUE_DEPTH), "--steps", str(steps)))
    print(f"wrote {_shown(out / 'network.npz')} and {_shown(out / 'import.md')}; a "
          f"bitstream of this design: {next_step}")
    (out / "import.md").write_text("\n".join(lines + [f"Bitstream: `{next_step}`", ""]))
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
