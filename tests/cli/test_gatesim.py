"""``spikefab gatesim``'s command line (the gate-level flow itself is tests/sim/gatesim/)."""

import pytest

from spikefab.cli import main


def test_cli_flags_are_checked(capsys):
    for flags, message in ((["--board-samples", "-1"], "--board-samples"),
                           (["--random", "x"], "--random"),
                           (["--board", "arty"], "--board")):
        with pytest.raises(SystemExit) as exit_:
            main(["gatesim", *flags])
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err


def test_an_output_folder_that_cannot_be_made_is_one_error_line(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match=r"^error: cannot create --out .*file/sub"):
        main(["gatesim", "--out", str(tmp_path / "file" / "sub"), "--random", "0",
              "--conv", "0", "--samples", "0", "--board-samples", "0"])


def test_nothing_to_check_writes_an_empty_summary(tmp_path, capsys):
    import json
    status = main(["gatesim", "--out", str(tmp_path), "--random", "0", "--conv", "0",
                   "--samples", "0", "--board-samples", "0"])
    assert status == 0
    written = json.loads((tmp_path / "gatesim.json").read_text())
    assert written["cases"] == written["matched"] == 0
    assert "0 of 0 accelerator-level cases matched" in capsys.readouterr().out
