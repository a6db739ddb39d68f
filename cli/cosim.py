"""``spikefab cosim``: co-simulate a saved network on test images (or given spike trains)
under Verilator and check the hardware against the golden and cycle models.

``spikefab cosim --network build/train/network.npz --dataset mnist --samples 200`` rate-codes
(or, with ``--encoder latency``, latency-codes: the code the network was trained with)
the first ``--samples`` test images of the data set (the split ``spikefab train`` uses) at
``--steps`` (left out, the code and T come from the network file when it records them, as
``spikefab train`` writes it, and a line says so; else rate and 25), runs them through the accelerator generated for ``--lanes``/``--sweep-lanes``/
``--format``/``--conv`` (convolutional layers on the convolution core by default) in chunks of
``--chunk`` samples back to back, and compares every spike of every layer, count, class, result
cycle and performance counter with :func:`spikefab.model.simulate` and
:func:`spikefab.model.cycle_model`. It prints the golden accuracy on those images (with
labels), the cycle model's cycles per image (each image alone and back to back), and writes
``samples-T<T>.npz`` (the trains, for ``spikefab synth --spikes``) and ``cosim.json`` to
``--out``; it ends with the ``spikefab synth`` command of the same design. Any mismatch ends in
``error: …`` (exit status 1).

``--model-samples N`` also runs the golden and cycle models alone (not the hardware, which
they equal on the co-simulated samples) on the first ``N`` test images: their accuracy and
cycles per image, e.g. over all 10,000 images of a full test set (``--data-path``).

``--exit exact`` or ``--exit margin:N`` (docs/design.md §2, *Early exit*) builds the
accelerator with that rule and compares it with the golden model run with the same rule
(classes, counts, the steps each sample ran) and the exit cycle model (result cycles, every
counter including ``dropped``); it also prints the mean steps run and the cycle model's cycles
per image without exit, and the ``spikefab synth`` command carries ``--exit``.
"""

import argparse
import json
import sys
import time

import numpy as np

from spikefab.cli.args import (add_exit_argument, exit_flag, exit_value, fail, flag_input_dir,
                               flag_input_file, flag_int, flag_output_dir, input_code)
from spikefab.cli.board_options import MAX_STEPS, read_network, read_spikes
from spikefab.model import FORMATS, HardwareConfig
from spikefab.model.cycles import QUEUE_DEPTH_RANGE
from spikefab.model.encoders import HARDWARE_ENCODERS
from spikefab.model.placement import PLACEMENTS

__all__ = ["DATASETS", "add_arguments", "main", "parser", "run"]

DATASETS = ("mnist", "fashion-mnist", "digits", "mnist-saccades")


def add_arguments(parser):
    """The options of ``spikefab cosim``."""
    parser.add_argument("--network", type=flag_input_file, required=True,
                        help="a network saved with Network.save (.npz), e.g. the network.npz "
                             "spikefab train or spikefab nir import wrote (no default: "
                             "required)")
    parser.add_argument("--dataset", choices=DATASETS, default="mnist",
                        help="test images to rate-code, the split spikefab train uses, or "
                             "mnist-saccades: their N-MNIST-like ON/OFF events (2x34x34), as "
                             "spikefab train --dataset mnist-saccades makes them (default "
                             "mnist: the 1,000 test images of the bundled 5,000, or the "
                             "10,000 of --data-path; fashion-mnist: its 10,000)")
    parser.add_argument("--data-path", type=flag_input_dir, default=None,
                        help="a folder of the IDX files of mnist or fashion-mnist, as "
                             "spikefab train --data-path (default: $SPIKEFAB_DATA/<dataset> "
                             "when it holds them; then /usr/share/datasets/fashion-mnist for "
                             "fashion-mnist, the bundled images for mnist)")
    parser.add_argument("--spikes", type=flag_input_file,
                        help="spike trains [B, T, N0] instead of test images: .npy, or .npz "
                             "with the array 'spikes' (default: none)")
    parser.add_argument("--samples", type=flag_int(1, 1 << 16), default=200,
                        help="images (or trains) to run, the first ones (default 200)")
    parser.add_argument("--model-samples", type=flag_int(1, 1 << 20), default=None,
                        help="also run the golden and cycle models alone (no hardware) on the "
                             "first N images (or trains): accuracy and cycles per image over "
                             "them, e.g. a full test set's 10,000 (default: none)")
    parser.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=None,
                        help="timesteps T of the input code (default: the T the network file "
                             "records, as spikefab train writes it; else 25)")
    parser.add_argument("--encoder", choices=HARDWARE_ENCODERS, default=None,
                        help="input code of the test images, as spikefab train --encoder: rate "
                             "(spikefab.model.encode_rate) or latency (time to first spike, "
                             "spikefab.model.encode_latency) (default: the code the network "
                             "file records, as spikefab train writes it; else rate)")
    parser.add_argument("--lanes", type=flag_int(1, 256), nargs="+", default=[8],
                        help="PEs per layer: one value, capped at each layer's size (a conv "
                             "layer's output channels), or one per layer (default 8)")
    parser.add_argument("--sweep-lanes", type=flag_int(1, 256), nargs="+", default=None,
                        help="neurons the LIF sweep updates per cycle: one value or one per "
                             "layer (default: the lanes)")
    parser.add_argument("--format", choices=FORMATS, default="csc",
                        help="weight format of the fully connected layers (default csc)")
    parser.add_argument("--placement", choices=PLACEMENTS, default="identity",
                        help="neuron placement of the fully connected layers: identity (neuron i "
                             "in PE lane i mod P) or balanced (the compiler spreads each column's "
                             "non-zero weights over the lanes; fixed in the bitstream, shows only "
                             "in cycles) (default identity)")
    parser.add_argument("--conv", choices=("kernel", "unrolled"), default="kernel",
                        help="convolutional layers on the convolution core (kernel) or "
                             "unrolled into --format (default kernel)")
    parser.add_argument("--queue-depth", type=flag_int(*QUEUE_DEPTH_RANGE), default=16,
                        help="event queue depth (default 16)")
    parser.add_argument("--chunk", type=flag_int(1, 1 << 16), default=50,
                        help="samples per simulator run, back to back (default 50)")
    parser.add_argument("--backend", choices=("verilator", "amaranth"), default="verilator",
                        help="simulator of the generated design (default verilator)")
    add_exit_argument(parser)
    parser.add_argument("--out", type=flag_output_dir, default="build/cosim",
                        help="output folder (default build/cosim)")
    return parser


def parser():
    return add_arguments(argparse.ArgumentParser(prog="spikefab cosim",
                                                 description=__doc__.split("\n")[0]))


def main(argv=None):
    return run(parser().parse_args(argv))


def _one_or_each(values, layers, flag):
    if values is None:
        return None
    if len(values) not in (1, layers):
        raise fail(f"{flag} has {len(values)} values for a network of {layers} layers; give "
                   f"one value, or one per layer")
    return values[0] if len(values) == 1 else list(values)


def _inputs(args, network, count=None):
    """``(trains, labels or None, what)`` of the first ``count`` (default ``--samples``)
    samples."""
    count = args.samples if count is None else count
    from spikefab.boards.rebuild import user_path
    if args.spikes is not None:
        if args.encoder != "rate":
            raise fail(f"--encoder {args.encoder} codes test images; --spikes gives the trains "
                       f"themselves")
        trains = read_spikes(args.spikes, network, MAX_STEPS)[:count]
        return trains.astype(bool), None, f"the first {len(trains)} trains of " \
                                          f"{user_path(args.spikes)}"
    from spikefab.model import encode, load_dataset, to_intensity
    from spikefab.model.datasets import data_folder
    if args.data_path is not None and args.dataset == "digits":
        raise fail("--data-path is for --dataset mnist, fashion-mnist and mnist-saccades (the "
                   "digits come with scikit-learn)")
    if args.dataset == "mnist-saccades":
        if args.encoder != "rate":
            raise fail(f"--encoder {args.encoder}: mnist-saccades is already spikes (its ON/OFF "
                       f"events); --encoder is for mnist, fashion-mnist and digits")
        from spikefab.model.datasets import load_events
        try:                                               # the split train uses, all of it
            events = load_events(args.dataset, args.steps,
                                 path=data_folder("mnist", args.data_path))
        except (OSError, ValueError) as error:
            raise fail(str(error)) from None
        events = events._replace(x_test=events.x_test[:count],
                                 y_test=events.y_test[:count])
        if events.x_test.shape[2] != network.n_inputs:
            raise fail(f"--dataset {args.dataset} has {events.x_test.shape[2]} inputs per step; "
                       f"the network takes {network.n_inputs}")
        return events.x_test, events.y_test, \
            f"the events of the first {len(events.x_test)} mnist test images " \
            f"(mnist-saccades, 2x34x34 ON/OFF), T = {args.steps}"
    try:
        split = load_dataset(args.dataset, path=None if args.dataset == "digits" else
                             data_folder(args.dataset, args.data_path))
    except (OSError, ValueError) as error:
        raise fail(str(error)) from None
    images = to_intensity(split.x_test[:count])
    if images.shape[1] != network.n_inputs:
        raise fail(f"--dataset {args.dataset} has {images.shape[1]} pixels per image; the "
                   f"network takes {network.n_inputs} inputs")
    trains = encode(args.encoder, images, args.steps)
    return trains, split.y_test[:count], \
        f"the first {len(trains)} {args.dataset} test images, {args.encoder} code, " \
        f"T = {args.steps}"


def run(args):
    """Co-simulate for parsed ``args``; returns the summary dict."""
    from spikefab.boards.rebuild import save_samples, synth_command, user_path
    from spikefab.model import cycle_model, simulate
    from spikefab.model.exit_cycles import check_exit_config
    from spikefab.sim.cosim import cosimulate
    began = time.perf_counter()
    rule = exit_value(getattr(args, "exit", None))
    network = read_network(args.network)
    coded = args.spikes is None and args.dataset != "mnist-saccades"
    input_code(args, network, args.network, encoder="rate", steps=25,
               uses=("encoder", "steps") if coded else ("steps",) if args.spikes is None
               else ())
    layers = len(network)
    try:
        config = HardwareConfig.uniform(
            network, lanes=_one_or_each(args.lanes, layers, "--lanes"), format=args.format,
            queue_depth=args.queue_depth, conv=args.conv, placement=args.placement,
            sweep_lanes=_one_or_each(args.sweep_lanes, layers, "--sweep-lanes"))
        config.check(network)
    except (ValueError, TypeError) as error:
        raise fail(f"--lanes / --sweep-lanes / --format / --conv / --placement: {error}") \
            from None
    if rule is not None:
        try:
            check_exit_config(config)
        except ValueError as error:
            raise fail(f"--exit {exit_flag(rule)}: {error}") from None
    trains, labels, what = _inputs(args, network)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    shape = "-".join(map(str, network.shape))
    print(f"network {shape}: {config.describe()}")
    print(f"inputs: {what}")
    if rule is not None:
        print(f"early exit: {exit_flag(rule)} (T = {trains.shape[1]})")
    golden = simulate(network, trains, exit=rule)
    found = cosimulate(network, config, trains, build_dir=out / args.backend, chunk=args.chunk,
                       backend=args.backend, golden=golden, exit=rule)
    if found.mismatches:
        raise SystemExit("error: the hardware differs from the golden or cycle model: "
                         + " | ".join(found.mismatches))
    batch = cycle_model(network, golden, config)
    alone = [int(cycle_model(network, simulate(network, t, exit=rule), config).latency[0])
             for t in trains]
    spikes = sum(int(s.sum()) for s in golden.spikes)
    summary = {"network": user_path(args.network), "shape": list(network.shape),
               "config": config.to_json(), "inputs": what, "samples": len(trains),
               "steps": int(trains.shape[1]), "backend": args.backend,
               "spikes": spikes, "cycles_alone_mean": float(np.mean(alone)),
               "cycles_alone_min": int(min(alone)), "cycles_alone_max": int(max(alone)),
               "cycles_back_to_back": batch.total / len(trains),
               "sim_cycles": found.sim_cycles, "build_seconds": round(found.build_seconds, 1),
               "wall_seconds": round(time.perf_counter() - began, 1),
               "exit": exit_flag(rule)}
    if rule is not None:
        full = simulate(network, trains)
        plain = [int(cycle_model(network, simulate(network, t), config).latency[0])
                 for t in trains]
        summary.update(steps_mean=float(golden.ran.mean()),
                       steps_min=int(golden.ran.min()), steps_max=int(golden.ran.max()),
                       same_class_as_full=float(np.mean(golden.predicted == full.predicted)),
                       cycles_alone_mean_without_exit=float(np.mean(plain)),
                       cycles_back_to_back_without_exit=cycle_model(network, full, config).total
                       / len(trains))
    print(f"hardware = golden model = cycle model on all {len(trains)} samples "
          f"({args.backend}): every spike ({spikes:,} in all), count, class, result cycle and "
          f"counter" + ("" if rule is None else ", and the steps each sample ran"))
    if labels is not None:
        accuracy = float(np.mean(golden.predicted == labels))
        summary["accuracy"] = accuracy
        print(f"accuracy (golden model = hardware) on these {len(trains)} images: "
              f"{accuracy:.2%}")
    if rule is not None:
        print(f"early exit {exit_flag(rule)}: {summary['steps_mean']:.2f} steps run on average "
              f"(min {summary['steps_min']}, max {summary['steps_max']}) of "
              f"{trains.shape[1]}; the same class as the full {trains.shape[1]} steps for "
              f"{summary['same_class_as_full']:.1%} of the samples")
    print(f"cycles per image (cycle model = RTL, compute only): {np.mean(alone):,.0f} each "
          f"image alone (min {min(alone):,}, max {max(alone):,}), "
          f"{batch.total / len(trains):,.0f} back to back")
    if rule is not None:
        print(f"without exit (cycle model): {summary['cycles_alone_mean_without_exit']:,.0f} "
              f"each image alone, {summary['cycles_back_to_back_without_exit']:,.0f} back to "
              f"back; early exit saves {1 - np.mean(alone) / np.mean(plain):.1%} of the "
              f"cycles of an image alone")
    if args.model_samples is not None:
        summary["models"] = _models(args, network, config, rule)
    samples = save_samples(out, f"samples-T{trains.shape[1]}", trains)
    summary["samples_file"] = user_path(samples)
    try:
        command = synth_command("ulx3s", args.network, config, steps=int(trains.shape[1]),
                                spikes=samples, exit=rule)
    except ValueError:
        command = None
    summary["synth"] = command
    (out / "cosim.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {user_path(samples)} and {user_path(out / 'cosim.json')}"
          + (f"; a bitstream of this design: {command}" if command else ""))
    return summary


def _models(args, network, config, rule=None, chunk=500):
    """``--model-samples``: the golden and cycle models alone on the first N samples, ``chunk``
    at a time, with the early-exit ``rule`` of ``--exit``; prints and returns their accuracy
    and cycles per image."""
    from spikefab.model import cycle_model, simulate
    from spikefab.toolchain.progress import track
    began = time.perf_counter()
    trains, labels, what = _inputs(args, network, args.model_samples)
    predicted, alone = [], []
    for start in track(range(0, len(trains), chunk), f"golden and cycle models, {chunk} "
                       f"images a step", unit="chunk"):
        for train in trains[start:start + chunk]:
            result = simulate(network, train, exit=rule)
            predicted.append(int(np.ravel(result.predicted)[0]))
            alone.append(int(cycle_model(network, result, config).latency[0]))
    summary = {"inputs": what, "samples": len(trains), "cycles_alone_mean": float(np.mean(alone)),
               "cycles_alone_min": int(min(alone)), "cycles_alone_max": int(max(alone))}
    text = f"golden and cycle models alone on {what}" + (
        "" if rule is None else f", early exit {exit_flag(rule)}") + ": "
    if labels is not None:
        summary["accuracy"] = float(np.mean(np.array(predicted) == labels))
        text += f"accuracy {summary['accuracy']:.2%}, "
    summary["seconds"] = round(time.perf_counter() - began, 1)
    print(text + f"cycles per image (cycle model, each image alone, compute only) "
          f"{np.mean(alone):,.0f} (min {min(alone):,}, max {max(alone):,}) "
          f"[{summary['seconds']:.0f} s]")
    return summary


if __name__ == "__main__":
    main(sys.argv[1:])
