"""The wheel as a user installs it: built from this source tree, installed into a clean
virtual environment (no extras, nothing from the test environment), and run from an empty
folder with relative paths.

What it checks is the README's promise outside the checkout: the base install generates
Verilog; every command that needs an extra ends in one ``error:`` line naming the extra
(never a traceback, never an empty output folder); and with only the ``nir`` extra added, a
NIR file imports, while the co-simulation it asks for by default names the ``sim`` extra.

pip fetches the base dependencies (NumPy, Amaranth) from the package index, as a user's
pip does; on this project's machines they come from pip's cache.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: what is not part of a source distribution of the project
_NOT_SOURCE = shutil.ignore_patterns(".venv*", "build", "dist", ".git", "*.egg-info",
                                     "__pycache__", ".pytest_cache", ".hypothesis")

#: command line -> the extras its one error line must name
NEEDS_AN_EXTRA = [
    (["synth", "--board", "icebreaker"], ["fpga"]),
    (["prog", "--board", "icebreaker"], ["fpga"]),
    (["run", "--board", "icebreaker", "--port", "/dev/null"], ["fpga"]),
    (["demo", "--quick", "--board", "none"], ["demo", "sim"]),
    (["demo", "--dataset", "mnist", "--quick"], ["demo", "sim", "train"]),
    (["bench"], ["sim"]),
    (["compare", "--quick"], ["demo", "fpga"]),
    (["train"], ["train"]),
    (["codesign", "--quick"], ["train", "demo"]),
    (["dse", "--preset", "quick"], ["dse"]),
    (["gatesim"], ["demo", "sim", "fpga"]),
    (["formal"], ["formal"]),
    (["soak", "--cases", "4"], ["sim"]),
    (["fuzz", "--frames", "4"], ["sim"]),
]


def _run(command, cwd, timeout=900):
    process = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True,
                             text=True, timeout=timeout)
    return process


def _explain(process):
    return f"exit {process.returncode}\n{process.stdout[-2000:]}\n{process.stderr[-3000:]}"


@pytest.fixture(scope="module")
def clean_install(tmp_path_factory):
    """``(spikefab, pip, empty folder)``: the wheel installed alone into a new environment."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCE)
    built = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                  base / "dist", source], base)
    assert built.returncode == 0, _explain(built)
    wheel, = (base / "dist").glob("spikefab-*.whl")
    venv = base / "clean"
    made = _run([sys.executable, "-m", "venv", venv], base)
    assert made.returncode == 0, _explain(made)
    pip = venv / "bin" / "pip"
    installed = _run([pip, "install", "--quiet", wheel], base)
    assert installed.returncode == 0, _explain(installed)
    empty = base / "empty"
    empty.mkdir()
    return venv / "bin" / "spikefab", pip, empty


@pytest.mark.slow
def test_the_base_install_generates_verilog(clean_install):
    spikefab, _, empty = clean_install
    folder = empty / "verilog-run"
    folder.mkdir()
    process = _run([spikefab, "verilog"], folder)
    assert process.returncode == 0, _explain(process)
    written = sorted(p.name for p in (folder / "build" / "verilog").glob("*.v"))
    assert "accelerator.v" in written and len(written) >= 4


@pytest.mark.slow
@pytest.mark.parametrize("argv, extras", NEEDS_AN_EXTRA, ids=[" ".join(a) for a, _ in NEEDS_AN_EXTRA])
def test_a_missing_extra_ends_in_one_line_naming_it(clean_install, argv, extras):
    spikefab, _, empty = clean_install
    folder = empty / "-".join(argv[:2])
    folder.mkdir()
    process = _run([spikefab, *argv], folder)
    assert process.returncode == 1, _explain(process)
    assert "Traceback" not in process.stderr, _explain(process)
    lines = process.stderr.strip().splitlines()
    assert len(lines) == 1, _explain(process)
    assert lines[0].startswith(f"error: spikefab {argv[0]} needs "), lines[0]
    assert f"pip install 'spikefab[{','.join(extras)}]'" in lines[0], lines[0]
    assert list(folder.iterdir()) == [], "a refused command left files or folders behind"


@pytest.mark.slow
def test_with_the_nir_extra_a_nir_file_imports(clean_install, tmp_path):
    """Only ``nir`` added: ``nir import`` reads a graph written by the test environment's own
    export; its default co-simulation names the ``sim`` extra, ``--cosim 0`` skips it."""
    spikefab, pip, empty = clean_install
    import numpy as np
    from spikefab.model import to_nir
    from spikefab.sim.random_networks import random_network
    network = random_network(np.random.default_rng(3), [12, 6, 3])
    folder = empty / "nir-run"
    folder.mkdir()
    to_nir(network, folder / "graph.nir")

    added = _run([pip, "install", "--quiet", "nir>=1.0.4,<2"], folder)
    assert added.returncode == 0, _explain(added)

    process = _run([spikefab, "nir", "import", "graph.nir"], folder)
    assert process.returncode == 1 and "Traceback" not in process.stderr, _explain(process)
    assert "pip install 'spikefab[sim]'" in process.stderr.strip().splitlines()[-1]

    process = _run([spikefab, "nir", "import", "graph.nir", "--cosim", "0", "--out", "imported"],
                   folder)
    assert process.returncode == 0, _explain(process)
    assert (folder / "imported" / "network.npz").exists(), _explain(process)
