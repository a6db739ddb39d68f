"""Gate-level simulation of the accelerator (:mod:`spikefab.sim.gatesim.netlist`): its iCE40
and ECP5 netlists (yosys with the board flow's options) under cocotb + Verilator with the
vendor cell models, compared with the golden model and the cycle model; a changed netlist is
caught; the port helpers and the pad wrapper by hand.

Every test synthesizes and builds its own netlist (nothing is shared between tests).
"""

import re

import numpy as np
import pytest
from spikefab.model import HardwareConfig, reference_network

from ...hw.accelerator_cases import check_against_golden
from .helpers import needs_tools

netlist = pytest.importorskip("spikefab.sim.gatesim.netlist")


@pytest.mark.slow
@needs_tools
def test_random_network_on_the_icebreaker_netlist_with_random_power_up_state(tmp_path):
    """A 4-20-15 network (bitmap format, P = 1 and 2, ``mul`` leak, delayed zero reset); its
    weight and membrane memories are SB_RAM40_4K block RAMs (INIT parameters). Power-up values
    of uninitialised state are random (``x_initial="random"``): the result must not depend on
    them."""
    network, config, trains, _ = netlist.random_case(5, seed=7, max_neurons=20)
    run = netlist.run_gate_level(network, config, trains, board="icebreaker",
                                  build_dir=tmp_path, x_initial="random", seed=12345)
    assert run.extra["synth_command"] == "synth_ice40 -dsp -spram -top accelerator"
    assert run.extra["cells"].get("SB_RAM40_4K", 0) >= 2
    assert run.extra["collision_model"]
    assert run.extra["x_initial"] == "random"
    check_against_golden(network, config, trains, run)


@pytest.mark.slow
@needs_tools
def test_the_netlist_sees_no_input_before_the_harness_drives_it(tmp_path):
    """The smallest case of two harness bugs (``x_initial="random"``), both through the
    run-time weight port ``load``: a 4-4 layer of weights 1 (dense, P = 1) whose neurons reach
    their threshold exactly, so rewriting any weight changes spikes. When the harness
    simulated the netlist's own top, Verilator started its input ports at random values:

    * seed 12345: ``load__valid`` 1 and ``load__payload`` ``0b1100001010`` (``WEIGHTS``,
      address 2, data -4) for the whole run, since the cocotb test never drove ``load``:
      neuron 2's weight from input 0 became -4 and neuron 2 never fired (layer 1 spikes
      ``[[0 0 0 0], [1 1 0 1]]`` instead of ``[[0 0 0 0], [1 1 1 1]]``);
    * seed 2: the top-level ``clk`` started at 1 over the module's copy at 0, a rising edge
      at time 0 before cocotb could drive anything, with ``load__valid`` 1 and
      ``load__payload`` ``0b0100001010`` (address 2, data 4): that weight became 4 and
      neuron 2 fired in step 0 (``[[0 0 1 0], [1 1 1 1]]``), even with ``load`` driven idle.

    The port-less wrapper (``driver_wrapper``) starts every input defined and clocks nothing
    before the test does."""
    from spikefab.model import Layer, Network
    network = Network([Layer(np.ones((4, 4), dtype=int), theta=4, w_bits=4, v_bits=8,
                             reset="zero")])
    config = HardwareConfig.uniform(network, lanes=1, format="dense", queue_depth=2)
    trains = np.ones((1, 2, 4), dtype=bool)
    mapped = netlist.accelerator_netlist(network, config, board="icebreaker",
                                         build_dir=tmp_path / "synth", max_steps=2)
    for seed in (2, 12345):
        run = netlist.simulate_netlist(mapped, network, config, trains,
                                       build_dir=tmp_path / f"sim{seed}", x_initial="random",
                                       seed=seed)
        wrapper = (tmp_path / f"sim{seed}" / "gate_top.v").read_text()
        assert wrapper.startswith("module gate_top;\n")
        assert "  reg load__valid = 1'h0;\n" in wrapper
        check_against_golden(network, config, trains, run)


@pytest.mark.slow
@needs_tools
def test_random_network_on_the_ulx3s_netlist_with_a_dp16kd_block_ram(tmp_path):
    """A layer of 8 lanes whose weight store is a 36-bit DP16KD (the harness's model of the
    vendor blackbox: INITVAL rows, the 36-bit pair of rows, the read port)."""
    network = reference_network((48, 24, 4), w_bits=4, density=0.5, steps=4, seed=3)
    config = HardwareConfig.uniform(network, lanes=8, format="dense", queue_depth=4)
    trains = np.random.default_rng(5).random((2, 4, 48)) < 0.3
    run = netlist.run_gate_level(network, config, trains, family="ecp5", build_dir=tmp_path)
    assert run.extra["synth_command"] == "synth_ecp5 -top accelerator"
    assert run.extra["cells"].get("DP16KD", 0) >= 1
    assert "DATA_WIDTH_A(32'd36)" in (tmp_path / "synth" / "accelerator.netlist.v").read_text()
    check_against_golden(network, config, trains, run)


@pytest.mark.slow
@needs_tools
def test_pe_accumulators_in_a_9_bit_dp16kd_on_the_ulx3s_netlist(tmp_path):
    """A 256-neuron layer on one lane: yosys maps its PE accumulator (a read port transparent
    to the write port) to a 9-bit DP16KD, written through one port while the other reads the
    next word, the other half of the same 18-bit row. The first DP16KD model made that whole
    row undefined and this netlist "differed" (as did the MNIST conv net's); only the cells
    being written are (``tests/sim/gatesim/test_dp16kd.py``)."""
    network = reference_network((16, 256, 4), w_bits=4, density=0.5, steps=4, seed=1)
    config = HardwareConfig.uniform(network, lanes=[1, 4])
    trains = np.random.default_rng(0).random((2, 4, 16)) < 0.4
    run = netlist.run_gate_level(network, config, trains, family="ecp5", build_dir=tmp_path)
    log = (tmp_path / "synth" / "accelerator.synth.log").read_text()
    assert "mapping memory accelerator.layer1.pes.pe0 via $__DP16KD_" in log
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
    mapped = netlist.accelerator_netlist(network, config, family="ice40",
                                         build_dir=tmp_path / "synth", max_steps=3)
    original = mapped.path.read_text()
    mapped.path.write_text(_invert_first_weight_word(original))
    assert mapped.path.read_text() != original
    run = netlist.simulate_netlist(mapped, network, config, trains, build_dir=tmp_path / "sim")
    problems, _ = mismatches(network, config, trains, run)
    assert problems
    assert any("spikes differ" in p or "synaptic_updates" in p for p in problems), problems


@pytest.mark.slow
@needs_tools
def test_a_conv_network_on_the_convolution_core_in_the_ulx3s_netlist(tmp_path):
    """Two conv layers on the convolution core in the ECP5 netlist: decode table and kernel
    memory as block RAM or LUTs as yosys maps them, every spike, count, class, cycle and
    counter equal to the golden and cycle models. (``spikefab gatesim --conv 2`` also runs
    the dense baseline, case 1.)"""
    network, config, trains, description = netlist.conv_case(0, seed=3)
    assert "kernel" in description and "dense" not in description
    run = netlist.run_gate_level(network, config, trains, board="ulx3s", build_dir=tmp_path)
    check_against_golden(network, config, trains, run)


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
    assert netlist.top_ports(NETLIST, "top") == ["uart_0__tx__io", "led_0__io",
                                                  "clk12_0__io", "bus"]
    assert netlist.port_directions(NETLIST, "top") == {
        "uart_0__tx__io": ("inout", 1), "led_0__io": ("output", 1),
        "clk12_0__io": ("input", 1), "bus": ("inout", 2)}
    wrapper = netlist.pad_wrapper(NETLIST, "top")
    assert wrapper.startswith("module gate_top(input uart_0__tx__io__drive, "
                              "input uart_0__tx__io__oe, output uart_0__tx__io__value, "
                              "output led_0__io, input clk12_0__io, ")
    assert "assign uart_0__tx__io = uart_0__tx__io__oe ? uart_0__tx__io__drive : 1'bz;" \
        in wrapper
    assert "assign bus[1] = bus__oe[1] ? bus__drive[1] : 1'bz;" in wrapper
    assert wrapper.rstrip().endswith("top dut(.uart_0__tx__io(uart_0__tx__io), "
                                     ".led_0__io(led_0__io), .clk12_0__io(clk12_0__io), "
                                     ".bus(bus));\nendmodule")


@pytest.mark.parametrize("runtime_weights", [None, [True, False]])
def test_the_harness_drives_every_input_port_of_the_accelerator(runtime_weights):
    """Every input of the accelerator is one the cocotb harness drives, the run-time
    ``load`` port included (left undriven, it once kept a random power-up value and
    rewrote weights)."""
    pytest.importorskip("cocotb")
    from spikefab.hw.accelerator import HARDWARE_TIMING, Accelerator
    from spikefab.hw.verilog import convert
    from spikefab.sim.cocotb_accelerator import DRIVEN_INPUTS
    network = reference_network((8, 6, 4), w_bits=4, steps=2)
    config = HardwareConfig.uniform(network, lanes=2, format="csc", queue_depth=2,
                                    timing=HARDWARE_TIMING)
    verilog = convert(Accelerator(network, config, max_steps=2, taps=True,
                                  runtime_weights=runtime_weights), "accelerator")
    inputs = {name for name, (direction, _) in
              netlist.port_directions(verilog, "accelerator").items() if direction == "input"}
    assert {"load__valid", "load__payload"} <= inputs <= set(DRIVEN_INPUTS)
    assert DRIVEN_INPUTS["load__valid"] == 0 and DRIVEN_INPUTS["rst"] == 1


ACCELERATOR = """\
module acc(clk, rst, load__payload, idle, taps);
  input clk;
  wire clk;
  input rst;
  input [29:0] load__payload;
  output idle;
  output [15:0] taps;
endmodule
"""


def test_driver_wrapper_by_hand():
    """The gate-level top: no ports; a register per input, declared with its first value,
    and a wire per output; an input without a value or an ``inout`` pad is refused."""
    wrapper = netlist.driver_wrapper(ACCELERATOR, "acc",
                                     {"clk": 0, "rst": 1, "load__payload": 5})
    assert wrapper == ("module gate_top;\n"
                       "  reg clk = 1'h0;\n"
                       "  reg rst = 1'h1;\n"
                       "  reg [29:0] load__payload = 30'h5;\n"
                       "  wire idle;\n"
                       "  wire [15:0] taps;\n"
                       "  acc dut(.clk(clk), .rst(rst), .load__payload(load__payload), "
                       ".idle(idle), .taps(taps));\nendmodule\n")
    with pytest.raises(ValueError, match="input port load__payload of acc has no initial"):
        netlist.driver_wrapper(ACCELERATOR, "acc", {"clk": 0, "rst": 1})
    with pytest.raises(ValueError, match="inout port uart_0__tx__io of top"):
        netlist.driver_wrapper(NETLIST, "top", {"clk12_0__io": 0})


def test_bad_arguments():
    network = reference_network((8, 4), w_bits=4, steps=2)
    config = HardwareConfig.uniform(network, lanes=2)
    with pytest.raises(ValueError, match="family = 'xc7' is not supported"):
        netlist.run_gate_level(network, config, np.zeros((2, 8)), family="xc7")
    with pytest.raises(ValueError, match="board 'ulx3s' is an ecp5 board, not ice40"):
        netlist.run_gate_level(network, config, np.zeros((2, 8)), family="ice40",
                                board="ulx3s")
    with pytest.raises(TypeError, match="GateNetlist"):
        netlist.simulate_netlist(None, network, config, np.zeros((2, 8)))

