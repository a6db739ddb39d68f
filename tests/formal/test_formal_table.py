"""The entry point of ``make formal`` (``python -m spikefab.sim.formal``): it runs a proof
of every block and prints one table row per sby run. Checked here with stub runs (the real
runs are the other tests of this folder)."""

from pathlib import Path

import pytest

from spikefab.sim.formal import PROOFS, FormalResult, main, prove_all


def test_every_block_has_a_proof():
    blocks = {block.split()[0] + " " + block.split()[1] for block, *_ in PROOFS}
    assert blocks == {"event queue", "weight mem", "PE array", "LIF core"}


def _stub(status):
    def run(workdir):
        return (FormalResult("prove", 2, status, 0.5, Path(workdir), "", []),
                FormalResult("cover", 8, "PASS", 0.25, Path(workdir),
                             "reached cover statement\n" * 3, []))
    return run


def test_table_rows_and_exit_status(tmp_path, monkeypatch, capsys):
    lines = []
    proofs = [("queue", "stream rules", "depth 4", _stub("PASS")),
              ("core", "no spike lost", "N 3", _stub("FAIL"))]
    rows = prove_all(tmp_path, proofs=proofs, echo=lines.append)
    assert lines[0].split() == ["block", "property", "mode", "depth", "result", "seconds"]
    assert lines[2].split() == ["queue", "stream", "rules", "k-ind", "2", "PASS", "0.5"]
    assert lines[3].split() == ["queue", "covers", "reached:", "3", "cover", "8", "PASS",
                                "0.2"]
    assert lines[4].split()[-2:] == ["FAIL", "0.5"]
    assert lines[-2:] == [f"{'queue':<17} depth 4", f"{'core':<17} N 3"]
    assert [result.status for _block, result in rows] == ["PASS", "PASS", "FAIL", "PASS"]
    monkeypatch.setattr("spikefab.sim.formal.PROOFS", proofs)
    with pytest.raises(SystemExit, match="error: the proofs of core failed"):
        main(["--out", str(tmp_path)])
    assert "FAILED" in capsys.readouterr().out
