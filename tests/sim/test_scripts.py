"""`make bench` and `make demo` entry points run and print their tables (small settings)."""

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


def test_demo_runs_quick(capsys):
    demo.main(["--quick", "--steps", "4"])
    out = capsys.readouterr().out
    assert "network 64-128-10" in out
    assert out.count("x\n") == 3          # one speed-up line per format
