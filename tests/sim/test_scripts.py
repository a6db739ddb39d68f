"""`make bench` and `make demo` entry points run and print their tables (small settings)."""

import pytest

from spikeforge.sim import bench, demo


def test_bench_prints_golden_and_cycle_tables(capsys):
    bench.main(["--batch", "4", "--steps", "3", "--repeats", "1", "--samples", "2",
                "--densities", "0.5", "--cosim", "none"])
    out = capsys.readouterr().out
    assert "events/s" in out and "Target >= 10,000,000 events/s" in out
    for label in ("| 64-128-10 (50%, balanced) | csc |", "| 784-256-10 (50%, global) | bitmap |",
                  "| 64-128-10 (50%, global) | dense |"):
        assert label in out
    assert "balanced pruning, 784-input network" in out


@pytest.mark.slow
def test_demo_end_to_end_small(tmp_path, capsys):
    """The demo's flow on a few images without synthesis: trains, converts, co-simulates under
    Verilator (checking every image against the golden model) and writes the report."""
    summary = demo.main(["--quick", "--board", "none", "--samples", "8", "--steps", "8",
                         "--out", str(tmp_path)])
    accuracy = summary["accuracy"]
    assert accuracy["hardware_golden_agreement"] == 1.0
    assert accuracy["float_dense"] > 0.9 and accuracy["snn_golden"] > 0.5
    assert summary["weights_kept_overall"] <= 0.5
    for name in ("report.md", "report.json", "activity.png", "raster.png", "accuracy.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "hardware (Verilator, 8 images)" in (tmp_path / "report.md").read_text()
