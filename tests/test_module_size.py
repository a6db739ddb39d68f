"""The project's limit of 1,000 lines per module (issue 23: dse/spec.py had 1,160)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "hw", "boards", "sim", "dse", "studies", "cli", "toolchain")
LIMIT = 1000


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_has_at_most_1000_lines(package):
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
             for path in sorted((ROOT / package).rglob("*.py"))}
    assert sizes, f"no modules found in {package}/"
    assert {name: n for name, n in sizes.items() if n > LIMIT} == {}
