"""The Verilog writer behind `make verilog` (:func:`spikefab.hw.generate.write_verilog`):
each block with its configuration in a header. The command line is tests/cli/test_verilog.py."""

import re

import pytest

from spikefab.hw.generate import LayerOutOfRange, write_verilog


def test_default_configuration_writes_every_block(tmp_path):
    written = write_verilog(tmp_path)
    assert [path.name for path in written.paths] == [
        "event_queue.v", "weight_memory.v", "pe_array.v", "lif_core.v", "accelerator.v"]
    assert written.configuration.startswith("the 64-128-10 reference network")
    for name in ("event_queue", "weight_memory", "pe_array", "lif_core", "accelerator"):
        text = (tmp_path / f"{name}.v").read_text()
        assert re.search(rf"^module {name}\(", text, flags=re.M), name
        assert text.startswith("// spikefab")
        assert "// configuration: the 64-128-10 reference network" in text
        assert "P = 4, format csc, queue depth 16" in text
        assert "// command: spikefab verilog" in text


def test_overrides_are_recorded(tmp_path):
    write_verilog(tmp_path, lanes=8, fmt="bitmap", w_bits=8, leak="mul", timing="delayed",
                  command="spikefab verilog --lanes 8")
    text = (tmp_path / "lif_core.v").read_text()
    assert "P = 8, format bitmap" in text and "leak mul m = 7, f = 3, reset" in text
    assert "// command: spikefab verilog --lanes 8" in text


def test_refused_configurations_raise(tmp_path):
    with pytest.raises(LayerOutOfRange, match=r"layer 5 is out of range; allowed range is "
                                              r"\[0, 1\]") as error:
        write_verilog(tmp_path, layer=5)
    assert (error.value.layer, error.value.layers) == (5, 2)
    with pytest.raises(ValueError, match=r"m \(with f = 3\) = 9 is out of range"):
        write_verilog(tmp_path, leak="mul", m=9, f=3)
    assert not list(tmp_path.iterdir())
    (tmp_path / "file").write_text("")
    with pytest.raises(OSError):
        write_verilog(tmp_path / "file")
