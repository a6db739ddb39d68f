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
                                     align_tables, indent, integer_ticks, output_folder,
                                     percent, pyplot, raster_plot, save_figure, table)
from spikefab.toolchain import ToolNotFound

__all__ = ["QUICK_SAMPLES", "MAX_STEPS", "DigitsDemo", "accuracy_figure", "run", "render"]

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


#: The sweeps of step 4: weight bits (at the chosen density) and, without ``--quick``, weight
#: density (at the chosen weight bits, each density trained anew).
SWEEP_BITS = (2, 3, 4, 5, 6, 8)
SWEEP_DENSITIES = (1.0, 0.7, 0.5, 0.3, 0.2, 0.1)


def accuracy_figure(sweeps, *, w_bits, density, accuracy):
    """``accuracy.png``'s figure: one panel per sweep of ``sweeps`` (``{"weight bits":
    [(bits, accuracy), ...], "weight density": [(density, accuracy), ...]}``), each titled
    with the parameter held fixed, and the chosen design (``w_bits``, ``density``, its golden
    ``accuracy``) marked with a star in each. Returns the figure."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5.5 * len(sweeps), 3.8), squeeze=False)
    for ax, (name, points) in zip(axes[0], sweeps.items()):
        xs, ys = zip(*points)
        ys = [100 * y for y in ys]
        if name == "weight bits":
            chosen = w_bits
            ax.set_xlabel("weight bits")
            ax.set_title(f"Accuracy against weight bits\n"
                         f"(density held at {percent(density, None)})")
            integer_ticks(ax.xaxis)
        else:
            xs, chosen = [100 * x for x in xs], 100 * density
            ax.set_xlabel("weights kept (%)")
            ax.set_title(f"Accuracy against weight density\n(weight bits held at {w_bits}; "
                         f"each density trained anew)")
        ax.plot(xs, ys, marker="o", label="sweep")
        ax.plot([chosen], [100 * accuracy], marker="*", markersize=16, linestyle="none",
                color="tab:red", label=f"chosen design ({percent(accuracy)})")
        ax.set_ylabel("SNN test accuracy (%), golden model")
        ax.set_ylim(0, 100)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="lower right")
    return fig


def plots(folder, network, golden, spikes, sweeps, labels, settings, accuracy):
    names = ["input"] + [f"layer {i + 1}" for i in range(len(network))]
    layers = [spikes] + list(golden.spikes)
    return {"activity": activity_plot(folder, names, layers),
            "raster": raster_plot(folder, names, layers, predicted=golden.predicted[0],
                                  label=labels[0]),
            "accuracy": save_figure(accuracy_figure(sweeps, w_bits=settings.w_bits,
                                                    density=settings.density,
                                                    accuracy=accuracy),
                                    folder / "accuracy.png")}


def sweep_table(name, points, chosen):
    """A sweep as a table: the swept value and its accuracy, the chosen design marked."""
    if name == "weight bits":
        rows = [(f"{bits} bits", percent(acc), "chosen" if bits == chosen else "")
                for bits, acc in points]
        return table(["weight bits", "accuracy", "note"], rows, right=[0, 1])
    rows = [(percent(density, None), percent(acc), "chosen" if density == chosen else "")
            for density, acc in points]
    return table(["weights kept", "accuracy", "note"], rows, right=[0, 1])


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

    print(f"2. train: MLP 64-{settings.hidden}-10 (scikit-learn), prune to "
          f"{percent(settings.density, None)}, "
          f"fine-tune under the mask")
    mlp, (dense_w, dense_b) = train_mlp(x_train, y_train, hidden=settings.hidden,
                                        density=settings.density, lanes=settings.lanes)
    float_pruned = mlp.score(x_test, y_test)
    pruned_w, pruned_b = [c.copy() for c in mlp.coefs_], [b.copy() for b in mlp.intercepts_]
    mlp.coefs_, mlp.intercepts_ = dense_w, dense_b
    float_dense = mlp.score(x_test, y_test)
    mlp.coefs_, mlp.intercepts_ = pruned_w, pruned_b
    print(f"   float accuracy: {percent(float_dense)} dense, {percent(float_pruned)} pruned + "
          f"fine-tuned")
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
    print(indent(table(
        ["layer", "neurons", "fan-in", "weights kept", "threshold"],
        [(f"layer {i + 1}", layer.neurons, layer.fan_in, percent(k), layer.theta)
         for i, (layer, k) in enumerate(zip(network, kept))]
        + [("all", "", "", percent(total_kept), "")])))
    print(indent(table(["weight format", "weight memory", "note"],
                       [(fmt, f"{bits:,} bits", "chosen" if fmt == settings.format else "")
                        for fmt, bits in memory.items()], right=[1])))
    phases.done("convert")

    print(f"4. golden inference on all {len(x_test)} test images, {settings.encoder} code, "
          f"T = {settings.steps}")
    spikes = encode_images(x_test, settings.steps, settings.encoder)
    golden = simulate(network, spikes)
    snn_accuracy = float((golden.predicted == y_test).mean())
    activity = [float(np.asarray(s).mean()) for s in [spikes] + list(golden.spikes)]
    print(f"   quantized SNN accuracy {percent(snn_accuracy)}")
    print(indent(table(["layer", "neurons spiking per step"],
                       [(name, percent(a)) for name, a in
                        zip(["input"] + [f"layer {i + 1}" for i in range(len(network))],
                            activity)])))
    sweeps = {"weight bits": []}
    for bits in SWEEP_BITS:
        net = mlp_network(mlp, x_train, w_bits=bits, density=settings.density, lanes=settings.lanes)
        sweeps["weight bits"].append(
            (bits, float((simulate(net, spikes).predicted == y_test).mean())))
    print(f"   sweep of the weight bits, density held at {percent(settings.density, None)}:")
    print(indent(sweep_table("weight bits", sweeps["weight bits"], settings.w_bits)))
    if not settings.quick:
        sweeps["weight density"] = []
        for density in SWEEP_DENSITIES:
            model, _ = train_mlp(x_train, y_train, hidden=settings.hidden, density=density,
                                 lanes=settings.lanes, epochs=30)
            net = mlp_network(model, x_train, w_bits=settings.w_bits, density=density,
                              lanes=settings.lanes)
            sweeps["weight density"].append(
                (density, float((simulate(net, spikes).predicted == y_test).mean())))
        print(f"   sweep of the weight density, {settings.w_bits}-bit weights, each density "
              f"trained anew:")
        print(indent(sweep_table("weight density", sweeps["weight density"],
                                 settings.density)))
    dense_config = HardwareConfig.uniform(network, lanes=settings.lanes, mode="dense")
    sparse_cycles = cycle_model(network, golden, config)
    dense_cycles = cycle_model(network, golden, dense_config)
    # Each image alone, from its first input event to its result: the latency `spikefab synth
    # --spikes` prints for the same images (the rebuild command below names them).
    single = [int(cycle_model(network, simulate(network, spikes[i]), config).latency[0])
              for i in range(min(len(spikes), 60))]
    print(f"   cycle model, per image: {sparse_cycles.total / len(spikes):,.0f} cycles "
          f"event-driven back to back, {dense_cycles.total / len(spikes):,.0f} for the dense "
          f"baseline ({dense_cycles.total / sparse_cycles.total:.1f}x); "
          f"{np.mean(single):,.0f} cycles alone (mean of {len(single)} images)")
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
          f"{percent(hw_accuracy)} on {count} images; Verilator {speed:,.0f} cycles/s")
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
        print(indent(align_tables(report.table().rstrip("\n"))))
        at_fmax = "" if latency.fmax is None else f", {latency.fmax:,.1f} µs at Fmax"
        print(f"   latency per image (compute only; cycle model, each image alone, mean of "
              f"{len(single)}): {mean_single:,.0f} cycles = {latency.board_clock:,.1f} µs at "
              f"the {report.clock_mhz:g} MHz board clock{at_fmax}; back to back "
              f"{synth['images_per_second_board_clock']:,.0f} images/s at the board clock "
              f"(compute only; end to end through the host link: spikefab throughput)")
        phases.done("synth")

    paths = plots(out, network, golden, spikes, sweeps, y_test, settings, snn_accuracy)
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
    # the network file of the rebuild records the code and T it was converted for
    print(rebuild_report(out, network.with_input(settings.encoder, settings.steps),
                         [(settings.board or "icebreaker", config, settings.board is not None)],
                         steps=settings.steps, samples=spikes[:60], summary=summary))
    print(f"7. report: {out / 'report.md'} ({total_time:.0f} s in all)")
    return summary



def render(s):
    a, c = s["accuracy"], s["cycles"]
    lines = [
        "# spikefab demo: digits classifier",
        "",
        f"Network 64-{s['config']['hidden']}-10, {s['config']['w_bits']}-bit weights, "
        f"{percent(s['weights_kept_overall'])} of the weights kept, {s['config']['encoder']} code, "
        f"T = {s['config']['steps']}, P = {s['config']['lanes']} ({s['config']['format']}).",
        "",
        "## Accuracy (test split, 360 images)",
        "",
        "| model | accuracy |",
        "|---|---:|",
        f"| float MLP | {percent(a['float_dense'], 2)} |",
        f"| float MLP, pruned + fine-tuned | {percent(a['float_pruned'], 2)} |",
        f"| quantized SNN (golden model) | {percent(a['snn_golden'], 2)} |",
        f"| hardware (Verilator, {a['hardware_samples']} images) | {percent(a['hardware'], 2)} |",
        "",
        f"Hardware and golden model agree on {percent(a['hardware_golden_agreement'], 0)} of the "
        f"images — on every class, count, spike of every layer and result cycle.",
        "",
        "## Activity and cycles",
        "",
        "Spike activity per step: " + ", ".join(f"{k} {percent(v)}"
                                                for k, v in s["activity"].items())
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
                  f"Compute only (the cycle model, no host link): latency per image "
                  f"{syn['latency_us_board_clock']:,.0f} µs at the board "
                  f"clock, {syn['latency_us_fmax']:,.0f} µs at Fmax; "
                  f"{syn['images_per_second_board_clock']:,.0f} images/s at the board clock, "
                  f"{syn['images_per_second_fmax']:,.0f} at Fmax. End to end through the "
                  f"host link: `spikefab throughput`.", ""]
    lines += ["## Plots", "", "![activity](activity.png)", "", "![raster](raster.png)", "",
              "![accuracy](accuracy.png)", "",
              f"Run time {s['total_s']} s: " + ", ".join(f"{k} {v} s" for k, v in
                                                      s["timings_s"].items()) + "."]
    return align_tables("\n".join(lines)) + "\n"
