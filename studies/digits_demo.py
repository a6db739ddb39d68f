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

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from spikefab.boards.rebuild import rebuild_report
from spikefab.model import (DIGITS, FORMATS, HardwareConfig, compile_weights, cycle_model,
                            encode_images, load_dataset, mlp_network, simulate, train_mlp)
from spikefab.sim.cosim import cosimulate
from spikefab.studies.report import (Mismatch, Phases, StudyError, activity_plot,
                                     output_folder, raster_plot, pyplot, save_figure)
from spikefab.toolchain import ToolNotFound

__all__ = ["QUICK_SAMPLES", "MAX_STEPS", "DigitsDemo", "run", "render"]

QUICK_SAMPLES = 60
MAX_STEPS = (1 << 16) - 1         # the board's host link counts steps in 16 bits


@dataclass
class DigitsDemo:
    """The settings of the digits demo (the defaults are ``make demo``'s, :data:`DIGITS`).

    ``board``: the board to synthesize for (``None``: no synthesis); ``quick``: skip the
    density sweep and co-simulate :data:`QUICK_SAMPLES` test images unless ``samples`` says
    how many (default: all); ``out``: the report's folder.
    """

    hidden: int = DIGITS["hidden"]
    w_bits: int = DIGITS["w_bits"]
    density: float = DIGITS["density"]
    steps: int = DIGITS["steps"]
    encoder: str = DIGITS["encoder"]
    lanes: int = DIGITS["lanes"]
    format: str = DIGITS["format"]
    board: str | None = "icebreaker"
    quick: bool = False
    samples: int | None = None
    out: Path = Path("build/demo")


def plots(folder, network, golden, spikes, sweeps):
    plt = pyplot()

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
    paths["accuracy"] = save_figure(fig, folder / "accuracy.png")
    return paths


def run(settings=None, *, options=None):
    """Run the digits demo with ``settings`` (:class:`DigitsDemo`, default its defaults);
    returns the report's summary dict (also ``report.json``). ``options``: what the report
    records as its ``config`` (default: the settings). Raises :class:`Mismatch` when the
    hardware differs from the golden or cycle model and :class:`StudyError` when the
    synthesis fails."""
    settings = DigitsDemo() if settings is None else settings
    began = time.perf_counter()
    out = output_folder(settings.out)
    phases = Phases()

    print("1. data: scikit-learn digits, stratified 80/20 split (random_state=0)")
    x_train, x_test, y_train, y_test = load_dataset("digits")
    print(f"   {len(x_train)} training and {len(x_test)} test images of 64 pixels")
    phases.done("data")

    print(f"2. train: MLP 64-{settings.hidden}-10 (scikit-learn), prune to {settings.density:.0%}, "
          f"fine-tune under the mask")
    mlp, (dense_w, dense_b) = train_mlp(x_train, y_train, hidden=settings.hidden,
                                        density=settings.density, lanes=settings.lanes)
    float_pruned = mlp.score(x_test, y_test)
    pruned_w, pruned_b = [c.copy() for c in mlp.coefs_], [b.copy() for b in mlp.intercepts_]
    mlp.coefs_, mlp.intercepts_ = dense_w, dense_b
    float_dense = mlp.score(x_test, y_test)
    mlp.coefs_, mlp.intercepts_ = pruned_w, pruned_b
    print(f"   float accuracy: {float_dense:.2%} dense, {float_pruned:.2%} pruned + fine-tuned")
    phases.done("train")

    print(f"3. convert: threshold balancing, {settings.w_bits}-bit weights, IF neurons")
    network = mlp_network(mlp, x_train, w_bits=settings.w_bits, density=settings.density,
                          lanes=settings.lanes)
    kept = [float((layer.weights != 0).mean()) for layer in network]
    total_kept = sum(int((layer.weights != 0).sum()) for layer in network) / sum(
        layer.weights.size for layer in network)
    config = HardwareConfig.uniform(network, lanes=settings.lanes, format=settings.format,
                                    queue_depth=16)
    memory = {fmt: sum(compile_weights(layer, c.lanes, fmt).size_bits
                       for layer, c in zip(network, config.layers)) for fmt in FORMATS}
    print(f"   weights kept per layer {[f'{k:.1%}' for k in kept]} ({total_kept:.1%} overall); "
          f"thresholds {[layer.theta for layer in network]}; memory bits {memory}")
    phases.done("convert")

    print(f"4. golden inference on all {len(x_test)} test images, {settings.encoder} code, "
          f"T = {settings.steps}")
    spikes = encode_images(x_test, settings.steps, settings.encoder)
    golden = simulate(network, spikes)
    snn_accuracy = float((golden.predicted == y_test).mean())
    activity = [float(np.asarray(s).mean()) for s in [spikes] + list(golden.spikes)]
    print(f"   quantized SNN accuracy {snn_accuracy:.2%}; spike activity per step "
          f"{[f'{a:.1%}' for a in activity]}")
    sweeps = {"weight bits": []}
    for bits in (2, 3, 4, 5, 6, 8):
        net = mlp_network(mlp, x_train, w_bits=bits, density=settings.density, lanes=settings.lanes)
        sweeps["weight bits"].append(
            (bits, float((simulate(net, spikes).predicted == y_test).mean())))
    if not settings.quick:
        sweeps["weight density"] = []
        for density in (1.0, 0.7, 0.5, 0.3, 0.2, 0.1):
            model, _ = train_mlp(x_train, y_train, hidden=settings.hidden, density=density,
                                 lanes=settings.lanes, epochs=30)
            net = mlp_network(model, x_train, w_bits=settings.w_bits, density=density,
                              lanes=settings.lanes)
            sweeps["weight density"].append(
                (density, float((simulate(net, spikes).predicted == y_test).mean())))
    print(f"   sweeps: {sweeps}")
    dense_config = HardwareConfig.uniform(network, lanes=settings.lanes, mode="dense")
    sparse_cycles = cycle_model(network, golden, config)
    dense_cycles = cycle_model(network, golden, dense_config)
    single = [int(cycle_model(network, simulate(network, spikes[i]), config).total)
              for i in range(min(len(spikes), 60))]
    phases.done("golden")

    count = settings.samples or (QUICK_SAMPLES if settings.quick else len(x_test))
    count = min(count, len(x_test))
    print(f"5. generate and co-simulate the accelerator (P = {settings.lanes}, "
          f"{settings.format}) on {count} test images under Verilator")
    cosim = cosimulate(network, config, spikes[:count], build_dir=out / "verilator", chunk=20,
                       golden=golden, stop=True, unit="chunk")
    if not cosim.agree:
        raise Mismatch("MISMATCH between hardware and golden model in " + cosim.mismatches[0])
    hw_classes, speed = cosim.classes, float(np.median(cosim.chunk_speeds))
    hw_accuracy = float((hw_classes == y_test[:count]).mean())
    agreement = float((hw_classes == golden.predicted[:count]).mean())
    print(f"   hardware = golden model on every image, spike and cycle; hardware accuracy "
          f"{hw_accuracy:.2%} on {count} images; Verilator {speed:,.0f} cycles/s")
    phases.done("cosim")

    synth = None
    if settings.board is not None:
        print(f"6. synthesize for {settings.board}")
        from spikefab.boards.report import ResourceOverflow, SynthesisError
        from spikefab.boards.build import board_top
        from spikefab.boards.synth import synthesize
        try:
            # The one board build's design: spikefab synth's memory rule (SPRAM for large
            # weight stores) and host-link checks.
            top = board_top(settings.board, network, config, max_steps=settings.steps)
            report = synthesize(settings.board, top, build_dir=out / settings.board)
        except (ValueError, TypeError, ResourceOverflow, SynthesisError, ToolNotFound) as error:
            raise StudyError(f"step 6 (synthesis) failed: {error}") from None
        report.write(out / settings.board)
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
        phases.done("synth")

    paths = plots(out, network, golden, spikes, sweeps)
    total_time = time.perf_counter() - began
    summary = {
        "config": {key: (str(value) if isinstance(value, Path) else value)
                   for key, value in (asdict(settings) if options is None else
                                      options).items() if not callable(value)},
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
        "timings_s": phases.timings, "total_s": round(total_time, 1),
        "plots": {k: str(v.name) for k, v in paths.items()},
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "report.md").write_text(render(summary))
    print(rebuild_report(out, network, [(settings.board or "icebreaker", config,
                                         settings.board is not None)],
                         steps=settings.steps, samples=spikes[:60], summary=summary))
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
