"""``spikefab formal``: the table is printed and a failed proof ends in one error line naming
the block and the log folder (stub proofs; the real ones are tests/sim/formal)."""

import pytest

from spikefab import cli

from ..sim.formal.stubs import stub


def test_a_failed_proof_is_an_error_naming_the_block(tmp_path, monkeypatch, capsys):
    proofs = [("queue", "stream rules", "depth 4", stub("PASS")),
              ("core", "no spike lost", "N 3", stub("FAIL"))]
    monkeypatch.setattr("spikefab.sim.formal.PROOFS", proofs)
    with pytest.raises(SystemExit, match=f"error: the proofs of core failed; the logs are in "
                                         f"{tmp_path}"):
        cli.main(["formal", "--out", str(tmp_path)])
    assert "8 runs" not in capsys.readouterr().out


def test_passing_proofs_end_normally(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("spikefab.sim.formal.PROOFS",
                        [("queue", "stream rules", "depth 4", stub("PASS"))])
    assert cli.main(["formal", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "2 runs, all passed" in out and "queue" in out
