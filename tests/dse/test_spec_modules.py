"""spikefab.dse.spec split in three (issue 23: it had 1,160 lines): the constants, SpecError
and the checks in spec_base, Point and LayerShape in points; every public name is still
importable from spikefab.dse.spec (where docs/api/dse.md and the docstrings name it) as the
same object, and each module imports alone (no import cycle)."""

import subprocess
import sys

from spikefab.dse import points, spec, spec_base


def test_the_public_names_of_spec_are_the_new_modules_objects():
    for name in spec_base.__all__:
        assert getattr(spec, name) is getattr(spec_base, name), name
    for name in points.__all__:
        assert getattr(spec, name) is getattr(points, name), name
    assert set(spec_base.__all__) | set(points.__all__) <= set(spec.__all__)
    assert spec.Point.__module__ == "spikefab.dse.points"
    assert spec.SpecError.__module__ == "spikefab.dse.spec_base"


def test_each_module_imports_first_in_a_fresh_interpreter():
    for module in ("spikefab.dse.spec_base", "spikefab.dse.points", "spikefab.dse.spec"):
        result = subprocess.run([sys.executable, "-c", f"import {module}"],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_a_bad_point_still_raises_spec_error_naming_the_key():
    import pytest
    with pytest.raises(spec.SpecError, match=r"point\.steps = 0 is out of range; allowed "
                                             r"range is \[1, 65535\]"):
        spec.Point(4, 0.5, 0, "rate", "csc", 16, (2, 2))
