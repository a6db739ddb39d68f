"""The outputs of a design-space sweep (:func:`spikefab.dse.sweep.run_sweep`): ``points.csv`` /
``points.json``, ``pareto.json`` / ``pareto.md``, ``lhr.md`` / ``lhr.json``,
``estimator.json``, ``fronts.png`` and ``report.md`` in the sweep's ``--out``, from its
:class:`~spikefab.dse.sweep.SweepResult`."""

import csv
import json

__all__ = ["COLUMNS", "LABELS", "front_table", "plot_fronts", "rebuild_markdown",
           "report_markdown", "write_outputs"]

#: How the objectives of the Pareto sets are named in tables and plots.
LABELS = {"accuracy": "accuracy (%)", "us_per_image": "µs per image", "LUT": "LUT",
          "BRAM": "block RAM", "energy_uj": "energy per image (µJ)"}


def rebuild_markdown(result):
    """The ``spikefab synth`` command of every design the report names (``rebuild``)."""
    named = [r for r in result.rows if r["label"] in (result.rebuild or {})]
    if not named:
        return ""
    lines = ["## Rebuild", "",
             "The `spikefab synth` command that builds each named design (its network and the "
             "test images of its cycle figures are in `designs/`). synth prints the latency "
             "of each image alone; the cycles per image above are the same images back to "
             "back.", "", "| point | synthesized | command |", "|---|---|---|"]
    for r in named:
        built = "yes" if r.get("resource_source") == "synthesis" else "no"
        lines.append(f"| {r['label']} | {built} | `{result.rebuild[r['label']]}` |")
    return "\n".join(lines) + "\n"


# --- files -----------------------------------------------------------------------------------

COLUMNS = ("label", "w_bits", "density", "steps", "encoder", "conv", "format", "queue_depth",
           "lanes",
           "accuracy", "cycles_per_image", "us_per_image", "latency_cycles",
           "lower_bound_per_image", "energy_uj", "pj_per_sop", "synaptic_updates_per_image",
           "weight_bits",
           "LUT", "FF", "BRAM", "resource_source", "fits", "fmax_mhz", "rank_accuracy_us_LUT")


def _json_row(row):
    return {k: v for k, v in row.items() if not k.startswith("_")}


def write_outputs(result, spec):
    out = result.out
    out.mkdir(parents=True, exist_ok=True)
    rows = [_json_row(r) for r in result.rows]
    (out / "points.json").write_text(json.dumps(
        {"spec": spec.to_dict(), "stats": result.stats, "points": rows,
         "rebuild": result.rebuild}, indent=1,
        default=str))
    with open(out / "points.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow(["-".join(map(str, row[c])) if c == "lanes" else row.get(c)
                             for c in COLUMNS])
    (out / "pareto.json").write_text(json.dumps(result.pareto, indent=1))
    (out / "pareto.md").write_text(pareto_markdown(result))
    if result.estimator is not None:
        (out / "estimator.json").write_text(json.dumps(result.estimator, indent=1))
    (out / "lhr.json").write_text(json.dumps(result.lhr, indent=1))
    (out / "lhr.md").write_text(lhr_markdown(result.lhr))
    plot_fronts(result, out / "fronts.png")
    (out / "report.md").write_text(report_markdown(result, spec))


def _fmt(value, digits=1):
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _resource(row, name):
    value = row.get(name)
    if value is None:
        return "–"
    mark = "" if row.get("resource_source") == "synthesis" else "~"
    return f"{mark}{value:,.0f}"


def front_table(result, a="accuracy", b="us_per_image"):
    """Markdown table of the Pareto set of objectives ``a`` and ``b``."""
    by_label = {r["label"]: r for r in result.rows}
    lines = ["| point | accuracy | µs / image | cycles / image | LUT | BRAM | energy µJ |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for label in result.pareto[f"{a}|{b}"]:
        r = by_label[label]
        lines.append(f"| {label} | {100 * r['accuracy']:.2f} % | {_fmt(r['us_per_image'])} | "
                     f"{_fmt(r['cycles_per_image'], 0)} | {_resource(r, 'LUT')} | "
                     f"{_resource(r, 'BRAM')} | {_fmt(r['energy_uj'], 2)} |")
    return "\n".join(lines)


def pareto_markdown(result):
    parts = ["# Pareto sets per objective pair", "",
             "`~`: resource estimated by the calibrated model (not synthesized).", ""]
    for pair in result.pareto:
        a, b = pair.split("|")
        parts += [f"## {LABELS[a]} vs {LABELS[b]}", "", front_table(result, a, b), ""]
    return "\n".join(parts)


def lhr_markdown(lhr):
    if not lhr:
        return "No LHR study: no resource figures (board none).\n"
    ctx = lhr["context"]
    lines = ["# LHR study: per-layer P vs uniform P at equal LUTs", "",
             f"Context: w_bits {ctx['w_bits']}, density {ctx['density']}, T {ctx['steps']}, "
             f"{ctx['encoder']} code, "
             + (f"conv layers {ctx['conv']}, " if ctx.get("conv") else "")
             + f"{ctx['format']}, queue depth {ctx['queue_depth']}. "
             "`~`: estimated LUTs; †: does not fit the device (LUTs as nextpnr or the "
             "estimator counts them).", "",
             "| uniform P | LUT | cycles / image | best per-layer P (≤ LUT) | LUT | cycles / image "
             "| speed-up | LUT saved |", "|---|---:|---:|---|---:|---:|---:|---:|"]
    for e in lhr["entries"]:
        mark_u = ("" if e["uniform_source"] == "synthesis" else "~")
        mark_b = ("" if e["best_source"] == "synthesis" else "~")
        fit_u = " †" if e.get("uniform_fits") is False else ""
        fit_b = " †" if e.get("best_fits") is False else ""
        lines.append(
            f"| {'-'.join(map(str, e['uniform_lanes']))} | {mark_u}{e['uniform_LUT']:,.0f}{fit_u} | "
            f"{e['uniform_cycles']:,.0f} | {'-'.join(map(str, e['best_lanes']))} | "
            f"{mark_b}{e['best_LUT']:,.0f}{fit_b} | {e['best_cycles']:,.0f} | "
            f"{e['speedup']:.2f}x | {100 * (e['LUT_saving'] or 0):.1f} % |")
    return "\n".join(lines) + "\n"


def estimator_line(estimator):
    """One sentence: the resource estimator's leave-one-out error per resource."""
    parts = []
    for name, entry in estimator["resources"].items():
        error = entry.get("loo_error")
        if error:
            parts.append(f"{name} mean {error['mean_pct']:.1f} % / max {error['max_pct']:.1f} %")
    points = estimator.get("points")
    count = len(points) if isinstance(points, list) else points
    return (f"Resource estimator ({count} synthesized designs), leave-one-out error: "
            + ("; ".join(parts) if parts else "too few points to measure") + ".")


def energy_markdown(result):
    """The energy estimate of the most frugal design and of the Pareto set of accuracy vs
    energy, beside the published pJ per synaptic operation of neuromorphic chips."""
    from spikefab.dse.energy import PUBLISHED
    by_label = {r["label"]: r for r in result.rows}
    rows = [by_label[label] for label in result.pareto.get("accuracy|energy_uj", [])]
    if not rows:
        return ""
    board = rows[0]["energy"]["board"]
    clock = rows[0]["energy"]["clock_mhz"]
    lines = [f"## Energy per image (an estimate: spikefab.dse.energy, {board} at {clock:g} MHz)",
             "", "| point | accuracy | energy µJ | of it static | pJ / SOP | dynamic pJ / SOP |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        e = r["energy"]
        static = e["static_pj"] / e["total_pj"] if e["total_pj"] else 0
        lines.append(f"| {r['label']} | {100 * r['accuracy']:.2f} % | {e['total_uj']:.3f} | "
                     f"{100 * static:.0f} % | {_fmt(e['pj_per_sop'])} | "
                     f"{_fmt(e['dynamic_pj_per_sop'])} |")
    lines += ["", "Published, per synaptic operation: " + "; ".join(
        f"{p.name} {p.pj_per_sop:g} pJ" for p in PUBLISHED.values()) + " (measured chips; "
        "see spikefab.dse.energy.PUBLISHED for what each figure includes).", ""]
    return "\n".join(lines)


def report_markdown(result, spec):
    s = result.stats
    lines = ["# Design-space exploration", "",
             f"{s['points']} points; {s['scheduler']}; {s['seconds']:,.0f} s.",
             f"Evaluated {s['evaluate']['computed']} (cached {s['evaluate']['cached']}) in "
             f"{s['evaluate']['seconds']} s."]
    if "synthesize" in s:
        syn = s["synthesize"]
        lines.append(f"Synthesized for {spec.board}: {syn['computed']} (cached {syn['cached']}) "
                     f"in {syn['seconds']} s; rounds: "
                     + ", ".join(f"{r['round']} {r['points']}" for r in syn["rounds"]) + ".")
        for failure in syn["failed"]:
            lines.append(f"- build of {failure['point']} failed (estimated instead, not cached): "
                         f"{failure['error']}")
    if result.estimator:
        lines.append(estimator_line(result.estimator))
    lines += ["", "## Accuracy vs µs per image (Pareto set)", "", front_table(result), "",
              energy_markdown(result), lhr_markdown(result.lhr), rebuild_markdown(result)]
    return "\n".join(lines)


def plot_fronts(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = list(result.pareto)
    cols = 5
    fig, axes = plt.subplots(-(-len(pairs) // cols), cols, figsize=(4 * cols, 3.4 * 2),
                             squeeze=False)
    by_label = {r["label"]: r for r in result.rows}

    def value(row, name):
        v = row.get(name)
        return None if v is None else (100 * v if name == "accuracy" else v)

    for ax, pair in zip(axes.flat, pairs):
        a, b = pair.split("|")
        for fits, marker, size in ((True, "o", 6), (False, "x", 8)):
            pts = [(value(r, b), value(r, a), r.get("resource_source")) for r in result.rows
                   if value(r, a) is not None and value(r, b) is not None
                   and (r.get("fits") is not False) == fits]
            if pts:
                xs, ys, src = zip(*pts)
                ax.scatter(xs, ys, s=size, marker=marker, alpha=0.6, linewidths=0.7,
                           c=["tab:orange" if s == "synthesis" else "tab:gray" for s in src])
        front = sorted((value(by_label[lab], b), value(by_label[lab], a))
                       for lab in result.pareto[pair])
        if front:
            ax.plot(*zip(*front), color="tab:blue", marker="o", ms=3, lw=1)
        ax.set_xlabel(LABELS[b])
        ax.set_ylabel(LABELS[a])
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(pairs):]:
        ax.axis("off")
    fig.suptitle("Pareto fronts (blue) of the designs that fit; orange: synthesized, grey: "
                 "estimated resources; x: does not fit the device")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
