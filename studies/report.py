"""What the studies share: the one module of :mod:`spikefab.studies` the others import.

The peer's figures (:data:`SPIKER_PLUS`), the spike plots of the demos
(:func:`activity_plot`, :func:`raster_plot`), the per-phase timer of their printed steps
(:class:`Phases`), the output folder (:func:`output_folder`), and the two ways a study ends
early: :class:`Mismatch` (a check found the hardware, or a file read back, different from the
golden model) and :class:`StudyError` (a step failed). No study imports another; the command
line (:mod:`spikefab.cli`) turns these exceptions into its one ``MISMATCH …`` / ``error: …``
line.
"""

import time
from pathlib import Path

import numpy as np

__all__ = ["SPIKER_PLUS", "Mismatch", "Phases", "StudyError", "activity_plot",
           "output_folder", "pyplot", "raster_plot", "save_figure"]

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


def activity_plot(folder, names, layers):
    """``activity.png``: the share of each layer's neurons spiking per timestep (``layers``:
    spike arrays ``[B, T, N]``, input first)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, trains in zip(names, layers):
        ax.plot(np.asarray(trains).mean(axis=(0, 2)) * 100, label=name)
    ax.set_xlabel("timestep")
    ax.set_ylabel("neurons spiking (%)")
    ax.set_title("Spike activity per layer over time (test split)")
    ax.legend()
    return save_figure(fig, Path(folder) / "activity.png")


def raster_plot(folder, names, layers, predicted, *, ratios=None):
    """``raster.png``: the spikes of the first sample in every layer (``ratios``: the panels'
    heights, default the layers' sizes)."""
    plt = pyplot()
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
    return save_figure(fig, Path(folder) / "raster.png")
