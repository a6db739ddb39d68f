"""``spikefab`` — one command for the whole tool.

=========== ===================================================== =================
command     what it does                                          make target
=========== ===================================================== =================
``verilog`` the accelerator's and its blocks' Verilog              ``make verilog``
``synth``   bitstream and resource/Fmax/latency report for a board ``make synth``
``prog``    program a board with openFPGALoader                    ``make prog``
``run``     load the network into a board, run samples, compare    ``make run``
``demo``    train → convert → co-simulate → synthesize → report    ``make demo``
``bench``   benchmark tables (cycles, ratios, co-simulation speed) ``make bench``
``compare`` spikefab beside Spiker+ on MNIST 784-128-10          ``make compare``
``train``   surrogate-gradient training: network.npz, model.nir, report  —
``codesign`` beta x threshold sweep: accuracy, activity, cycles, Pareto  ``make codesign``
``nir``     import a .nir graph (report, co-simulate) or export one    —
``gatesim`` gate-level simulation of a board's synthesized netlists     ``make gatesim``
``formal``  SymbiYosys proofs of the four blocks                       ``make formal``
``fuzz``    host-link fuzzing in Verilator (10,000 frames)             ``make fuzz``
``soak``    10,000 random network x input co-simulations in Verilator  ``make soak``
=========== ===================================================== =================

``spikefab --help``, ``spikefab <command> --help`` and ``spikefab --version``. Installed
as a console script by ``pip install spikefab`` (and ``python -m spikefab.cli``); the make
targets call it, so a clone and a pip install have the same front door. Each command's options
live beside the feature they drive (``spikefab.hw.generate``, ``spikefab.boards.cli``,
``spikefab.sim.demo``, ``spikefab.sim.bench``, ``spikefab.sim.compare``); this module
only gathers them.

Relative paths (``--out``, ``--network``, ``--spikes``) are resolved against the folder the
command starts in, once, before any tool or simulator runs in a folder of its own. Every
error a user can cause ends in one line naming what failed and what to do: a bad flag value
is refused by argparse naming the flag and its allowed range; a configuration the generator
refuses, a file that cannot be read, a design that does not fit or a tool that fails ends in
``error: …``.
"""

import argparse
import sys
from importlib.metadata import version

__all__ = ["COMMANDS", "main", "parser"]

#: ``name: (module, function that runs, help, extra arguments of its add_arguments)``; each
#: module's ``add_arguments(parser, *extra)`` adds the command's options.
COMMANDS = {
    "verilog": ("spikefab.hw.generate", "run",
                "write the accelerator's and its blocks' Verilog (build/verilog/)", ()),
    "synth": ("spikefab.boards.cli", "synth",
              "synthesize, place and route for a board: bitstream and resource/Fmax report",
              ("synth",)),
    "prog": ("spikefab.boards.cli", "prog", "program a board with openFPGALoader",
             ("prog",)),
    "run": ("spikefab.boards.cli", "run",
            "load the network into a board, run samples and compare with the golden model",
            ("run",)),
    "demo": ("spikefab.sim.demo", "run",
             "the co-design flow on the digits classifier: train, convert, co-simulate, "
             "synthesize, report (build/demo/)", ()),
    "bench": ("spikefab.sim.bench", "run",
              "benchmark tables: golden-model throughput, sparsity gain, co-simulation speed",
              ()),
    "compare": ("spikefab.sim.compare", "run",
                "spikefab beside Spiker+ on MNIST 784-128-10: accuracy, cycles, LUT6, board "
                "builds, Fmax, µs per image, cycles-vs-LUT curve (build/compare/)", ()),
    "train": ("spikefab.sim.train_cli", "run",
              "train an SNN with surrogate gradients in the hardware's integer arithmetic: "
              "network.npz, model.nir, report (build/train/)", ()),
    "dse": ("spikefab.sim.dse", "run",
            "design-space exploration on Dask: golden accuracy, cycles, energy and synthesis "
            "over a sweep; Pareto fronts, LHR study (build/dse/)", ()),
    "codesign": ("spikefab.sim.codesign", "run",
                 "co-design study on MNIST: sweep beta x threshold (x surrogate slope), train "
                 "each point, golden accuracy, activity, cycles, Pareto front (build/codesign/)",
                 ()),
    "nir": ("spikefab.sim.nir_cli", "run",
            "NIR exchange: import a .nir graph (report, co-simulate under Verilator) or export "
            "a network as .nir", ()),
    "gatesim": ("spikefab.sim.gatesim", "run",
                "gate-level simulation of a board's synthesized netlists (the accelerator as "
                "the board's yosys maps it, and the bitstream's own netlist through its UART) "
                "against the golden and cycle models (build/gatesim/)", ()),
    "formal": ("spikefab.sim.formal", "run",
               "SymbiYosys proofs of the event queue, weight memory, PE array and LIF emitter "
               "(build/formal/)", ()),
    "soak": ("spikefab.sim.soak", "run",
             "soak: random network x input co-simulations in Verilator (10,000 cases by "
             "default) against the golden and cycle models (build/soak/)", ()),
    "fuzz": ("spikefab.sim.link_fuzz", "run",
             "fuzz the UART host link in Verilator with malformed, truncated, oversized, "
             "corrupted and out-of-order frames; check every reply and the inference after", ()),
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
    for name, (module_name, function, helptext, extra) in COMMANDS.items():
        module = importlib.import_module(module_name)
        s = sub.add_parser(name, help=helptext, description=helptext)
        module.add_arguments(s, *extra)
        s.set_defaults(run=getattr(module, function))
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
    args.run(args)
    return 0
