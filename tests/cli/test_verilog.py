"""``spikefab verilog`` (`make verilog`): writes each block with its configuration and the
command line in a header; bad flags and configurations end in one line."""

import pytest

from spikefab.cli import main


def test_default_configuration_writes_every_block(tmp_path, capsys):
    main(["verilog", "--out", str(tmp_path)])
    for name in ("event_queue", "weight_memory", "pe_array", "lif_core", "accelerator"):
        assert (tmp_path / f"{name}.v").exists()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("configuration: the 64-128-10 reference network")
    assert out[1:] == [f"wrote {tmp_path / name}.v" for name in (
        "event_queue", "weight_memory", "pe_array", "lif_core", "accelerator")]


def test_overrides_are_recorded(tmp_path):
    main(["verilog", "--out", str(tmp_path), "--lanes", "8", "--format", "bitmap", "--w-bits",
          "8", "--leak", "mul", "--timing", "delayed"])
    text = (tmp_path / "lif_core.v").read_text()
    assert "P = 8, format bitmap" in text and "leak mul (k=None, m=7, f=3)" in text
    assert f"// command: spikefab verilog --out {tmp_path} --lanes 8" in text


def test_bad_configuration_names_the_parameter(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["verilog", "--out", str(tmp_path), "--lanes", "0"])
    assert exit_.value.code == 2
    assert "argument --lanes: 0 is out of range; allowed range is [1, 256]" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"^error: --layer 5 is out of range; allowed range "
                                         r"is \[0, 1\]$"):
        main(["verilog", "--out", str(tmp_path), "--layer", "5"])
    with pytest.raises(SystemExit, match=r"^error: --sizes needs at least two sizes"):
        main(["verilog", "--out", str(tmp_path), "--sizes", "64"])
    with pytest.raises(SystemExit, match=r"^error: this configuration cannot be generated: "
                                         r"m \(with f = 3\) = 9 is out of range"):
        main(["verilog", "--out", str(tmp_path), "--leak", "mul", "--m", "9", "--f", "3"])
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match=r"^error: cannot write into --out "):
        main(["verilog", "--out", str(tmp_path / "file" / "sub")])
