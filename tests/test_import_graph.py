"""The packages import one another one way only (docs/design.md, "Layout"):

    model <- hw <- boards <- {sim, dse} <- studies <- cli,  toolchain at the bottom

The reference never depends on what it checks, cores never touch a board or a harness, the
checks (``sim``) and the exploration (``dse``) never use each other or a study, no study
imports another (they share only :mod:`spikefab.studies.report`), and only ``cli`` reads the
command line (``argparse``) or ends the process (``raise SystemExit``). Every module of every
subpackage is read, lazy imports inside functions included."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: package -> the spikefab packages it may import.
ALLOWED = {
    "toolchain": set(),
    "model": set(),
    "hw": {"model"},
    "boards": {"model", "hw", "toolchain"},
    "sim": {"model", "hw", "boards", "toolchain"},
    "dse": {"model", "hw", "boards", "toolchain"},
    "studies": {"model", "hw", "boards", "toolchain", "sim", "dse"},
    "cli": {"model", "hw", "boards", "toolchain", "sim", "dse", "studies"},
}

#: package -> single modules of a lower package it may import besides ``ALLOWED``: the
#: golden model's long loops (training epochs, images through the cycle model) show their
#: progress with the standard-library-only :mod:`spikefab.toolchain.progress`.
ALSO_ALLOWED = {
    "model": {"spikefab.toolchain.progress"},
}

#: The one module of ``studies`` that the others may import.
STUDIES_SHARED = "report"


def modules(package):
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(path):
    """The ``spikefab.…`` module names ``path`` imports (anywhere in it, lazily or not)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            raise AssertionError(f"{path}: relative import beyond its package")
    return {name for name in found if name.startswith("spikefab.")}


def imported_packages(path):
    return {name.split(".")[1] for name in imported_modules(path)}


def test_every_package_is_known_to_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    for package in ALLOWED:
        assert f'"spikefab.{package}" = "{package}"' in text
    for init in sorted(ROOT.glob("*/**/__init__.py")):
        dotted = "spikefab." + ".".join(init.parent.relative_to(ROOT).parts)
        if init.parent.parts[len(ROOT.parts)] in ALLOWED:
            assert f'"{dotted}"' in text, f"{dotted} is not listed in pyproject.toml's packages"


def test_imports_flow_one_way():
    problems = []
    for package, allowed in ALLOWED.items():
        for path in modules(package):
            used = {name for name in imported_modules(path)
                    if not any(name == m or name.startswith(m + ".")
                               for m in ALSO_ALLOWED.get(package, ()))}
            for name in sorted({name.split(".")[1] for name in used} - allowed - {package}):
                problems.append(f"{path.relative_to(ROOT)} imports spikefab.{name}")
    assert not problems, "\n".join(problems)


def test_no_study_imports_another():
    problems = []
    for path in modules("studies"):
        for name in imported_modules(path):
            parts = name.split(".")
            if parts[1] == "studies" and len(parts) > 2 and parts[2] not in (
                    STUDIES_SHARED, path.stem) and (ROOT / "studies" / f"{parts[2]}.py").exists():
                problems.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not problems, "\n".join(problems)


def command_line_uses(path):
    """Where ``path`` imports argparse, raises ``SystemExit`` or returns one to raise
    (catching one, as a harness around cocotb does, is allowed)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names) or \
                isinstance(node, ast.ImportFrom) and node.module == "argparse":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} imports argparse")
        elif isinstance(node, ast.Raise) and node.exc is not None and "SystemExit" in {
                n.id for n in ast.walk(node.exc) if isinstance(n, ast.Name)} or \
                isinstance(node, ast.Return) and isinstance(node.value, ast.Call) and \
                getattr(node.value.func, "id", None) == "SystemExit":
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} raises SystemExit")
    return found


def test_only_the_command_line_reads_argv_or_exits():
    problems = [problem for package in sorted(set(ALLOWED) - {"cli"})
                for path in modules(package) for problem in command_line_uses(path)]
    assert not problems, "\n".join(problems)


def test_the_allowed_graph_has_no_circle():
    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, seen + (n,)))
                   for n in ALLOWED[start])
    assert not [p for p in ALLOWED if reaches(p, p)]


def test_the_checker_sees_what_it_should(tmp_path, monkeypatch):
    """The rules above can fail: a lazy import inside a function, a ``from … import`` of a
    submodule, argparse and ``SystemExit`` are all seen."""
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from spikefab.studies import compare\n"
                    "    import argparse\n    try:\n        g()\n    except SystemExit:\n        pass\n"
                    "    raise SystemExit(1)\n")
    assert imported_modules(path) == {"spikefab.studies", "spikefab.studies.compare"}
    assert [line.split(" ", 1)[1] for line in command_line_uses(path)] == [
        "imports argparse", "raises SystemExit"]
