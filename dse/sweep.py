"""``spikefab dse`` / ``make dse``: design-space exploration on Dask — Pareto fronts of
accuracy, latency, resources and energy.

A sweep specification (:mod:`spikefab.dse.spec`: a YAML or TOML file, or a dict) names a
network (the built-in ``digits`` or ``mnist`` classifier, or a user's ``.npz`` / ``.nir``,
fully connected or convolutional), a board and the axes: per-layer PE count P ("lanes"),
where convolutional layers run (``conv``: on the convolution core, lanes across output
channels, or unrolled), weight format, event-queue depth, weight width, weight density,
timesteps T and input encoder. Every point of their product is evaluated in stages:

1. **Exact, for every point** (:func:`~spikefab.dse.tasks.evaluate_group`): golden
   accuracy on the test images, the cycle model (which the RTL equals cycle for cycle) on the
   first ``cycle_samples`` images run back to back — cycles and µs per image at the clock —,
   the energy estimate from the hardware's counters (:mod:`spikefab.dse.energy`) and the
   structural features of the resource estimator.
2. **Synthesis (yosys + nextpnr for the board) for a few points**
   (:func:`~spikefab.dse.tasks.synthesize_point`), in rounds:

   a. ``synthesis.calibration`` points spread over the design's size, to calibrate the
      resource estimator (:class:`spikefab.dse.resources.ResourceModel`);
   b. the designs that fit the board on the accuracy-vs-µs front, then the rest of Pareto
      rank ≤ ``synthesis.near`` on (accuracy ↑, µs per image ↓, LUT ↓), LUT estimated where not
      synthesized, up to ``synthesis.max_points`` synthesized in all (repeated after each
      refit, at most three rounds, since a refit moves the estimated front);
   c. the LHR study's points (below), up to ``synthesis.lhr`` more.

   The estimator is refitted after every round; the final one gives LUT / FF / BRAM for every
   point not synthesized (``resource_source: estimate``), and its leave-one-out error over the
   synthesized points is reported. A design that does not fit the device is still a
   measurement (nextpnr's counts, ``fits: false``).
3. **Outputs** (:mod:`spikefab.dse.report`) in ``--out`` (default ``build/dse``):
   ``points.csv`` / ``points.json`` (every point, every metric, where each resource figure
   came from, its Pareto ranks), ``pareto.json`` / ``pareto.md`` (the Pareto set of every
   pair of objectives among accuracy, µs per image, LUT, BRAM and energy), ``fronts.png``
   (one panel per pair), ``lhr.md`` / ``lhr.json`` (the study), ``estimator.json`` and
   ``report.md``.

**The LHR study** answers the seed authors' question on this hardware: with the other axes
fixed (the first value of each axis: the *study context*), for each uniform P (every layer the
same P, capped at its size: for a convolutional layer on the convolution core, at its output
channels ``C_out``), the per-layer P that the explorer finds fastest among the points
using at most as many LUTs (and fitting the device when the uniform design does) — how much
faster is it? Uniform points and their winners are
synthesized (``synthesis.lhr``), so the comparison is at measured LUTs where the budget allows;
each figure says whether it was synthesized or estimated.

**Distribution.** Tasks run on Dask distributed: by default a ``LocalCluster`` of one
single-threaded worker process per core, each holding one ``synth`` resource, so at most one
synthesis runs per worker; ``--scheduler tcp://host:8786`` runs the same sweep on a user's
cluster (workers started with ``dask worker tcp://host:8786 --nthreads 1 --resources
"synth=1"`` and spikefab installed with its ``dse`` extra; without any ``synth`` worker the
synthesis tasks run without the constraint and a note says so). ``--scheduler serial`` runs
everything in this process, in order. The Dask dashboard's address is printed.

**Cache.** Every result is cached on disk (``--cache``, default ``build/dse/cache``) under a
key of the point's configuration, the workload and the tool versions
(:mod:`spikefab.dse.cache`), written as it arrives: an interrupted sweep resumes where it
stopped, and a repeated one is free.
"""

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spikefab.dse.cache import ResultCache, cache_key, tool_versions
from spikefab.dse.spec import EVENT_DATASETS, SpecError, load_spec
from spikefab.dse.tasks import SYNTH_RESOURCE, Workload, evaluate_group, synthesize_point
from spikefab.dse.pareto import pareto_front, pareto_ranks
from spikefab.dse.report import write_outputs

__all__ = ["OBJECTIVES", "PRESETS", "SchedulerError", "load_workload", "make_executor",
           "run_sweep", "SweepResult", "lhr_study"]

#: The objectives of the Pareto sets: the row's column and which way is better.
OBJECTIVES = {"accuracy": "max", "us_per_image": "min", "LUT": "min", "BRAM": "min",
              "energy_uj": "min"}
#: Version of the synthesis result record (part of its cache key): 2 counts the flip-flops of
#: designs that do not fit too.
SYNTH_RECORD = 2
#: Points one evaluation task takes (of one golden key): small enough to spread over workers.
CHUNK = 6

#: Named sweeps for ``--preset``. ``digits`` is what ``make dse`` runs.
PRESETS = {
    "digits": {
        "network": "digits", "board": "icebreaker", "cycle_samples": 60,
        "axes": {"lanes": [[1, 2, 4, 8, 16, 32], [1, 2, 4, 5, 8, 10]],
                 "format": ["csc", "dense"], "queue_depth": [16],
                 "w_bits": [4, 6], "density": [0.5, 0.25, 1.0], "steps": [32],
                 "encoder": ["rate"]},
        "synthesis": {"max_points": 16, "near": 1, "calibration": 4, "lhr": 10},
    },
    "mnist": {
        "network": "mnist", "board": "ulx3s", "cycle_samples": 20,
        "axes": {"lanes": [[8, 16, 32, 64, 128], [1, 2, 5, 10]], "format": ["csc", "dense"],
                 "w_bits": [4], "density": [0.5, 1.0], "steps": [32], "encoder": ["rate"]},
        "synthesis": {"max_points": 8, "near": 1, "calibration": 4, "lhr": 6},
    },
    "quick": {
        "network": "digits", "board": "none", "samples": 120, "cycle_samples": 10,
        "train": {"hidden": 32, "epochs": 5},
        "axes": {"lanes": [[1, 4, 8], [1, 10]], "format": ["csc", "dense"], "w_bits": [4],
                 "density": [0.5], "steps": [16], "encoder": ["rate"]},
        "synthesis": {"max_points": 0},
    },
}


# --- the workload ------------------------------------------------------------------------------

def _dataset_file(path, inputs):
    from spikefab.model import load_images_file
    try:
        return load_images_file(path, inputs)
    except ValueError as error:
        raise SpecError(f"dataset: {error}") from None


def _builtin_data(name, seed):
    from spikefab.model import load_dataset
    try:
        return tuple(load_dataset(name, seed=seed))
    except FileNotFoundError as error:      # fashion-mnist's IDX files are not on this machine
        raise SpecError(f"dataset: {error}") from None


#: The input maps ``(C, H, W)`` of the built-in data sets a network file can be tested on
#: (a network's input count picks the first that fits: 784 inputs are MNIST's unless the spec
#: names fashion-mnist).
DATASET_MAPS = {"digits": (1, 8, 8), "mnist": (1, 28, 28), "fashion-mnist": (1, 28, 28),
                "mnist-saccades": (2, 34, 34)}


def _inputs_of(shape):
    return int(np.prod(shape))


def load_workload(spec):
    """The :class:`~spikefab.dse.tasks.Workload` of ``spec``: the built-in network's
    data and training settings, or the user's network and its data set.

    A network file without a ``dataset`` is tested on the built-in data set its input count
    fits (:data:`DATASET_MAPS`: digits 64 = 1×8×8, MNIST 784 = 1×28×28, mnist-saccades
    2312 = 2×34×34); a network whose first layer is convolutional must also read that data
    set's maps (its ``C×H×W`` input map)."""
    kind = spec.network_kind
    if kind in ("digits", "mnist"):
        if spec.dataset not in (None, kind):
            raise SpecError(f"dataset: the built-in {kind} network trains and tests on its own "
                            f"data set; give a dataset only with a network file")
        x_train, x_test, y_train, y_test = _builtin_data(kind, spec.train.seed)
        return Workload(kind=kind, name=kind, x_test=x_test, y_test=np.asarray(y_test),
                        x_train=x_train, y_train=np.asarray(y_train), hidden=spec.train.hidden,
                        epochs=spec.train.epochs, seed=spec.train.seed)
    path = Path(spec.network)
    try:
        if kind == "npz":
            from spikefab.model import Network
            network = Network.load(path)
        else:
            from spikefab.model import from_nir
            network = from_nir(path)
    except (OSError, ValueError, TypeError, ImportError) as error:
        raise SpecError(f"network: {path}: {error}") from None
    from spikefab.model.conv import ConvLayer
    inputs = network.n_inputs
    first = network[0]
    in_map = tuple(first.in_map) if isinstance(first, ConvLayer) else None
    dataset = spec.dataset
    if dataset is None:
        dataset = next((name for name, shape in DATASET_MAPS.items()
                        if _inputs_of(shape) == inputs), None)
        if dataset is None:
            sizes = ", ".join(f"{name} {_inputs_of(shape)} = {'x'.join(map(str, shape))}"
                              for name, shape in DATASET_MAPS.items())
            raise SpecError(f"dataset: the network {path.name} has {inputs} inputs, none of "
                            f"the built-in data sets' ({sizes}); give a dataset .npz with "
                            f"arrays x [images, {inputs}] and y")
    if dataset in DATASET_MAPS:
        shape = DATASET_MAPS[dataset]
        what = "events" if dataset in EVENT_DATASETS else "images"
        if inputs != _inputs_of(shape):
            raise SpecError(f"dataset: {dataset} {what} have {_inputs_of(shape)} inputs "
                            f"({'x'.join(map(str, shape))}), the network {path.name} "
                            f"{inputs}")
        if in_map is not None and in_map != shape:
            raise SpecError(f"dataset: {dataset} {what} are {'x'.join(map(str, shape))} "
                            f"maps; the network {path.name}'s first conv layer reads "
                            f"{'x'.join(map(str, in_map))} maps")
        if dataset in EVENT_DATASETS:
            _, x_test, _, y_test = _builtin_data("mnist", spec.train.seed)
        else:
            _, x_test, _, y_test = _builtin_data(dataset, spec.train.seed)
    else:
        x_test, y_test = _dataset_file(dataset, inputs)
    return Workload(kind=kind, name=path.name, x_test=x_test, y_test=np.asarray(y_test),
                    network=network, seed=spec.train.seed,
                    events=dataset if dataset in EVENT_DATASETS else None)


# --- executors ---------------------------------------------------------------------------------

class _Done:
    """A serial task: run when the serial executor hands it out."""

    def __init__(self, function, args, kwargs):
        self.call = (function, args, kwargs)
        self.value = None

    def result(self):
        return self.value

    def cancel(self):
        pass


class SerialExecutor:
    """Runs every task in this process, in submission order."""

    description = "serial (this process)"
    dashboard = None
    workers = 1
    synth_resource = True

    def scatter(self, value):
        return value

    def submit(self, function, *args, synth=False, **kwargs):
        return _Done(function, args, kwargs)

    def as_completed(self, futures):
        for future in futures:
            function, args, kwargs = future.call
            future.value = function(*args, **kwargs)
            yield future

    def close(self):
        pass


class DaskExecutor:
    """Tasks on a Dask distributed ``Client``. Synthesis tasks hold the ``synth`` resource
    when some worker offers it."""

    def __init__(self, client, cluster=None, description=""):
        self.client, self.cluster = client, cluster
        try:
            workers = client.scheduler_info(n_workers=-1)["workers"]
        except TypeError:              # distributed before 2025: every worker by default
            workers = client.scheduler_info()["workers"]
        self.workers = len(workers)
        self.synth_resource = any(SYNTH_RESOURCE in w.get("resources", {})
                                  for w in workers.values())
        self.description = description
        try:
            self.dashboard = client.dashboard_link
        except Exception:          # no dashboard (bokeh missing or turned off)
            self.dashboard = None

    def scatter(self, value):
        return self.client.scatter(value, broadcast=True)

    def submit(self, function, *args, synth=False, **kwargs):
        resources = {SYNTH_RESOURCE: 1} if synth and self.synth_resource else None
        return self.client.submit(function, *args, resources=resources, pure=False, **kwargs)

    def as_completed(self, futures):
        from distributed import as_completed
        yield from as_completed(futures)

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class SchedulerError(RuntimeError):
    """The sweep cannot get its scheduler: Dask distributed is not installed, or the
    scheduler at the address given does not answer. The message says what to do."""


def make_executor(scheduler="local", *, workers=None, dashboard=True):
    """``"serial"``, ``"local"`` (a ``LocalCluster`` of ``workers`` processes, default one
    per core) or a scheduler address ``tcp://host:port``; raises :class:`SchedulerError`
    when Dask distributed is missing (for anything but ``"serial"``) or the scheduler cannot
    be reached."""
    if scheduler == "serial":
        return SerialExecutor()
    try:
        import logging

        from distributed import Client, LocalCluster
    except ImportError:
        raise SchedulerError("spikefab dse needs Dask distributed; install the extra: "
                             "pip install 'spikefab[dse]' (or --scheduler serial)") from None
    if scheduler == "local":
        count = workers or os.cpu_count() or 1
        cluster = LocalCluster(n_workers=count, threads_per_worker=1, processes=True,
                               resources={SYNTH_RESOURCE: 1},
                               # Without the dashboard the scheduler still serves HTTP
                               # (health, metrics): on a free port, not 8787.
                               dashboard_address=":8787" if dashboard else ":0",
                               silence_logs=logging.ERROR)
        return DaskExecutor(Client(cluster), cluster,
                            f"Dask LocalCluster, {count} worker processes x 1 thread")
    try:
        client = Client(scheduler, timeout="20s")
    except (OSError, TimeoutError, ValueError) as error:
        raise SchedulerError(f"--scheduler {scheduler}: cannot connect ({error})") from None
    return DaskExecutor(client, None, f"Dask scheduler {scheduler}")


# --- the sweep ---------------------------------------------------------------------------------

@dataclass
class SweepResult:
    """What :func:`run_sweep` returns: ``rows`` (one dict per point, in the spec's order),
    ``estimator`` (the fitted resource model's JSON, ``None`` without a board), ``lhr`` (the
    study), ``stats`` (computed / cached counts per stage, seconds), ``out``, ``pareto`` and
    ``rebuild`` (label: the ``spikefab synth`` command of every design the report names;
    ``None`` without ``out``)."""

    rows: list
    estimator: dict = None
    lhr: dict = None
    stats: dict = field(default_factory=dict)
    out: Path = None
    pareto: dict = None
    rebuild: dict = None


def _progress(total, desc, enabled):
    """A progress stage with a bar over ``total`` points (:mod:`spikefab.toolchain.progress`)."""
    from spikefab.toolchain.progress import stage
    return stage(desc, total=total, unit="point", show=enabled)


def _evaluate_key(workload, point, spec, versions):
    inputs = {"workload": workload.digest(), "point": point.to_dict(), "samples": spec.samples,
              "cycle_samples": spec.cycle_samples, "board": _board(spec),
              "clock_mhz": _clock(spec)}
    return cache_key("evaluate", inputs, versions), inputs


def _synth_key(row, point, board, versions):
    inputs = {"network": row["network"], "lanes": list(point.lanes), "format": point.format,
              "queue_depth": point.queue_depth, "steps": point.steps, "board": board,
              "record": SYNTH_RECORD}
    if point.conv is not None:
        inputs["conv"] = point.conv
    return cache_key("synthesize", inputs, versions), inputs


def _board(spec):
    return None if spec.board == "none" else spec.board


def _clock(spec):
    if spec.clock_mhz is not None:
        return float(spec.clock_mhz)
    if spec.board == "none":
        return 12.0
    from spikefab.boards.registry import get_board
    return float(get_board(spec.board).clock_mhz)


def _evaluate(executor, workload_ref, workload, points, spec, cache, progress, on_result):
    versions = tool_versions("evaluate")
    results, missing = {}, []
    for point in points:
        key, inputs = _evaluate_key(workload, point, spec, versions)
        hit = cache.get("evaluate", key)
        if hit is not None:
            results[point] = hit
        else:
            missing.append((point, key, inputs))
    groups = {}
    for item in missing:
        groups.setdefault(item[0].golden_key(), []).append(item)
    options = {"samples": spec.samples, "cycle_samples": spec.cycle_samples,
               "board": _board(spec), "clock_mhz": _clock(spec)}
    futures, chunks = [], {}
    for items in groups.values():
        for start in range(0, len(items), CHUNK):
            chunk = items[start:start + CHUNK]
            future = executor.submit(evaluate_group, workload_ref, [p for p, _, _ in chunk],
                                     options)
            futures.append(future)
            chunks[future] = chunk
    with _progress(len(missing), "evaluate (golden + cycle model)", progress) as bar:
        try:
            for future in executor.as_completed(futures):
                chunk = chunks[future]
                for (point, key, inputs), result in zip(chunk, future.result()):
                    cache.put("evaluate", key, result, inputs=inputs, versions=versions)
                    results[point] = result
                    if on_result:
                        on_result("evaluate", point, result)
                bar.update(len(chunk))
        finally:
            for future in futures:
                future.cancel()
    return results, len(missing)


def _synthesize(executor, workload_ref, chosen, rows_by_point, spec, cache, progress, on_result,
                build_root, label):
    """Synthesize the points ``chosen`` (deduplicated by their synthesis key); return
    ``{point: result}`` and how many were computed."""
    board = spec.board
    versions = tool_versions("synthesize")
    results, todo, seen = {}, [], {}
    for point in chosen:
        key, inputs = _synth_key(rows_by_point[point], point, board, versions)
        hit = cache.get("synthesize", key)
        if hit is not None:
            results[point] = hit
        elif key in seen:
            seen[key][1].append(point)
        else:
            seen[key] = (inputs, [point])
            todo.append(key)
    futures = {}
    for key in todo:
        inputs, points = seen[key]
        future = executor.submit(synthesize_point, workload_ref, points[0], board,
                                 timeout_s=spec.synthesis.timeout_s, build_root=build_root,
                                 synth=True)
        futures[future] = key
    with _progress(len(todo), f"synthesize ({label})", progress) as bar:
        try:
            for future in executor.as_completed(list(futures)):
                key = futures[future]
                result = future.result()
                inputs, points = seen[key]
                if "error" not in result:
                    cache.put("synthesize", key, result, inputs=inputs, versions=versions)
                for point in points:
                    results[point] = result
                    if on_result:
                        on_result("synthesize", point, result)
                bar.update(1)
        finally:
            for future in futures:
                future.cancel()
    return results, len(todo)


def _spread(points, size, count):
    """``count`` points spread evenly over ``points`` sorted by ``size``."""
    if count <= 0 or not points:
        return []
    ordered = sorted(points, key=size)
    if count >= len(ordered):
        return ordered
    picks = sorted({round(i * (len(ordered) - 1) / max(count - 1, 1)) for i in range(count)})
    return [ordered[i] for i in picks]


def _size(row):
    """How large a design is before anything is synthesized: its PE adders, weight-word and
    sweep datapath bits, then its weight memory."""
    features = row.get("features") or {}
    logic = sum(features.get(k, 0) for k in ("pe_adder_bits", "word_bits", "sweep_bits"))
    return (logic, row["weight_bits"])


def _apply_resources(rows, model, synthesized, available=None):
    """Fill every row's LUT / FF / BRAM: measured where synthesized, estimated elsewhere; and
    ``fits``: whether the design fits the device (nextpnr's answer, or the estimate's LUT and
    BRAM against ``available``)."""
    for row in rows:
        point = row["_point"]
        result = synthesized.get(point)
        estimate = (model.predict(row["features"])
                    if model is not None and row.get("features") else None)
        if result is not None and "used" in result:
            used = result["used"]
            row.update({r: used.get(r) for r in ("LUT", "FF", "BRAM")})
            row.update(fits=result.get("fits"), fmax_mhz=result.get("fmax_mhz"),
                       resource_source="synthesis",
                       LUT_estimate=None if estimate is None else estimate.get("LUT"))
        elif estimate is not None:
            row.update({r: estimate.get(r) for r in ("LUT", "FF", "BRAM")})
            row.update(fits=None if available is None else all(
                estimate[r] <= available[r] for r in ("LUT", "BRAM") if r in available),
                fmax_mhz=None, resource_source="estimate", LUT_estimate=estimate.get("LUT"))
        else:
            row.update(LUT=None, FF=None, BRAM=None, fits=None, fmax_mhz=None,
                       resource_source=None, LUT_estimate=None)


def _feasible(rows):
    """The rows that fit the device (measured or estimated) or whose fit is unknown."""
    return [row for row in rows if row.get("fits") is not False]


def _front_candidates(rows, near, synthesized, count):
    """Up to ``count`` unsynthesized designs that fit: the accuracy-vs-µs front first, then the
    points of rank <= ``near`` on (accuracy, µs, LUT), each group spread over its LUTs."""
    if count <= 0:
        return []
    feasible = _feasible(rows)
    headline = [feasible[i]["_point"] for i in
                pareto_front(feasible, {"accuracy": "max", "us_per_image": "min"})]
    ranks = pareto_ranks(feasible, {"accuracy": "max", "us_per_image": "min", "LUT": "min"})
    near_front = [row["_point"] for row, rank in zip(feasible, ranks)
                  if rank is not None and rank <= near]
    lut = {row["_point"]: row["LUT"] for row in feasible}
    chosen = []
    for group in (headline, near_front):
        todo = [p for p in group if p not in synthesized and p not in chosen]
        chosen += _spread(todo, lambda p: lut[p], count - len(chosen))
    return chosen


def _fit(synthesized, rows_by_point):
    from spikefab.dse.resources import ResourceModel
    samples = []
    for point, result in synthesized.items():
        if "used" in result and rows_by_point[point].get("features"):
            used = {r: result["used"][r] for r in ("LUT", "FF", "BRAM") if r in result["used"]}
            if len(used) == 3:
                samples.append((rows_by_point[point]["features"], used))
    if not samples:
        return None
    # One sample per distinct design (points differing only in T or encoder share one), in
    # a fixed order: builds finish in any order on a cluster, and the fit's float sums
    # should not depend on it.
    unique = {json.dumps(f, sort_keys=True): (f, u) for f, u in samples}
    model = ResourceModel()
    model.fit([unique[key] for key in sorted(unique)])
    return model


def run_sweep(spec, *, scheduler="local", workers=None, out="build/dse", cache="default",
              progress=True, dashboard=True, on_result=None, executor=None):
    """Run the sweep of ``spec`` (a :class:`~spikefab.dse.spec.Spec`, a dict or a spec
    file path) and write its outputs to ``out`` (``None``: write nothing).

    ``scheduler``: ``"local"`` (LocalCluster), ``"serial"`` or ``tcp://host:port``;
    ``workers``: LocalCluster size (default: one per core); ``cache``: folder, ``"default"``
    (``<out>/cache``) or ``None`` (no cache); ``on_result(stage, point, result)`` is called for
    every newly computed result (an exception there stops the sweep, as an interrupt would);
    ``executor``: an executor to use instead of making one (it is not closed).

    Returns a :class:`SweepResult`. Raises :class:`~spikefab.dse.spec.SpecError` for a
    specification that cannot be used and :class:`SchedulerError` when the scheduler cannot
    be had (:func:`make_executor`).
    """
    from spikefab.dse.spec import Spec
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    began = time.perf_counter()
    out = None if out is None else Path(out)
    if cache == "default":
        cache = None if out is None else out / "cache"
    store = ResultCache(cache)
    workload = load_workload(spec)
    sizes = workload.layer_shapes()
    points = spec.points(sizes, events=workload.events is not None)
    own = executor is None
    if own:
        executor = make_executor(scheduler, workers=workers, dashboard=dashboard)
    stats = {"points": len(points), "scheduler": executor.description,
             "dashboard": executor.dashboard, "workers": executor.workers}
    if progress:
        print(f"spikefab dse: {len(points)} points of {workload.name} on "
              f"{executor.description}" + (f"; dashboard {executor.dashboard}"
                                           if executor.dashboard else ""), flush=True)
        if not executor.synth_resource and spec.board != "none":
            print(f"note: no worker offers the '{SYNTH_RESOURCE}' resource; synthesis tasks "
                  f"run without the one-per-worker limit (start workers with --resources "
                  f"\"{SYNTH_RESOURCE}=1\")", flush=True)
    try:
        workload_ref = executor.scatter(workload)
        t0 = time.perf_counter()
        evaluated, computed = _evaluate(executor, workload_ref, workload, points, spec, store,
                                        progress, on_result)
        stats["evaluate"] = {"computed": computed, "cached": len(points) - computed,
                             "seconds": round(time.perf_counter() - t0, 1)}
        rows = []
        for point in points:
            row = dict(point.to_dict(), label=point.label, **evaluated[point])
            row["pj_per_sop"] = row["energy"]["pj_per_sop"]
            row["_point"] = point
            rows.append(row)
        rows_by_point = {row["_point"]: row for row in rows}
        synthesized, model, lhr = {}, None, None
        if spec.board != "none":
            t0 = time.perf_counter()
            build_root = None
            if out is not None and not str(scheduler).startswith("tcp://"):
                build_root = out / "synth"
            synth_stats = {"computed": 0, "cached": 0, "rounds": [], "failed": []}

            def round_(chosen, label):
                chosen = [p for p in chosen if p not in synthesized]
                if not chosen:
                    return
                done, n = _synthesize(executor, workload_ref, chosen, rows_by_point, spec,
                                      store, progress, on_result, build_root, label)
                synthesized.update(done)
                for point, result in done.items():
                    if "error" in result:
                        synth_stats["failed"].append({"point": point.label,
                                                      "error": result["error"]})
                synth_stats["computed"] += n
                synth_stats["cached"] += len(done) - n
                synth_stats["rounds"].append({"round": label, "points": len(done)})

            from spikefab.boards.registry import get_board
            available = get_board(spec.board).resources
            budget = spec.synthesis.max_points
            calibration = _spread(points, lambda p: _size(rows_by_point[p]),
                                  min(spec.synthesis.calibration, budget))
            round_(calibration, "calibration")
            model = _fit(synthesized, rows_by_point)
            _apply_resources(rows, model, synthesized, available)
            # The Pareto round: the accuracy-vs-latency front first, then the rest of rank <=
            # near on (accuracy, µs, LUT), among the designs that fit; a refit moves the
            # estimated front, so repeat (at most three rounds) within the budget.
            for _ in range(3):
                left = budget - len(synthesized)
                chosen = _front_candidates(rows, spec.synthesis.near, synthesized, left)
                if left <= 0 or not chosen:
                    break
                round_(chosen, "Pareto front")
                model = _fit(synthesized, rows_by_point) or model
                _apply_resources(rows, model, synthesized, available)
            # The study's uniform points and winners; a refit can name new winners, so
            # repeat (at most three rounds) until they are all built or the budget is spent.
            lhr_left = spec.synthesis.lhr
            for _ in range(3):
                chosen = [p for p in _lhr_points(rows, spec, sizes)
                          if p not in synthesized][:lhr_left]
                if not chosen:
                    break
                round_(chosen, "LHR study")
                lhr_left -= len(chosen)
                model = _fit(synthesized, rows_by_point) or model
                _apply_resources(rows, model, synthesized, available)
            synth_stats["seconds"] = round(time.perf_counter() - t0, 1)
            stats["synthesize"] = synth_stats
        else:
            _apply_resources(rows, None, {})
        lhr = lhr_study(rows, spec, sizes)
        pareto = _pareto_sets(rows)
        rebuild = None if out is None else _rebuild_commands(rows, pareto, workload, spec, out)
        stats["seconds"] = round(time.perf_counter() - began, 1)
        stats["cache"] = None if store.folder is None else str(store.folder)
        result = SweepResult(rows=rows, estimator=None if model is None else model.to_json(),
                             lhr=lhr, stats=stats, out=out, pareto=pareto,
                             rebuild=rebuild)
        if out is not None:
            write_outputs(result, spec)
        return result
    finally:
        if own:
            executor.close()


# --- analysis ----------------------------------------------------------------------------------

def _context(row):
    """Everything but the lanes: the points the LHR study compares."""
    return (row["w_bits"], row["density"], row["steps"], row["encoder"], row.get("conv"),
            row["format"], row["queue_depth"])


def _study_rows(rows, spec):
    """The rows of the study context: the first point's values of every axis but the lanes
    (the first value of each axis, as :meth:`Spec.points` resolved them)."""
    first = _context(rows[0]) if rows else None
    return [row for row in rows if _context(row) == first]


def _caps(row, sizes):
    """The largest lanes of each layer on the row's hardware: its neuron count, or a
    convolutional layer's output channels on the convolution core (``conv`` ``kernel``)."""
    shapes = [(s, None) if isinstance(s, int) else tuple(s) for s in sizes]
    return [c if row.get("conv") == "kernel" and c is not None else n for n, c in shapes]


def _uniform(row, sizes):
    """Whether the row's lanes are one P capped at each layer's bound (:func:`_caps`)."""
    lanes = row["lanes"]
    top = max(lanes)
    return all(p == min(top, cap) for p, cap in zip(lanes, _caps(row, sizes)))


def _lhr_pairs(rows, sizes):
    """For every uniform point, the fastest point with at most its LUTs (and, when the uniform
    point fits the device, among the points that fit too)."""
    pairs = []
    uniform = [r for r in rows if _uniform(r, sizes) and r.get("LUT") is not None]
    for u in sorted(uniform, key=lambda r: max(r["lanes"])):
        allowed = [r for r in rows if r.get("LUT") is not None and r["LUT"] <= u["LUT"]
                   and (u.get("fits") is False or r.get("fits") is not False)]
        best = min(allowed, key=lambda r: (r["cycles_per_image"], r["LUT"]))
        pairs.append((u, best))
    return pairs


def _lhr_points(rows, spec, sizes):
    """The LHR study's uniform points and their winners, smallest uniform P first."""
    study = _study_rows(rows, spec)
    if not study:
        return []
    chosen = []
    for u, best in _lhr_pairs(study, sizes):
        for row in (u, best):
            if row["_point"] not in chosen:
                chosen.append(row["_point"])
    return chosen


def lhr_study(rows, spec, sizes):
    """The LHR study (module docstring) on the rows of the study context, for a network of
    layers of ``sizes`` neurons (or :class:`~spikefab.dse.spec.LayerShape` s: a
    convolutional layer on the convolution core is uniform at ``min(P, C_out)``)."""
    study = _study_rows(rows, spec)
    if not study or study[0].get("LUT") is None:
        return None
    entries = []
    for u, best in _lhr_pairs(study, sizes):
        entries.append({
            "uniform_lanes": tuple(u["lanes"]), "uniform_LUT": u["LUT"],
            "uniform_source": u["resource_source"], "uniform_cycles": u["cycles_per_image"],
            "uniform_fits": u.get("fits"), "best_fits": best.get("fits"),
            "best_lanes": tuple(best["lanes"]), "best_LUT": best["LUT"],
            "best_source": best["resource_source"], "best_cycles": best["cycles_per_image"],
            "speedup": u["cycles_per_image"] / best["cycles_per_image"],
            "LUT_saving": 1 - best["LUT"] / u["LUT"] if u["LUT"] else None,
        })
    context = dict(zip(("w_bits", "density", "steps", "encoder", "conv", "format",
                        "queue_depth"), _context(study[0])))
    measured = [e for e in entries if e["uniform_source"] == e["best_source"] == "synthesis"]
    return {"context": context, "entries": entries,
            "max_speedup": max((e["speedup"] for e in entries), default=None),
            "max_speedup_measured": max((e["speedup"] for e in measured), default=None)}


def _pareto_sets(rows):
    """The Pareto set of every pair of :data:`OBJECTIVES` over the designs that fit (labels),
    and each row's rank on (accuracy, µs per image, LUT)."""
    feasible = _feasible(rows)
    names = list(OBJECTIVES)
    sets = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            front = pareto_front(feasible, {a: OBJECTIVES[a], b: OBJECTIVES[b]})
            sets[f"{a}|{b}"] = [feasible[k]["label"] for k in front]
    ranks = pareto_ranks(feasible, {k: OBJECTIVES[k] for k in ("accuracy", "us_per_image", "LUT")})
    for row in rows:
        row["rank_accuracy_us_LUT"] = None
    for row, rank in zip(feasible, ranks):
        row["rank_accuracy_us_LUT"] = rank
    return sets


# --- the commands that rebuild the named designs ------------------------------------------------

def _rebuild_commands(rows, pareto, workload, spec, out):
    """For every design the report names (each Pareto set's and every synthesized one), write
    its network (``out/designs/network-<digest>.npz``) and the trains of its cycle figures
    (``out/designs/samples-T<T>-<encoder>.npz``); returns ``{label: command}``, the
    ``spikefab synth`` command that builds it for the spec's board (the iCEBreaker for board
    ``none``), as the synthesis stage builds it (:func:`spikefab.dse.tasks.run_synthesis`).
    A network file already there (a run again) is kept: its name is its digest."""
    from spikefab.boards.rebuild import save_design, save_samples, synth_command
    from spikefab.dse.tasks import point_config, point_network, workload_trains
    from spikefab.model import Network
    named = {label for labels in pareto.values() for label in labels}
    board = spec.board if spec.board != "none" else "icebreaker"
    folder = Path(out) / "designs"
    commands, written = {}, set()
    for row in rows:
        if row["label"] not in named and row.get("resource_source") != "synthesis":
            continue
        point = row["_point"]
        network_path = folder / f"network-{row['network'][:16]}.npz"
        if network_path.exists():
            network = Network.load(network_path)
        else:
            network = point_network(workload, point.w_bits, point.density)
            save_design(folder, network_path.stem, network)
        samples_path = folder / f"samples-T{point.steps}-{point.encoder}.npz"
        if (point.steps, point.encoder) not in written:
            written.add((point.steps, point.encoder))
            count = spec.cycle_samples if spec.samples is None \
                else min(spec.samples, spec.cycle_samples)
            trains = workload_trains(workload, count, point.steps, point.encoder)
            save_samples(folder, samples_path.stem, trains)
        commands[row["label"]] = synth_command(board, network_path,
                                               point_config(network, point),
                                               steps=point.steps, spikes=samples_path)
    return commands
