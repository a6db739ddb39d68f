"""The packages import one another one way only (DESIGN.md §1, §7): the reference never
depends on what it checks, cores never touch a board or a harness, and no two packages import
each other (which a circle between ``sim`` and ``boards`` once did)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: package -> the spikefab packages it may import.
ALLOWED = {
    "model": set(),
    "toolchain": set(),
    "hw": {"model"},
    "boards": {"model", "hw", "toolchain"},
    "sim": {"model", "hw", "toolchain", "boards"},
    "cli": {"model", "hw", "toolchain", "boards", "sim"},
}


def imported_packages(path):
    """The ``spikefab.<package>`` names a module imports (anywhere in it, lazily or not)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level > 1:
            raise AssertionError(f"{path}: relative import beyond its package")
        for name in names:
            parts = name.split(".")
            if parts[0] == "spikefab" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_every_package_is_known_to_pyproject():
    text = (ROOT / "pyproject.toml").read_text()
    for package in ALLOWED:
        assert f'"spikefab.{package}" = "{package}"' in text


def test_imports_flow_one_way():
    problems = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).glob("*.py")):
            for used in imported_packages(path) - allowed - {package}:
                problems.append(f"{path.relative_to(ROOT)} imports spikefab.{used}")
    assert not problems, "\n".join(problems)


def test_the_allowed_graph_has_no_circle():
    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, seen + (n,)))
                   for n in ALLOWED[start])
    assert not [p for p in ALLOWED if reaches(p, p)]
