"""`make verilog` entry point: writes each block with its configuration in a header."""

import re

import pytest

from spikefab.hw import generate


def test_default_configuration_writes_every_block(tmp_path, capsys):
    generate.main(["--out", str(tmp_path)])
    for name in ("event_queue", "weight_memory", "pe_array", "lif_core", "accelerator"):
        text = (tmp_path / f"{name}.v").read_text()
        assert re.search(rf"^module {name}\(", text, flags=re.M), name
        assert text.startswith("// spikefab")
        assert "// configuration: the 64-128-10 reference network" in text
        assert "P = 4, format csc, queue depth 16" in text
    assert "wrote" in capsys.readouterr().out


def test_overrides_are_recorded(tmp_path):
    generate.main(["--out", str(tmp_path), "--lanes", "8", "--format", "bitmap", "--w-bits",
                   "8", "--leak", "mul", "--timing", "delayed"])
    text = (tmp_path / "lif_core.v").read_text()
    assert "P = 8, format bitmap" in text and "leak mul (k=None, m=7, f=3)" in text
    assert "// command: python -m spikefab.hw.generate --out" in text


def test_bad_configuration_names_the_parameter(tmp_path, capsys):
    with pytest.raises(SystemExit):
        generate.main(["--out", str(tmp_path), "--lanes", "0"])
    assert "argument --lanes: 0 is out of range; allowed range is [1, 256]" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"--layer 5 is out of range"):
        generate.main(["--out", str(tmp_path), "--layer", "5"])
