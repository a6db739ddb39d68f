"""The work of design-space exploration, as functions a Dask worker runs.

:class:`Workload` is what every task needs to rebuild a point's network: the data set and,
for the built-in networks, the training settings (each worker trains the float MLP itself, the
same way, so nothing large travels), or the user's network. Two task kinds:

* :func:`evaluate_group` — the exact, fast stage for every point: points that share a network
  variant, T and encoder share one golden run (:func:`spikefab.model.simulate` on the test
  images: accuracy); per point, the cycle model (:func:`spikefab.model.cycle_model`, which
  the RTL equals) on the first ``cycle_samples`` test images run back to back, the energy
  estimate (:mod:`spikefab.dse.energy`) from its counters, and the structural features of the
  resource estimator (:mod:`spikefab.dse.resources`).
* :func:`synthesize_point` — yosys + nextpnr for one point on a board, in a child process with
  a timeout (:func:`run_synthesis` is what the child runs: exactly what ``spikefab synth``
  builds — the board top with the host link, weight stores mapped by
  :func:`~spikefab.boards.registry.runtime_weight_layers`). A design that does not fit is a
  result too (``fits: False`` with the numbers nextpnr reported), not a failure.

Networks per point (:func:`point_network`):

* built-in ``digits`` / ``mnist``: the float MLP (scikit-learn, ``train.hidden`` ReLU units,
  ``train.seed``) is trained on the training split, magnitude-pruned to the point's
  ``density`` per layer (global per layer, not balanced over the lanes, so every hardware
  configuration of a variant runs the same network) and fine-tuned ``train.epochs`` epochs under
  the mask, as ``make demo`` does; then converted with :func:`~spikefab.model.convert_mlp` at
  the point's ``w_bits``. A worker keeps the variants it built (memory: a few networks).
* a user's ``.npz`` / ``.nir`` network: used as it is at ``density`` 1; a lower ``density``
  prunes its integer weights by magnitude (:func:`~spikefab.model.prune_network`); its
  ``w_bits`` cannot be swept (it is already quantized); a convolutional layer's kernel is
  what is pruned (each kernel weight is stored once). A network with convolutional layers
  (:class:`~spikefab.model.conv.ConvLayer`) runs them as the point's ``conv`` says
  (:func:`point_config`): on the convolution core (``kernel``, lanes across output channels)
  or unrolled in the point's ``format``.

Inputs per point (:func:`workload_trains`): the test images rate- or latency-coded at the
point's ``T``, or, for the event data set ``mnist-saccades``, the test images' ON/OFF events
of :func:`spikefab.model.datasets.load_events` at ``T`` steps (the encoder ``events``).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikefab.model import (HardwareConfig, Network, cycle_model, encode_images, prune_network,
                            simulate)

from spikefab.dse.cache import array_digest, network_digest

__all__ = ["Workload", "point_network", "point_config", "golden_run", "evaluate_group",
           "run_synthesis", "synthesize_point", "workload_trains", "SYNTH_RESOURCE"]

#: The Dask worker resource a synthesis task holds (one per worker of the default cluster).
SYNTH_RESOURCE = "synth"


@dataclass
class Workload:
    """A network source and its data.

    Members
    -------
    kind : {"digits", "mnist", "npz", "nir"}
    name : str
        For reports: ``digits``, ``mnist`` or the network file's name.
    x_test, y_test : ndarray
        Test images as intensities in [0, 1] (``[n, inputs]``) and their labels.
    x_train, y_train : ndarray or None
        Training split (built-in networks only).
    hidden, epochs, seed : int
        Training settings of the built-in networks.
    network : Network or None
        A user's network (``npz`` / ``nir`` kinds).
    events : str or None
        The event data set (``"mnist-saccades"``) whose events of ``x_test`` are the inputs;
        ``None``: ``x_test`` are images, coded by the point's encoder.
    """

    kind: str
    name: str
    x_test: np.ndarray
    y_test: np.ndarray
    x_train: np.ndarray = None
    y_train: np.ndarray = None
    hidden: int = 128
    epochs: int = 60
    seed: int = 0
    network: Network = None
    events: str = None
    _digest: str = field(default=None, repr=False, compare=False)

    @property
    def builtin(self):
        return self.kind in ("digits", "mnist")

    def layer_sizes(self):
        """Neurons per layer."""
        return tuple(shape.neurons for shape in self.layer_shapes())

    def layer_shapes(self):
        """Per layer a :class:`~spikefab.dse.spec.LayerShape` ``(neurons, channels)``
        (``channels``: a convolutional layer's output channels, else ``None``)."""
        from spikefab.dse.spec import LayerShape
        if self.network is not None:
            return tuple(LayerShape.of(layer) for layer in self.network)
        return (LayerShape(self.hidden), LayerShape(int(np.max(self.y_train)) + 1))

    def digest(self):
        """Fingerprint of everything that decides the networks and the data."""
        if self._digest is None:
            parts = [self.kind, array_digest(self.x_test, self.y_test)]
            if self.events is not None:
                parts.append(f"events:{self.events}:{self.seed}")
            if self.builtin:
                parts += [array_digest(self.x_train, self.y_train),
                          f"{self.hidden}/{self.epochs}/{self.seed}"]
            else:
                parts.append(network_digest(self.network))
            self._digest = "|".join(parts)
        return self._digest


# --- networks, golden runs (memoized per worker process) ---------------------------------------

_NETWORKS = OrderedDict()
_GOLDEN = OrderedDict()
_KEEP_NETWORKS, _KEEP_GOLDEN = 8, 2


def _remember(store, keep, key, make):
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = make()
    store[key] = value
    while len(store) > keep:
        store.popitem(last=False)
    return value


def _train_builtin(workload, w_bits, density):
    from threadpoolctl import threadpool_limits

    from spikefab.model import mlp_network, train_mlp
    # One BLAS thread: a worker per core, and sums that do not depend on the core count.
    with threadpool_limits(limits=1, user_api="blas"):
        mlp, _ = train_mlp(workload.x_train, workload.y_train, hidden=workload.hidden,
                           density=density, lanes=None, epochs=workload.epochs,
                           seed=workload.seed)
    return mlp_network(mlp, workload.x_train, w_bits=w_bits, density=density)


def _prune_file_network(network, density):
    """A user's network pruned by magnitude to ``density`` per layer: a fully connected
    layer's weights (:func:`~spikefab.model.prune_network`), a convolutional layer's kernel
    (each kernel weight is stored once, so the kernel is what is pruned; its unrolled matrix
    follows)."""
    from spikefab.model.conv import ConvLayer
    from spikefab.model.quantize import prune
    layers = []
    for layer in network:
        if isinstance(layer, ConvLayer):
            kernel = layer.kernel
            flat = prune(kernel.reshape(kernel.shape[0], -1), density)
            layers.append(layer.replace(kernel=flat.reshape(kernel.shape)))
        else:
            layers.append(prune_network(Network([layer]), density)[0])
    return Network(layers)


def point_network(workload, w_bits, density):
    """The network of the variant ``(w_bits, density)`` (see the module docstring)."""
    def make():
        if workload.builtin:
            return _train_builtin(workload, w_bits, density)
        if w_bits is not None:
            raise ValueError("axes.w_bits cannot be swept for a network file (it is already "
                             "quantized); leave it out")
        network = workload.network
        return network if density >= 1.0 else _prune_file_network(network, density)
    return _remember(_NETWORKS, _KEEP_NETWORKS,
                     (workload.digest(), w_bits, float(density)), make)


def point_config(network, point):
    """The :class:`~spikefab.model.HardwareConfig` of ``point`` for ``network``
    (:meth:`Point.hardware_config <spikefab.dse.spec.Point.hardware_config>`): the point's
    lanes per layer, its format and queue depth; convolutional layers on the convolution core
    (format ``kernel``) unless the point's ``conv`` is ``unrolled``."""
    return point.hardware_config(network)


def workload_trains(workload, count, steps, encoder):
    """The input spike trains ``[n, steps, inputs]`` of the first ``count`` test images
    (``None``: all): coded by ``encoder``, or (an event workload, encoder ``events``) their
    events as :func:`spikefab.model.datasets.load_events` makes them at ``steps`` steps."""
    x = workload.x_test if count is None else workload.x_test[:count]
    if workload.events is None:
        return encode_images(x, steps, encoder)
    if encoder != "events":
        raise ValueError(f"encoder {encoder!r}: the {workload.events} inputs are its events "
                         f"(encoder 'events')")
    from spikefab.model.datasets import SACCADE_MARGIN
    from spikefab.model.saccades import saccade_events
    # load_events' test trains: the same call (its random draws go in sample order, so the
    # first images' events do not depend on how many follow).
    return saccade_events(x, steps, margin=SACCADE_MARGIN, seed=workload.seed + 1)


def golden_run(workload, point, samples):
    """``(network, spikes, SimResult)`` of the point's variant, T and encoder on the first
    ``samples`` test images (``None``: all)."""
    network = point_network(workload, point.w_bits, point.density)

    def make():
        spikes = workload_trains(workload, samples, point.steps, point.encoder)
        return spikes, simulate(network, spikes)
    spikes, result = _remember(_GOLDEN, _KEEP_GOLDEN,
                               (workload.digest(), point.golden_key(), samples), make)
    return network, spikes, result


def _cycle_inputs(network, spikes, result, cycle_samples):
    n = min(cycle_samples, len(spikes))
    if n == len(spikes):
        return result
    return simulate(network, spikes[:n])


def evaluate_group(workload, points, options):
    """Evaluate ``points`` (sharing one golden key); return one result dict per point.

    ``options``: ``samples`` (test images for accuracy, ``None`` = all), ``cycle_samples``,
    ``board`` (name or ``None``), ``clock_mhz``.
    """
    from spikefab.dse.energy import estimate_energy
    from spikefab.dse.resources import design_features

    results = []
    samples = options["samples"]
    network, spikes, golden = golden_run(workload, points[0], samples)
    labels = workload.y_test[:len(spikes)]
    correct = int(np.sum(golden.predicted == labels))
    cycle_result = _cycle_inputs(network, spikes, golden, options["cycle_samples"])
    n_cycle = len(cycle_result.predicted)
    activity = [float(np.mean(np.asarray(s))) for s in golden.spikes]
    input_rate = float(np.mean(spikes))
    for point in points:
        if point.golden_key() != points[0].golden_key():
            raise ValueError("evaluate_group: the points do not share one golden key")
        began = time.perf_counter()
        config = point_config(network, point)
        config.check(network)
        report = cycle_model(network, cycle_result, config)
        cycles_per_image = report.total / n_cycle
        energy = estimate_energy(network, config, report, samples=n_cycle, steps=point.steps,
                                 board=options["board"] or "icebreaker",
                                 clock_mhz=options["clock_mhz"])
        row = {
            "correct": correct, "tested": len(spikes),
            "accuracy": correct / len(spikes),
            "cycle_samples": n_cycle,
            "cycles_per_image": cycles_per_image,
            "us_per_image": cycles_per_image / options["clock_mhz"],
            "latency_cycles": float(np.mean(report.latency)),
            "lower_bound_per_image": report.lower_bound / n_cycle,
            "pipeline_bound_per_image": report.pipeline_bound / n_cycle,
            "input_spike_rate": input_rate,
            "layer_spike_rates": activity,
            "events_per_image": [c.events / n_cycle for c in report.layers],
            "synaptic_updates_per_image": sum(c.synaptic_updates for c in report.layers)
            / n_cycle,
            "stall_cycles_per_image": sum(c.stall for c in report.layers) / n_cycle,
            "weight_bits": _weight_bits(network, config),
            "energy": energy.to_json(),
            "energy_uj": energy.total_uj,
            "network": network_digest(network),
            "seconds": time.perf_counter() - began,
        }
        if options["board"]:
            row["features"] = design_features(network, config, options["board"],
                                              max_steps=point.steps)
        results.append(row)
    return results


def _weight_bits(network, config):
    """Bits of the weight memories: each layer's image as the hardware holds it (on the
    convolution core the kernel memory and the decode table of
    :func:`~spikefab.model.kernel_image.compile_kernel`)."""
    from spikefab.model.cycles import compile_layer
    return int(sum(compile_layer(layer, c).size_bits
                   for layer, c in zip(network, config.layers)))


# --- synthesis ---------------------------------------------------------------------------------

def run_synthesis(request):
    """Build one point (``request``: a dict with ``network`` (an ``.npz`` path), ``lanes``,
    ``format``, ``queue_depth``, ``steps``, ``board``, ``build_dir`` and optionally ``conv``
    (``kernel`` or ``unrolled``; default ``kernel``)); return the result dict.
    What the child process of :func:`synthesize_point` runs: the one board build
    (:func:`spikefab.boards.build.build_board`, which builds what ``spikefab synth`` builds
    and reads a design that does not fit from nextpnr's log)."""
    from spikefab.boards.build import build_board

    network = Network.load(request["network"])
    config = HardwareConfig.uniform(network, lanes=list(request["lanes"]),
                                    format=request["format"],
                                    queue_depth=request["queue_depth"],
                                    conv=request.get("conv") or "kernel")
    began = time.perf_counter()
    build = build_board(request["board"], network, config, request["build_dir"],
                        max_steps=request["steps"])
    result = {"board": build["board"], "runtime_weights": build["weights_in_spram"],
              "seconds": time.perf_counter() - began}
    if build["status"] == "built":
        result.update(fits=True, used=build["used"], available=build["available"],
                      fmax_mhz=build["fmax_mhz"], yosys=build["yosys"],
                      workaround=build["workaround"])
    elif build["status"] == "does not fit":
        result.update(fits=False, used=build["used"], available=build["available"],
                      fmax_mhz=None, overflow=build["error"])
    else:                                  # cannot be generated, or a tool failed
        result["error"] = f"{build['status']}: {build['error']}"
    return result


def synthesize_point(workload, point, board, *, timeout_s, build_root=None):
    """Synthesize ``point`` for ``board`` in a child process (killed after ``timeout_s``);
    return the result dict (``fits``, ``used``, ``available``, ``fmax_mhz``, ``seconds``),
    or one with ``error`` when the build failed or timed out.

    ``build_root``: folder for the build (``<build_root>/<board>/<label>``); ``None``: a
    temporary folder, removed afterwards (a worker of a remote cluster).
    """
    network = point_network(workload, point.w_bits, point.density)
    temporary = None
    if build_root is None:
        temporary = tempfile.TemporaryDirectory(prefix="spikefab-dse-")
        folder = Path(temporary.name)
    else:
        folder = Path(build_root).resolve() / board / point.label.replace(" ", "_")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        network.save(folder / "network.npz")
        request = {"network": str(folder / "network.npz"), "lanes": list(point.lanes),
                   "format": point.format, "queue_depth": point.queue_depth,
                   "steps": point.steps, "board": board, "build_dir": str(folder),
                   "conv": point.conv}
        (folder / "request.json").write_text(json.dumps(request, indent=1))
        began = time.perf_counter()
        try:
            child = subprocess.run(
                [sys.executable, "-m", "spikefab.dse.tasks", str(folder / "request.json")],
                capture_output=True, text=True, timeout=timeout_s, cwd=folder,
                env=dict(os.environ, OMP_NUM_THREADS="1"))
        except subprocess.TimeoutExpired:
            return {"board": board, "error": f"synthesis timed out after {timeout_s:g} s "
                                             f"(synthesis.timeout_s)",
                    "seconds": time.perf_counter() - began}
        answer = folder / "result.json"
        if child.returncode != 0 or not answer.exists():
            tail = (child.stderr.strip().splitlines() or ["(no output)"])[-1]
            return {"board": board, "error": f"synthesis failed: {tail}",
                    "seconds": time.perf_counter() - began}
        return json.loads(answer.read_text())
    finally:
        if temporary is not None:
            temporary.cleanup()


def _child(path):
    request = json.loads(Path(path).read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = run_synthesis(request)
    Path(request["build_dir"], "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    _child(sys.argv[1])
