"""The board clock from the PLL (spikefab.boards.pll, BoardTop(clock_mhz=...), docs/design.md §6):
the exact parameter search against what icepll and ecppll answer, refused frequencies named
with their nearest makeable neighbours, the PLL instance in the board top (and none without
``clock_mhz``), the host link's divisor and default baud at the PLL clock, the report's
timing verdict at it, and the CLI's errors for clocks that cannot be made."""

import json
import re

import pytest

from spikefab.boards.build import board_top, build_board
from spikefab.boards.pll import ecp5_pll, ice40_pll, makeable
from spikefab.boards.registry import BOARDS, bridge_makes, default_baud, get_board
from spikefab.cli import main
from spikefab.hw.elaboration import never_elaborated
from spikefab.model import HardwareConfig, reference_network

pytest.importorskip("amaranth_boards")

SMALL = reference_network((16, 12, 4), w_bits=4)
SMALL_CONFIG = HardwareConfig.uniform(SMALL, lanes=2)

# Reference values: icestorm's icepll/icepll.cc analyze() (SIMPLE feedback, with its
# FILTER_RANGE rule) and prjtrellis' libtrellis/tools/ecppll.cpp calc_pll_params(), copied
# verbatim into a small C++ program, compiled with g++ and run for these frequencies (the
# same answers `icepll -i 12 -o 24` and `ecppll -i 25 -o 75` print).
ICEPLL = {  # (f_in, f_out): (DIVR, DIVF, DIVQ, FILTER_RANGE)
    (12, 24): (0, 63, 5, 1), (12, 36): (0, 47, 4, 1), (12, 48): (0, 63, 4, 1),
    (12, 30): (0, 79, 5, 1), (12, 60): (0, 79, 4, 1)}
ECPPLL = {  # (f_in, f_out): (CLKI_DIV, CLKFB_DIV, CLKOP_DIV, CLKOP_CPHASE, f_vco)
    (25, 75): (1, 3, 8, 4, 600), (25, 100): (1, 4, 6, 2, 600), (25, 50): (1, 2, 12, 5, 600),
    (25, 62.5): (2, 5, 10, 4, 625), (25, 125): (1, 5, 5, 2, 625), (25, 80): (5, 16, 7, 3, 560),
    (25, 37.5): (2, 3, 16, 8, 600)}


@pytest.mark.parametrize("frequencies, expected", ICEPLL.items())
def test_ice40_parameters_are_icepll_s(frequencies, expected):
    p = ice40_pll(*frequencies)
    assert (p["DIVR"], p["DIVF"], p["DIVQ"], p["FILTER_RANGE"]) == expected
    # and they make the clock: f_in / (DIVR + 1) * (DIVF + 1) / 2**DIVQ, VCO in range
    f_in, f_out = frequencies
    assert f_in / (p["DIVR"] + 1) * (p["DIVF"] + 1) / 2 ** p["DIVQ"] == f_out
    assert 533 <= p["vco"] <= 1066


@pytest.mark.parametrize("frequencies, expected", ECPPLL.items())
def test_ecp5_parameters_are_ecppll_s(frequencies, expected):
    p = ecp5_pll(*frequencies)
    assert (p["CLKI_DIV"], p["CLKFB_DIV"], p["CLKOP_DIV"], p["CLKOP_CPHASE"], p["vco"]) == expected
    f_in, f_out = frequencies
    assert f_in / p["CLKI_DIV"] * p["CLKFB_DIV"] == f_out


@pytest.mark.parametrize("search, f_in, f_out, near", [
    # icepll -i 12 -o 25 answers 25.125 (DIVF 66, DIVQ 5); 24.75 is DIVF 65, DIVQ 5
    (ice40_pll, 12, 25, "24.75 and 25.125"),
    # ecppll -i 25 -o 73 answers 71.875 (CLKI_DIV 8, CLKFB_DIV 23); 75 is 25 x 3
    (ecp5_pll, 25, 73, "71.875 and 75"),
    # the OrangeCrab's 48 MHz: ecppll -i 48 -o 75 answers 74.6667 (48 / 9 x 14)
    (ecp5_pll, 48, 75, "74.6667 and 75.4286")])
def test_a_frequency_that_cannot_be_made_exactly_is_refused_naming_the_nearest(
        search, f_in, f_out, near):
    with pytest.raises(ValueError, match=f"clock_mhz = {f_out} MHz cannot be made exactly "
                                         f".*nearest frequencies it makes are {near} MHz"):
        search(f_in, f_out)


def test_out_of_range_clocks_are_refused():
    with pytest.raises(ValueError, match=r"out of range; the iCE40 PLL makes \[16, 275\] MHz"):
        ice40_pll(12, 300)
    with pytest.raises(ValueError, match=r"out of range; the ECP5 PLL makes \[10, 400\] MHz"):
        ecp5_pll(25, 5)
    with pytest.raises(ValueError, match="must be above 0"):
        ice40_pll(12, 0)
    # the slowest clock from 12 MHz: 12 x 86 / 64 (DIVF 85, the VCO at 1032 MHz, DIVQ 6)
    assert min(makeable("ice40", 12)) == 16.125 and 24 in makeable("ice40", 12)


def test_default_baud_rule():
    """At the oscillators the rule gives the registry's defaults (its docstring's table); at
    the PLL clocks of issue 23 the rates its docstring lists."""
    for board in BOARDS.values():
        assert default_baud(board) == board.default_baud
        if board.bridge:
            assert default_baud(board, board.clock_mhz) == board.default_baud
    assert default_baud("ulx3s", 75) == 3_000_000               # divisor 25
    assert default_baud("icebreaker", 24) == 6_000_000          # divisor 4: 12 Mbaud / 2
    assert default_baud("orangecrab", 75) == 115_200
    # The FTDI rates: B / d with d 1, 1.5, or >= 2 in eighths (FT231X B = 3 Mbaud)
    assert [bridge_makes("FT231XS", b) for b in (3_000_000, 2_000_000, 1_500_000, 2_500_000,
                                                 1_000_000, 1_470_588)] == [
        True, True, True, False, True, False]


PLL_CELL = re.compile(r"cell \\(EHXPLLL|SB_PLL40_\w+) ")


def _rtlil(board, top):
    plan = get_board(board).platform().prepare(top, name="top")
    return plan.files


@pytest.mark.parametrize("board, clock, cell, params, baud, divisor", [
    ("ulx3s", 75, "EHXPLLL", ("CLKI_DIV 1", "CLKFB_DIV 3", "CLKOP_DIV 8", "CLKOP_CPHASE 4",
                              'FEEDBK_PATH "CLKOP"'), 3_000_000, 25),
    ("icebreaker", 24, "SB_PLL40_PAD", ("DIVR 0", "DIVF 63", "DIVQ 5", "FILTER_RANGE 1",
                                        'FEEDBACK_PATH "SIMPLE"'), 6_000_000, 4)])
def test_the_board_top_runs_from_one_pll_at_the_clock(board, clock, cell, params, baud,
                                                      divisor):
    top = board_top(board, SMALL, SMALL_CONFIG, max_steps=15, clock_mhz=clock)
    assert (top.baud, top.link.divisor, top.link.timeout) == (baud, divisor,
                                                              int(clock * 1e6 * 0.05))
    files = _rtlil(board, top)
    rtlil = files["top.il"]
    assert PLL_CELL.findall(rtlil) == [cell]
    for param in params:
        assert f"parameter \\{param}\n" in rtlil
    # nextpnr gets the PLL clock's constraint (the LPF on ECP5, the PCF on iCE40)
    constraints = files["top.lpf"] if board == "ulx3s" else files["top.pcf"]
    assert (f'FREQUENCY NET "pll_clk" {clock * 1e6:.1f} HZ;' if board == "ulx3s" else
            f"set_frequency pll_clk {clock:.1f}") in constraints
    plain = board_top(board, SMALL, SMALL_CONFIG, max_steps=15)
    assert PLL_CELL.findall(_rtlil(board, plain)["top.il"]) == []


def test_board_top_refuses_a_clock_out_of_range():
    from spikefab.boards.top import BoardTop
    for bad in (0, -5, 401, True, "75"):
        with pytest.raises(ValueError, match=r"clock_mhz = .* is out of range; allowed: None "
                                             r"\(the board oscillator\) or a frequency in "
                                             r"\(0, 400\] MHz"):
            BoardTop(SMALL, SMALL_CONFIG, clock_mhz=bad)


def test_a_clock_the_pll_cannot_make_cannot_be_generated(tmp_path):
    with pytest.raises(ValueError, match="nearest frequencies it makes are 71.875 and 75"):
        board_top("ulx3s", SMALL, SMALL_CONFIG, clock_mhz=73)
    record = build_board("ulx3s", SMALL, SMALL_CONFIG, tmp_path, max_steps=15, clock_mhz=73,
                         synthesize=lambda *a, **k: pytest.fail("refused design built"))
    assert record["status"] == "cannot be generated" and record["clock_mhz"] == 73
    assert record["pll"] is True and record["oscillator_mhz"] == 25


def test_the_report_judges_timing_at_the_pll_clock(tmp_path):
    from spikefab.boards.report import SynthReport
    board = get_board("ulx3s")

    def report(fmax, pll):
        return SynthReport(board=board, used={"LUT": 1}, available={"LUT": 10},
                           clock="cd_sync.clk", fmax_mhz=fmax, clocks={}, cells={},
                           netlist_cells={}, bitstream=tmp_path / "top.bit",
                           build_dir=tmp_path, pll_mhz=pll)
    assert report(70.0, None).timing_met                         # 70 MHz >= 25 MHz oscillator
    missed = report(70.0, 75)
    assert missed.timing_met is False and missed.clock_mhz == 75
    assert "75 MHz PLL clock from the 25 MHz oscillator" in missed.table()
    assert "| 75.00 MHz | **FAILED** (0.93x) |" in missed.table()
    assert missed.latency_us(750).board_clock == 10.0
    assert missed.to_json()["clock"]["pll_mhz"] == 75
    assert "pll_mhz" not in report(70.0, None).to_json()["clock"]


def test_synth_fails_loudly_when_timing_is_missed_at_the_pll_clock(tmp_path, monkeypatch,
                                                                   capsys):
    from spikefab.boards import synth
    from spikefab.boards.report import SynthReport

    def stand_in(board, top, *, build_dir):
        never_elaborated(top)
        (tmp_path / "top.bit").write_bytes(b"")
        return SynthReport(board=get_board(board), used={"LUT": 1}, available={"LUT": 10},
                           clock="cd_sync.clk", fmax_mhz=70.0, clocks={}, cells={},
                           netlist_cells={}, bitstream=tmp_path / "top.bit",
                           build_dir=tmp_path, pll_mhz=top.clock_mhz)
    monkeypatch.setattr(synth, "synthesize", stand_in)
    with pytest.raises(SystemExit, match="timing is not met at the 75 MHz PLL clock: Fmax "
                                         "70.00 MHz"):
        main(["synth", "--board", "ulx3s", "--sizes", "16", "12", "4", "--clock-mhz", "75",
              "--out", str(tmp_path)])
    assert "**FAILED**" in capsys.readouterr().out
    written = json.loads((tmp_path / "ulx3s" / "report.json").read_text())
    assert written["clock"]["pll_mhz"] == 75 and written["design"]["baud"] == 3_000_000


@pytest.mark.parametrize("argv, message", [
    (["synth", "--clock-mhz", "0"], "argument --clock-mhz: 0 is out of range; allowed range "
                                    r"is \(0, 400\]"),
    (["synth", "--board", "ulx3s", "--clock-mhz", "73", "--dry-run"],
     "--clock-mhz 73: clock_mhz = 73 MHz cannot be made exactly from the 25 MHz oscillator "
     "by the ECP5 PLL; the nearest frequencies it makes are 71.875 and 75 MHz"),
    (["throughput", "--clock-mhz", "ulx3s=0"], r"allowed range is \(0, 400\]"),
    (["throughput", "--clock-mhz", "arty=50"], "unknown board 'arty'")])
def test_bad_clocks_are_one_usage_error(argv, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(argv + ["--out", str(tmp_path)])
    assert exit.value.code == 2
    assert re.search(message, capsys.readouterr().err)


@pytest.mark.parametrize("argv, message", [
    (["--board", "icebreaker", "--clock-mhz", "icebreaker=25"],
     "--clock-mhz icebreaker=25: clock_mhz = 25 MHz cannot be made exactly .* 24.75 and "
     "25.125 MHz"),
    (["--clock-mhz", "75"], "--clock-mhz 75 names no board; with several --board give "
                            "BOARD=MHZ"),
    (["--board", "icebreaker", "--clock-mhz", "ulx3s=75"], "ulx3s is not among --board")])
def test_throughput_clocks_that_cannot_run_are_one_error_line(argv, message, tmp_path):
    with pytest.raises(SystemExit, match=message):
        main(["throughput", "--demo", "digits", *argv, "--out", str(tmp_path)])
