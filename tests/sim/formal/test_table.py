"""The proof suite of ``make formal`` (:data:`spikefab.sim.formal.PROOFS`,
:func:`~spikefab.sim.formal.prove_all`): a proof of every block, one table row per sby run.
Checked here with stub runs (the real runs are the other tests of this folder; the command
line is tests/cli/test_formal.py)."""

from spikefab.sim.formal import PROOFS, prove_all
from spikefab.sim.formal.conv_address import GEOMETRIES

from .stubs import stub


def test_every_block_has_a_proof():
    blocks = {block.split()[0] + " " + block.split()[1] for block, *_ in PROOFS}
    assert blocks == {"event queue", "weight mem", "PE array", "LIF core", "conv addr"}


def test_conv_address_proved_for_each_geometry():
    proved = [block for block, *_ in PROOFS if block.startswith("conv addr")]
    assert proved == [f"conv addr {name}" for name in GEOMETRIES]
    strides_above_kernel = [g for g in GEOMETRIES.values()
                            if any(s > k for s, k in zip(g.stride, g.kernel))]
    assert strides_above_kernel and any(g.kernel == (1, 1) for g in GEOMETRIES.values())
    assert any(g.padding != (0, 0) for g in GEOMETRIES.values())


def test_table_rows(tmp_path):
    lines = []
    proofs = [("queue", "stream rules", "depth 4", stub("PASS")),
              ("core", "no spike lost", "N 3", stub("FAIL"))]
    rows = prove_all(tmp_path, proofs=proofs, echo=lines.append)
    assert lines[0].split() == ["block", "property", "mode", "depth", "result", "seconds"]
    assert lines[2].split() == ["queue", "stream", "rules", "k-ind", "2", "PASS", "0.5"]
    assert lines[3].split() == ["queue", "covers", "reached:", "3", "cover", "8", "PASS",
                                "0.2"]
    assert lines[4].split()[-2:] == ["FAIL", "0.5"]
    assert lines[-2:] == [f"{'queue':<24} depth 4", f"{'core':<24} N 3"]
    assert [result.status for _block, result in rows] == ["PASS", "PASS", "FAIL", "PASS"]
