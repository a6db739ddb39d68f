"""``make demo``: train, convert, compress, generate, verify and synthesize a digits classifier.

The whole co-design flow on a built-in default, with nothing downloaded but PyPI packages:

1. **Data** — scikit-learn's bundled 8x8 digits (1797 images, 10 classes), a fixed stratified
   80/20 train/test split (``random_state=0``: 1437 / 360 images), pixels scaled to [0, 1].
2. **Train** — a scikit-learn ``MLPClassifier`` (64-``hidden``-10, ReLU). Then magnitude
   pruning to ``density`` (the hidden layer balanced over the PE lanes) and fine-tuning with
   the pruning mask re-applied after every epoch of scikit-learn's own ``partial_fit``.
3. **Convert and quantize** — data-based threshold balancing
   (:func:`spikefab.model.convert_mlp`: thresholds at the maximum ReLU activation on the
   training set), integrate-and-fire neurons with subtract reset, ``w_bits``-bit weights.
4. **Golden inference** over the whole test split with the chosen encoder and ``T``.
5. **Co-simulation** of the generated accelerator under cocotb + Verilator on every test image
   (the first 60 with ``--quick``): every image's class, counts, every layer's spikes and the
   cycle of every result must equal the golden model and the cycle model, or the demo stops.
6. **Synthesis** for the board (iCEBreaker by default): resources, Fmax, latency per image.
7. **Report** — ``build/demo/report.md`` and ``report.json`` with PNG plots.
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from spikefab.model import (FORMATS, HardwareConfig, compile_weights, convert_mlp,
                              cycle_model, encode_latency, encode_rate, prune, simulate,
                              to_intensity)
from spikefab.model.checks import flag_float, flag_input_dir, flag_int, flag_output_dir
from spikefab.model.network import W_BITS_RANGE
from spikefab.toolchain import ToolNotFound

QUICK_SAMPLES = 60
MAX_STEPS = (1 << 16) - 1         # the board's host link counts steps in 16 bits


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0,
                                                        stratify=y)
    return x_train / 16.0, x_test / 16.0, y_train, y_test


def train(x, y, *, hidden, density, lanes, epochs=60, seed=0):
    """Train the float MLP, prune it and fine-tune under the mask. Returns the classifier and
    the weight lists ``(weights[(out, in)], biases)`` and the masks used."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp = MLPClassifier(hidden_layer_sizes=(hidden,), activation="relu", max_iter=300,
                            alpha=1e-3, random_state=seed)
        mlp.fit(x, y)
        dense_model = [c.copy() for c in mlp.coefs_], [b.copy() for b in mlp.intercepts_]
        if density < 1.0:
            masks = [prune(w.T, density, lanes=p).T != 0
                     for w, p in zip(mlp.coefs_, (lanes, None))]
            for _ in range(epochs):
                for k, mask in enumerate(masks):
                    mlp.coefs_[k] *= mask
                mlp.partial_fit(x, y)
            for k, mask in enumerate(masks):
                mlp.coefs_[k] *= mask
    return mlp, dense_model


def encode(x, steps, encoder):
    intensities = to_intensity(x)
    if encoder == "rate":
        return encode_rate(intensities, steps)
    return encode_latency(intensities, steps)


def to_network(mlp, x_train, *, w_bits, density, lanes):
    weights = [w.T for w in mlp.coefs_]
    return convert_mlp(weights, list(mlp.intercepts_), x_train, w_bits=w_bits,
                       density=[density, density], lanes=[lanes, None])


def cosimulate(network, config, spikes, golden, *, chunk, build_dir, progress=True):
    """Run ``spikes`` through the accelerator under Verilator in chunks (one progress step
    each); check every sample against the golden model and every result cycle and counter
    against the cycle model (:func:`~spikefab.sim.cosim.mismatches`). Returns (classes, counts, cycles per chunk, simulated cycles/s)."""
    from tqdm import tqdm

    from .cosim import mismatches, run_accelerator

    classes, counts, totals, speed = [], [], [], []
    starts = range(0, len(spikes), chunk)
    bar = tqdm(starts, desc="co-simulation (Verilator)", unit="chunk", disable=not progress)
    for start in bar:
        part = spikes[start:start + chunk]
        run = run_accelerator(network, config, part, backend="verilator", build_dir=build_dir)
        problems, expected = mismatches(network, config, part, run, first=start)
        if not np.array_equal(expected.predicted, golden.predicted[start:start + len(part)]):
            problems.append("the golden model is not deterministic")
        if problems:
            raise SystemExit("MISMATCH between hardware and golden model in samples "
                             f"{start}..{start + len(part) - 1}: " + "; ".join(problems))
        classes += run.classes.tolist()
        counts += run.counts.tolist()
        totals.append(run.total)
        speed.append(run.cycles_per_second)
    return np.array(classes), np.array(counts), totals, float(np.median(speed))


def activity_plot(folder, names, layers):
    """``activity.png``: the share of each layer's neurons spiking per timestep (``layers``:
    spike arrays ``[B, T, N]``, input first)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, trains in zip(names, layers):
        ax.plot(np.asarray(trains).mean(axis=(0, 2)) * 100, label=name)
    ax.set_xlabel("timestep")
    ax.set_ylabel("neurons spiking (%)")
    ax.set_title("Spike activity per layer over time (test split)")
    ax.legend()
    fig.tight_layout()
    path = folder / "activity.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def raster_plot(folder, names, layers, predicted, *, ratios=None):
    """``raster.png``: the spikes of the first sample in every layer (``ratios``: the panels'
    heights, default the layers' sizes)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    firsts = [np.asarray(trains)[0] for trains in layers]
    fig, axes = plt.subplots(len(layers), 1, figsize=(6, 6), sharex=True,
                             gridspec_kw={"height_ratios": ratios or
                                          [first.shape[-1] for first in firsts]})
    for ax, name, first in zip(axes, names, firsts):
        t, n = np.nonzero(first)
        ax.scatter(t, n, s=4, marker="|")
        ax.set_ylim(-0.5, first.shape[1] - 0.5)
        ax.set_ylabel(name)
    axes[-1].set_xlabel("timestep")
    axes[0].set_title(f"Spike raster of test image 0 (predicted {int(predicted)})")
    fig.tight_layout()
    path = folder / "raster.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plots(folder, network, golden, spikes, sweeps):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    layers = [spikes] + list(golden.spikes)
    names = ["input"] + [f"layer {i + 1}" for i in range(len(network))]
    paths = {"activity": activity_plot(folder, names, layers),
             "raster": raster_plot(folder, names, layers, golden.predicted[0])}

    fig, axes = plt.subplots(1, len(sweeps), figsize=(5 * len(sweeps), 3.5), squeeze=False)
    for ax, (label, points) in zip(axes[0], sweeps.items()):
        xs, ys = zip(*points)
        ax.plot(xs, [100 * v for v in ys], marker="o")
        ax.set_xlabel(label)
        ax.set_ylabel("SNN test accuracy (%)")
        ax.grid(True, alpha=0.3)
    fig.suptitle("Accuracy of the quantized SNN (golden model)")
    fig.tight_layout()
    paths["accuracy"] = folder / "accuracy.png"
    fig.savefig(paths["accuracy"], dpi=110)
    plt.close(fig)
    return paths


#: Defaults of the digits demo for the options it shares with ``--dataset mnist``
#: (:data:`spikefab.sim.mnist_demo.DEFAULTS`).
DIGITS = {"hidden": 128, "w_bits": 4, "density": 0.5, "steps": 32, "lanes": 4,
          "format": "csc", "board": "icebreaker", "out": "build/demo"}


def add_arguments(parser):
    """The options of ``spikefab demo`` (and ``python -m spikefab.sim.demo``)."""
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                        help="digits: scikit-learn's 8x8 digits, MLP converted to IF neurons "
                             "(default); mnist: a LIF network trained with surrogate "
                             "gradients, through NIR, beside Spiker+")
    parser.add_argument("--hidden", type=flag_int(1, 4096), default=None,
                        help="hidden neurons (default 128)")
    parser.add_argument("--w-bits", type=flag_int(*W_BITS_RANGE), default=None,
                        help="weight bits (default 4)")
    parser.add_argument("--density", type=flag_float(0, 1, low_open=True), default=None,
                        help="fraction of weights kept, (0, 1] (default 0.5 digits, 1 mnist)")
    parser.add_argument("--steps", type=flag_int(1, MAX_STEPS), default=None,
                        help="timesteps T (default 32 digits, 25 mnist)")
    parser.add_argument("--encoder", choices=["rate", "latency"], default="rate",
                        help="input code of the digits demo (mnist: rate)")
    parser.add_argument("--lanes", type=flag_int(1, 256), default=None,
                        help="PEs per layer (default 4 digits; mnist: 128 in the hidden layer)")
    parser.add_argument("--sweep-lanes", type=flag_int(1, 256), default=None,
                        help="mnist: LIF sweep lanes of the hidden layer, a divisor of "
                             "--lanes (default 8)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="weight format (default csc digits, dense mnist)")
    parser.add_argument("--board", choices=["icebreaker", "ulx3s", "orangecrab", "none"],
                        default=None,
                        help="board to synthesize for (default icebreaker digits; mnist: "
                             "ulx3s and icebreaker)")
    parser.add_argument("--epochs", type=flag_int(1, 1000), default=None,
                        help="mnist: training epochs (default: TrainConfig's)")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                        help="mnist: training seed (default 0)")
    parser.add_argument("--mnist-path", type=flag_input_dir, default=None,
                        help="mnist: a folder of MNIST IDX files (train and t10k) instead of "
                             "the 5,000 bundled images")
    parser.add_argument("--quick", action="store_true",
                        help=f"digits: co-simulate the first {QUICK_SAMPLES} test images only "
                             f"and skip the density sweep; mnist: 600 training / 200 test "
                             f"images, 2 epochs, 20 co-simulated, no board builds")
    parser.add_argument("--samples", type=flag_int(1, 1 << 20), default=None,
                        help="co-simulate the first N test images (default: all digits, or "
                             f"{QUICK_SAMPLES} with --quick; mnist 200)")
    parser.add_argument("--out", type=flag_output_dir, default=None,
                        help="output folder (default build/demo, build/demo-mnist)")
    return parser


def parser():
    return add_arguments(argparse.ArgumentParser(prog="python -m spikefab.sim.demo",
                                                 description=__doc__.split("\n")[0]))


def main(argv=None):
    return run(parser().parse_args(argv))


def run(args):
    """Run the demo for parsed ``args``; returns the report's summary dict."""
    if args.dataset == "mnist":
        from .mnist_demo import run as run_mnist
        return run_mnist(args)
    for name, value in DIGITS.items():
        if getattr(args, name) is None:
            setattr(args, name, flag_output_dir(value) if name == "out" else value)
    began = time.perf_counter()
    out = Path(args.out).resolve()        # the simulator and the tools run in other folders
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"error: cannot create --out {out}: {error.strerror or error}") \
            from None
    timings = {}

    def phase(name, since):
        timings[name] = round(time.perf_counter() - since, 1)
        print(f"  [{timings[name]:.1f} s]")
        return time.perf_counter()

    t = time.perf_counter()
    print("1. data: scikit-learn digits, stratified 80/20 split (random_state=0)")
    x_train, x_test, y_train, y_test = load_data()
    print(f"   {len(x_train)} training and {len(x_test)} test images of 64 pixels")
    t = phase("data", t)

    print(f"2. train: MLP 64-{args.hidden}-10 (scikit-learn), prune to {args.density:.0%}, "
          f"fine-tune under the mask")
    mlp, (dense_w, dense_b) = train(x_train, y_train, hidden=args.hidden, density=args.density,
                                    lanes=args.lanes)
    float_pruned = mlp.score(x_test, y_test)
    pruned_w, pruned_b = [c.copy() for c in mlp.coefs_], [b.copy() for b in mlp.intercepts_]
    mlp.coefs_, mlp.intercepts_ = dense_w, dense_b
    float_dense = mlp.score(x_test, y_test)
    mlp.coefs_, mlp.intercepts_ = pruned_w, pruned_b
    print(f"   float accuracy: {float_dense:.2%} dense, {float_pruned:.2%} pruned + fine-tuned")
    t = phase("train", t)

    print(f"3. convert: threshold balancing, {args.w_bits}-bit weights, IF neurons")
    network = to_network(mlp, x_train, w_bits=args.w_bits, density=args.density,
                         lanes=args.lanes)
    kept = [float((layer.weights != 0).mean()) for layer in network]
    total_kept = sum(int((layer.weights != 0).sum()) for layer in network) / sum(
        layer.weights.size for layer in network)
    config = HardwareConfig.uniform(network, lanes=args.lanes, format=args.format,
                                    queue_depth=16)
    memory = {fmt: sum(compile_weights(layer, c.lanes, fmt).size_bits
                       for layer, c in zip(network, config.layers)) for fmt in FORMATS}
    print(f"   weights kept per layer {[f'{k:.1%}' for k in kept]} ({total_kept:.1%} overall); "
          f"thresholds {[layer.theta for layer in network]}; memory bits {memory}")
    t = phase("convert", t)

    print(f"4. golden inference on all {len(x_test)} test images, {args.encoder} code, "
          f"T = {args.steps}")
    spikes = encode(x_test, args.steps, args.encoder)
    golden = simulate(network, spikes)
    snn_accuracy = float((golden.predicted == y_test).mean())
    activity = [float(np.asarray(s).mean()) for s in [spikes] + list(golden.spikes)]
    print(f"   quantized SNN accuracy {snn_accuracy:.2%}; spike activity per step "
          f"{[f'{a:.1%}' for a in activity]}")
    sweeps = {"weight bits": []}
    for bits in (2, 3, 4, 5, 6, 8):
        net = to_network(mlp, x_train, w_bits=bits, density=args.density, lanes=args.lanes)
        sweeps["weight bits"].append(
            (bits, float((simulate(net, spikes).predicted == y_test).mean())))
    if not args.quick:
        sweeps["weight density"] = []
        for density in (1.0, 0.7, 0.5, 0.3, 0.2, 0.1):
            model, _ = train(x_train, y_train, hidden=args.hidden, density=density,
                             lanes=args.lanes, epochs=30)
            net = to_network(model, x_train, w_bits=args.w_bits, density=density,
                             lanes=args.lanes)
            sweeps["weight density"].append(
                (density, float((simulate(net, spikes).predicted == y_test).mean())))
    print(f"   sweeps: {sweeps}")
    dense_config = HardwareConfig.uniform(network, lanes=args.lanes, mode="dense")
    sparse_cycles = cycle_model(network, golden, config)
    dense_cycles = cycle_model(network, golden, dense_config)
    single = [int(cycle_model(network, simulate(network, spikes[i]), config).total)
              for i in range(min(len(spikes), 60))]
    t = phase("golden", t)

    count = args.samples or (QUICK_SAMPLES if args.quick else len(x_test))
    count = min(count, len(x_test))
    print(f"5. generate and co-simulate the accelerator (P = {args.lanes}, {args.format}) on "
          f"{count} test images under Verilator")
    hw_classes, hw_counts, chunk_cycles, speed = cosimulate(
        network, config, spikes[:count], golden, chunk=20, build_dir=out / "verilator")
    hw_accuracy = float((hw_classes == y_test[:count]).mean())
    agreement = float((hw_classes == golden.predicted[:count]).mean())
    print(f"   hardware = golden model on every image, spike and cycle; hardware accuracy "
          f"{hw_accuracy:.2%} on {count} images; Verilator {speed:,.0f} cycles/s")
    t = phase("cosim", t)

    synth = None
    if args.board != "none":
        print(f"6. synthesize for {args.board}")
        from spikefab.boards.report import ResourceOverflow, SynthesisError
        from spikefab.boards.synth import synthesize
        from spikefab.boards.top import BoardTop
        try:
            report = synthesize(args.board, BoardTop(network, config, max_steps=args.steps),
                                build_dir=out / args.board)
        except (ResourceOverflow, SynthesisError, ToolNotFound) as error:
            raise SystemExit(f"error: step 6 (synthesis) failed: {error}") from None
        report.write(out / args.board)
        mean_single = float(np.mean(single))
        per_image = sparse_cycles.total / len(spikes)
        latency = report.latency_us(mean_single)
        synth = {"report": report.to_json(), "latency_cycles": mean_single,
                 "latency_us_board_clock": latency.board_clock, "latency_us_fmax": latency.fmax,
                 "throughput_cycles_per_image": per_image,
                 "images_per_second_fmax": (report.fmax_mhz * 1e6 / per_image
                                            if report.fmax_mhz else None),
                 "images_per_second_board_clock": report.clock_mhz * 1e6 / per_image}
        print(report.table())
        t = phase("synth", t)

    paths = plots(out, network, golden, spikes, sweeps)
    total_time = time.perf_counter() - began
    summary = {
        "config": {key: (str(value) if isinstance(value, Path) else value)
                   for key, value in vars(args).items() if not callable(value)},
        "data": {"train": len(x_train), "test": len(x_test)},
        "accuracy": {"float_dense": float_dense, "float_pruned": float_pruned,
                     "snn_golden": snn_accuracy, "hardware": hw_accuracy,
                     "hardware_samples": count, "hardware_golden_agreement": agreement},
        "weights_kept": kept, "weights_kept_overall": total_kept,
        "thresholds": [layer.theta for layer in network],
        "memory_bits": memory,
        "activity": dict(zip(["input"] + [f"layer {i + 1}" for i in range(len(network))],
                             activity)),
        "cycles": {"sparse_per_image": sparse_cycles.total / len(spikes),
                   "dense_baseline_per_image": dense_cycles.total / len(spikes),
                   "speedup": dense_cycles.total / sparse_cycles.total,
                   "single_image_latency_mean": float(np.mean(single))},
        "sweeps": sweeps, "synthesis": synth, "cosim_cycles_per_second": speed,
        "timings_s": timings, "total_s": round(total_time, 1),
        "plots": {k: str(v.name) for k, v in paths.items()},
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "report.md").write_text(render(summary))
    print(f"7. report: {out / 'report.md'} ({total_time:.0f} s in all)")
    return summary


def render(s):
    a, c = s["accuracy"], s["cycles"]
    lines = [
        "# spikefab demo: digits classifier",
        "",
        f"Network 64-{s['config']['hidden']}-10, {s['config']['w_bits']}-bit weights, "
        f"{s['weights_kept_overall']:.1%} of the weights kept, {s['config']['encoder']} code, "
        f"T = {s['config']['steps']}, P = {s['config']['lanes']} ({s['config']['format']}).",
        "",
        "## Accuracy (test split, 360 images)",
        "",
        "| model | accuracy |",
        "|---|---:|",
        f"| float MLP | {a['float_dense']:.2%} |",
        f"| float MLP, pruned + fine-tuned | {a['float_pruned']:.2%} |",
        f"| quantized SNN (golden model) | {a['snn_golden']:.2%} |",
        f"| hardware (Verilator, {a['hardware_samples']} images) | {a['hardware']:.2%} |",
        "",
        f"Hardware and golden model agree on {a['hardware_golden_agreement']:.0%} of the "
        f"images — on every class, count, spike of every layer and result cycle.",
        "",
        "## Activity and cycles",
        "",
        "Spike activity per step: " + ", ".join(f"{k} {v:.1%}" for k, v in s["activity"].items())
        + ".",
        "",
        f"Cycles per image (back to back): {c['sparse_per_image']:,.0f} event-driven vs "
        f"{c['dense_baseline_per_image']:,.0f} for the dense baseline — {c['speedup']:.1f}x. "
        f"Single-image latency: {c['single_image_latency_mean']:,.0f} cycles.",
        "",
        "Weight memory bits per format: " + ", ".join(f"{k} {v:,}" for k, v in
                                                        s["memory_bits"].items()) + ".",
        "",
    ]
    if s["synthesis"]:
        syn = s["synthesis"]
        rep = syn["report"]
        lines += [f"## Synthesis: {rep['title']} ({rep['device']})", "",
                  "| resource | used | available |", "|---|---:|---:|"]
        for name, r in rep["resources"].items():
            lines.append(f"| {name} | {r['used']:,} | {r['available']:,} |")
        fmax = rep["clock"]["fmax_mhz"]
        lines += ["", f"Fmax {fmax} MHz (board clock {rep['clock']['board_mhz']} MHz). "
                  f"Latency per image {syn['latency_us_board_clock']:,.0f} µs at the board "
                  f"clock, {syn['latency_us_fmax']:,.0f} µs at Fmax; "
                  f"{syn['images_per_second_board_clock']:,.0f} images/s at the board clock, "
                  f"{syn['images_per_second_fmax']:,.0f} at Fmax.", ""]
    lines += ["## Plots", "", "![activity](activity.png)", "", "![raster](raster.png)", "",
              "![accuracy](accuracy.png)", "",
              f"Run time {s['total_s']} s: " + ", ".join(f"{k} {v} s" for k, v in
                                                      s["timings_s"].items()) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1:])
