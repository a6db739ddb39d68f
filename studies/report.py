"""What the studies share: the one module of :mod:`spikefab.studies` the others import.

The peer's figures (:data:`SPIKER_PLUS`), the spike plots of the demos
(:func:`activity_plot`, :func:`raster_plot`; :func:`raster_figure` builds the figure it
writes), what a person reads in their printed steps and reports (:func:`table`, aligned
Markdown tables that read as columns in a terminal, :func:`align_tables` for tables made
elsewhere, :func:`percent`), the per-phase timer of their printed steps
(:class:`Phases`), the output folder (:func:`output_folder`), and the two ways a study ends
early: :class:`Mismatch` (a check found the hardware, or a file read back, different from the
golden model) and :class:`StudyError` (a step failed). No study imports another; the command
line (:mod:`spikefab.cli`) turns these exceptions into its one ``MISMATCH …`` / ``error: …``
line.
"""

import time
from pathlib import Path

import numpy as np

__all__ = ["SPIKER_PLUS", "Mismatch", "Phases", "StudyError", "activity_plot", "align_tables",
           "indent", "integer_ticks", "output_folder", "percent", "pyplot", "raster_figure",
           "raster_plot", "save_figure", "table"]

#: The peer: Spiker+ (A. Carpegna, A. Savino, S. Di Carlo, "Spiker+: a framework for the
#: generation of efficient Spiking Neural Networks FPGA accelerators for inference at the
#: edge", IEEE TETC, 2024), MNIST 784-128-10 LIF at T = 100 on an Artix-7 at 100 MHz.
#: ``cycles`` were measured by simulating its generated VHDL (issue 10), about T * (N_in + 5)
#: (78,900): it scans every input every step and updates the 128 neurons in parallel,
#: whatever the activity.
SPIKER_PLUS = {
    "name": "Spiker+",
    "source": "Carpegna, Savino, Di Carlo, IEEE Trans. Emerging Topics in Computing, 2024",
    "network": "784-128-10 LIF",
    "steps": 100,
    "accuracy": 0.9385,
    "cycles": 79_040,
    "cycles_note": "measured by simulating its generated VHDL, about T * (N_in + 5)",
    "us_per_image": 780.0,
    "clock_mhz": 100.0,
    "device": "Artix-7",
    "luts": 7_612,
    "bram": 18,
}


class StudyError(RuntimeError):
    """A step of a study failed (a data set that cannot be loaded, a synthesis that failed, a
    check that did not pass); the message is one line naming it."""


class Mismatch(RuntimeError):
    """The hardware (or a network read back from a file) differs from the golden or cycle
    model; the message starts with ``MISMATCH`` and names what differs."""


def output_folder(path):
    """``path`` as an absolute folder, created if missing (the simulator and the tools run
    in other folders). Raises ``OSError`` when it cannot be created."""
    out = Path(path).resolve()
    out.mkdir(parents=True, exist_ok=True)
    return out


def percent(fraction, digits=1):
    """A fraction as a person reads it: ``percent(0.91666) == "91.7 %"``; ``digits=None``:
    no trailing zeros (``percent(0.5, None) == "50 %"``, for settings such as a density)."""
    if digits is None:
        return f"{100 * fraction:.4g} %"
    return f"{100 * fraction:.{digits}f} %"


def table(header, rows, *, right=None):
    """An aligned Markdown table (a string, no final newline): ``header`` the column titles
    (with their units), ``rows`` lists of cells (converted with ``str``); ``right``: which
    columns align right (default every column but the first). The cells are padded, so the
    same text is a Markdown table in a report and aligned columns in a terminal."""
    right = set(range(1, len(header))) if right is None else set(right)
    cells = [[str(cell) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "| " + " | ".join(cell.rjust(width) if i in right else cell.ljust(width)
                                 for i, (cell, width) in enumerate(zip(row, widths))) + " |"
    rule = "|" + "|".join("-" * (width + 1) + ":" if i in right else "-" * (width + 2)
                          for i, width in enumerate(widths)) + "|"
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


def align_tables(text):
    """``text`` with every Markdown pipe table in it re-padded by :func:`table` (its columns
    keep their alignment: a rule cell ending in ``:`` aligns right)."""
    lines, out, block = text.split("\n"), [], []

    def flush():
        rows = [[cell.strip() for cell in row.strip()[1:-1].split("|")] for row in block]
        if (len(rows) >= 2 and all(set(cell) <= set("-: ") for cell in rows[1])
                and all(len(row) == len(rows[0]) for row in rows)):
            right = [i for i, cell in enumerate(rows[1]) if cell.endswith(":")]
            out.append(table(rows[0], rows[2:], right=right))
        else:
            out.extend(block)
        block.clear()

    for each in lines:
        if each.startswith("|") and each.rstrip().endswith("|"):
            block.append(each)
            continue
        if block:
            flush()
        out.append(each)
    if block:
        flush()
    return "\n".join(out)


def indent(text, prefix="   "):
    """Every line of ``text`` after ``prefix`` (a demo's printed step details)."""
    return "\n".join(prefix + each if each else each for each in text.split("\n"))


class Phases:
    """The wall time of a study's printed steps: :meth:`done` records the time since the last
    step under ``name`` in :attr:`timings` (seconds, one decimal) and prints it as
    ``  [12.3 s]``."""

    def __init__(self, *, flush=False):
        self.timings = {}
        self.flush = flush
        self.since = time.perf_counter()

    def done(self, name):
        self.timings[name] = round(time.perf_counter() - self.since, 1)
        print(f"  [{self.timings[name]:.1f} s]", flush=self.flush)
        self.since = time.perf_counter()


def pyplot():
    """``matplotlib.pyplot`` on the file-only Agg backend (imported on first use: the ``demo``
    extra)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save_figure(fig, path, *, dpi=110):
    """Lay ``fig`` out, write it to ``path`` (PNG) and close it; returns ``path``."""
    plt = pyplot()
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def integer_ticks(axis):
    """Ticks at integers only on ``axis`` (``ax.xaxis`` / ``ax.yaxis``): epochs, bits,
    neuron indices."""
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


def activity_plot(folder, names, layers):
    """``activity.png``: the share of each layer's neurons spiking per timestep (``layers``:
    spike arrays ``[B, T, N]``, input first)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, trains in zip(names, layers):
        ax.plot(np.asarray(trains).mean(axis=(0, 2)) * 100, label=name)
    ax.set_xlabel("timestep")
    integer_ticks(ax.xaxis)
    ax.set_ylabel("neurons spiking (%)")
    ax.set_title("Spike activity per layer over time (test split)")
    ax.legend()
    return save_figure(fig, Path(folder) / "activity.png")


def raster_figure(names, layers, *, predicted, label, sample=0):
    """The spike raster of test image ``sample`` in every layer (``layers``: spike arrays
    ``[B, T, N]``, input first), one panel per layer with the neuron index on its y axis; the
    title names the image's true ``label`` and the ``predicted`` class, and the output
    panel (the last) marks both rows. Each panel is at least tall enough for ten readable
    rows. Returns the figure."""
    plt = pyplot()
    trains = [np.asarray(each)[sample] for each in layers]
    sizes = [each.shape[-1] for each in trains]
    # Panel heights in inches: a layer's share of 5.5 inches, but never less than 1.8 (the
    # output's 10 rows at 8-point labels).
    heights = [max(1.8, 5.5 * n / sum(sizes)) for n in sizes]
    fig, axes = plt.subplots(len(trains), 1, figsize=(7, sum(heights) + 1.2), sharex=True,
                             gridspec_kw={"height_ratios": heights})
    for ax, name, first in zip(axes, names, trains):
        t, n = np.nonzero(first)
        ax.scatter(t, n, s=40 if first.shape[1] <= 16 else 8, marker="|", color="black",
                   linewidths=1.2)
        ax.set_ylim(-0.5, first.shape[1] - 0.5)
        ax.set_ylabel(f"{name}\nneuron index")
        integer_ticks(ax.yaxis)
    out, n_out = axes[-1], sizes[-1]
    if n_out <= 16:
        out.set_yticks(range(n_out))
        out.tick_params(axis="y", labelsize=8)
    out.axhspan(label - 0.5, label + 0.5, color="tab:green", alpha=0.25,
                label=f"true label {label}" + (" = predicted" if predicted == label else ""))
    if predicted != label:
        out.axhspan(predicted - 0.5, predicted + 0.5, color="tab:red", alpha=0.25,
                    label=f"predicted {predicted}")
    out.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    out.set_xlabel("timestep")
    integer_ticks(out.xaxis)
    verdict = "correct" if predicted == label else "wrong"
    axes[0].set_title(f"Spike raster of test image {sample}: true label {label}, "
                      f"predicted {predicted} ({verdict})")
    return fig


def raster_plot(folder, names, layers, *, predicted, label):
    """``raster.png``: :func:`raster_figure` of the first test image; returns its path."""
    return save_figure(raster_figure(names, layers, predicted=int(predicted), label=int(label)),
                       Path(folder) / "raster.png")
