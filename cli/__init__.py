"""``spikefab`` — one command for the whole tool.

Every command is one module of this package, named by what the user types
(``spikefab synth`` is :mod:`spikefab.cli.synth`), with ``add_arguments(parser)`` and
``run(args)``; :data:`COMMANDS` lists them with their help line. The argparse types they share
are :mod:`spikefab.cli.args`. Only this package reads the command line or ends the process
(``SystemExit``); the library below it raises exceptions. ``spikefab --help``,
``spikefab <command> --help`` and ``spikefab --version``; installed as a console script
(and ``python -m spikefab.cli``); the make targets call it, so a clone and a pip install have
the same front door.

Relative paths (``--out``, ``--network``, ``--spikes``) are resolved against the folder the
command starts in, once, before any tool or simulator runs in a folder of its own. Every
error a user can cause ends in one line naming what failed and what to do: a bad flag value
is refused by argparse naming the flag and its allowed range; a configuration the generator
refuses, a file that cannot be read, a design that does not fit or a tool that fails ends in
``error: …``.
"""

import argparse
import os
import shutil
import sys
from importlib.metadata import version
from pathlib import Path

from spikefab.cli.args import fail
from spikefab.cli.extras import extra_of, install_hint, missing_extras
from spikefab.toolchain import ToolNotFound

__all__ = ["COMMANDS", "main", "parser"]

#: ``name: help``; the command lives in the module :mod:`spikefab.cli.<name>`, which has
#: ``add_arguments(parser)`` (its options) and ``run(args)`` (what it does).
COMMANDS = {
    "verilog": "write the accelerator's and its blocks' Verilog (build/verilog/)",
    "synth": "synthesize, place and route for a board: bitstream and resource/Fmax report",
    "prog": "program a board with openFPGALoader",
    "run": "load the network into a board, run samples and compare with the golden model",
    "demo": "the co-design flow on the digits classifier: train, convert, co-simulate, "
            "synthesize, report (build/demo/)",
    "bench": "benchmark tables: golden-model throughput, sparsity gain, co-simulation speed",
    "compare": "spikefab beside Spiker+ on MNIST 784-128-10: accuracy, cycles, LUT6, board "
               "builds, Fmax, µs per image, cycles-vs-LUT curve (build/compare/)",
    "train": "train an SNN with surrogate gradients in the hardware's integer arithmetic: "
             "network.npz, model.nir, report (build/train/)",
    "dse": "design-space exploration on Dask: golden accuracy, cycles, energy and synthesis "
           "over a sweep; Pareto fronts, LHR study (build/dse/)",
    "codesign": "co-design study on MNIST: sweep beta x threshold (x surrogate slope), train "
                "each point, golden accuracy, activity, cycles, Pareto front (build/codesign/)",
    "cosim": "co-simulate a saved network on test images under Verilator: hardware = golden "
             "model = cycle model, accuracy, cycles per image (build/cosim/)",
    "nir": "NIR exchange: import a .nir graph (report, co-simulate under Verilator) or export "
           "a network as .nir",
    "gatesim": "gate-level simulation of a board's synthesized netlists (the accelerator as "
               "the board's yosys maps it, and the bitstream's own netlist through its UART) "
               "against the golden and cycle models (build/gatesim/)",
    "formal": "SymbiYosys proofs of the event queue, weight memory, PE array, LIF emitter and "
              "convolution address generator (build/formal/)",
    "soak": "soak: random network x input co-simulations in Verilator (10,000 cases by "
            "default) against the golden and cycle models (build/soak/)",
    "fuzz": "fuzz the UART host link in Verilator with malformed, truncated, oversized, "
            "corrupted and out-of-order frames; check every reply and the inference after",
    "throughput": "images per second end to end through each board's host link (the host "
                  "driver over the Verilator model at the board's clock and baud rate) "
                  "beside the compute-only µs per image (build/throughput/)",
}


def parser():
    """The ``spikefab`` argument parser with every command's options."""
    import importlib
    p = argparse.ArgumentParser(
        prog="spikefab",
        description="Sparsity-aware SNN accelerators for open FPGAs: generate, verify, "
                    "synthesize, run.")
    p.add_argument("--version", action="version",
                   version=f"spikefab {version('spikefab')}")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    for name, helptext in COMMANDS.items():
        module = importlib.import_module(f"spikefab.cli.{name}")
        s = sub.add_parser(name, help=helptext, description=helptext)
        module.add_arguments(s)
        s.set_defaults(run=module.run)
    return p


def main(argv=None):
    """Run ``spikefab`` with ``argv`` (default: the command line); returns 0, or raises
    ``SystemExit`` with an ``error: …`` line."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bench"]:
        # The golden-model figure is per core: one BLAS thread, set before NumPy loads.
        from spikefab.toolchain import pin_blas_threads
        pin_blas_threads()
    args = parser().parse_args(argv)
    args.argv = argv[1:]
    missing = missing_extras(args.command, args)
    if missing:
        raise fail(missing)
    new_folder = _first_missing_folder(getattr(args, "out", None))
    try:
        args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader of a pipe (``spikefab bench | head``) has gone: stop quietly, with no
        # traceback, and keep Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except BaseException as error:
        _remove_if_empty(new_folder)
        replacement = _one_line(args.command, error)
        if replacement is error:
            raise
        raise replacement from None
    return 0


def _one_line(command, error):
    """The ``SystemExit`` a missing optional package or tool ends in (one ``error:`` line
    naming the extra to install); any other exception is returned as it is."""
    if isinstance(error, ModuleNotFoundError):
        extra = extra_of(error.name)
        if extra is not None:
            module = error.name.split(".")[0]
            return fail(f"spikefab {command} needs {module} (the {extra} extra), which is "
                        f"not installed: {install_hint([extra])}")
    if isinstance(error, ToolNotFound):
        return fail(str(error))
    return error


def _first_missing_folder(path):
    """The outermost folder of ``path`` that does not exist yet (what the command will
    create), or ``None``."""
    if path is None:
        return None
    path, first = Path(path), None
    while not path.exists() and path != path.parent:
        first, path = path, path.parent
    return first


def _remove_if_empty(folder):
    """Remove ``folder``, created by a command that failed, when it holds no file."""
    if folder is None or not folder.is_dir():
        return
    if any(p.is_file() or p.is_symlink() for p in folder.rglob("*")):
        return
    shutil.rmtree(folder, ignore_errors=True)
