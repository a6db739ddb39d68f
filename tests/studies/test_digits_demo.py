"""The digits demo (:mod:`spikefab.studies.digits_demo`) as a library function, with the
co-simulation stood in for (Verilator runs in tests/test_front_door.py's ``make demo``): the
report it writes, and a mismatch that stops it. The command line is tests/cli/test_demo.py."""

import json

import numpy as np
import pytest

from spikefab.sim.cosim import Cosimulation
from spikefab.studies import digits_demo
from spikefab.studies.digits_demo import DigitsDemo
from spikefab.studies.report import Mismatch, pyplot

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

SMALL = dict(hidden=16, steps=4, quick=True, samples=3, board=None)


def stand_in(calls, mismatches=()):
    """A co-simulation that answers the golden model's classes (or reports ``mismatches``)."""
    def cosimulate(network, config, trains, **options):
        calls.append((len(trains), options))
        classes = np.asarray(options["golden"].predicted)[:len(trains)]
        return Cosimulation(classes=classes, counts=np.zeros((len(trains), 10), np.int64),
                            mismatches=list(mismatches), chunk_speeds=[1000.0, 3000.0])
    return cosimulate


def test_the_demo_writes_its_report(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(digits_demo, "cosimulate", stand_in(calls))
    summary = digits_demo.run(DigitsDemo(**SMALL, out=tmp_path))
    ((count, options),) = calls
    assert count == 3 and options["stop"] and options["chunk"] == 20
    assert options["build_dir"] == tmp_path / "verilator"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == json.loads(json.dumps(summary, default=str))
    assert report["config"] == {**SMALL, "w_bits": 4, "density": 0.5, "encoder": "rate",
                                "lanes": 4, "format": "csc", "out": str(tmp_path)}
    accuracy = report["accuracy"]
    assert accuracy["hardware_samples"] == 3 and accuracy["hardware_golden_agreement"] == 1.0
    assert report["cosim_cycles_per_second"] == 2000.0         # the median over the chunks
    assert report["synthesis"] is None and "weight density" not in report["sweeps"]
    assert "hardware (Verilator, 3 images)" in (tmp_path / "report.md").read_text()
    for name in ("activity.png", "raster.png", "accuracy.png"):
        assert (tmp_path / name).stat().st_size > 0
    printed = capsys.readouterr().out
    assert "hardware = golden model on every image, spike and cycle" in printed
    assert f"7. report: {tmp_path / 'report.md'}" in printed
    assert_readable(printed)


def assert_readable(printed):
    """What the digits demo prints is for a person: no Python repr, aligned tables with
    units (used by tests/cli/test_demo.py on the installed command's output too)."""
    for repr_ in ("{'", "[(", "['", "=None", "0.10833", "np.float"):
        assert repr_ not in printed, repr_
    lines = printed.splitlines()
    for header in ("| layer   | neurons | fan-in | weights kept | threshold |",
                   "| weight format | weight memory | note   |",
                   "| weight bits | accuracy | note   |"):
        assert any(line.strip() == header for line in lines), header
    assert any(line.strip().startswith("| dense ") and " bits |" in line for line in lines)
    assert any(line.strip().startswith("|      2 bits |") and line.strip().endswith("|")
               and " %" in line for line in lines)
    assert "sweep of the weight bits, density held at 50 %:" in printed


def test_the_accuracy_plot_names_the_held_parameter_and_marks_the_chosen_design():
    sweeps = {"weight bits": [(2, 0.1), (3, 0.9), (4, 0.95), (6, 0.96)],
              "weight density": [(1.0, 0.96), (0.5, 0.94), (0.1, 0.5)]}
    fig = digits_demo.accuracy_figure(sweeps, w_bits=4, density=0.5, accuracy=0.95)
    try:
        bits, density = fig.axes[:2]
        assert "weight bits" in bits.get_title() and "density held at 50 %" in bits.get_title()
        assert "weight bits held at 4" in density.get_title()
        assert bits.get_xlabel() == "weight bits" and density.get_xlabel() == "weights kept (%)"
        for ax in (bits, density):
            assert "accuracy (%)" in ax.get_ylabel()
        assert all(float(t).is_integer() for t in bits.get_xticks())
        # the chosen design: a star at (4 bits, 95 %) and at (50 %, 95 %)
        for ax, x in ((bits, 4), (density, 50)):
            (star,) = [line for line in ax.get_lines() if line.get_marker() == "*"]
            assert list(star.get_xdata()) == [x] and list(star.get_ydata()) == [95.0]
            assert "chosen design" in star.get_label()
    finally:
        pyplot().close(fig)


def test_a_mismatch_stops_the_demo_before_the_report(tmp_path, monkeypatch):
    monkeypatch.setattr(digits_demo, "cosimulate",
                        stand_in([], ["samples 0..2: classes differ"]))
    with pytest.raises(Mismatch) as raised:
        digits_demo.run(DigitsDemo(**SMALL, out=tmp_path))
    assert str(raised.value) == ("MISMATCH between hardware and golden model in samples 0..2: "
                                 "classes differ")
    assert not (tmp_path / "report.json").exists()
