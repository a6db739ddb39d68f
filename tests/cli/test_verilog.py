"""``spikefab verilog`` (`make verilog`): writes each block with its configuration and the
command line in a header; bad flags and configurations end in one line."""

import subprocess
import sys
from pathlib import Path

import pytest

from spikefab.cli import main
from spikefab.model import reference_network
from tests.cli.test_demo import options_without_a_default

SPIKEFAB = str(Path(sys.executable).parent / "spikefab")


def spikefab(cwd, *args):
    return subprocess.run([SPIKEFAB, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_default_configuration_writes_every_block(tmp_path, capsys):
    main(["verilog", "--out", str(tmp_path)])
    for name in ("event_queue", "weight_memory", "pe_array", "lif_core", "accelerator"):
        assert (tmp_path / f"{name}.v").exists()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "configuration (also in each file's header comment):"
    assert out[-5:] == [f"wrote {tmp_path / name}.v" for name in (
        "event_queue", "weight_memory", "pe_array", "lif_core", "accelerator")]


def test_overrides_are_recorded(tmp_path):
    main(["verilog", "--out", str(tmp_path), "--lanes", "8", "--format", "bitmap", "--w-bits",
          "8", "--leak", "mul", "--timing", "delayed"])
    text = (tmp_path / "lif_core.v").read_text()
    assert "P = 8, format bitmap" in text and "leak mul m = 7, f = 3, reset" in text
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
    with pytest.raises(SystemExit) as exit_:       # a bad flag value: argparse, status 2
        main(["verilog", "--out", str(tmp_path), "--sizes", "64"])
    assert exit_.value.code == 2
    assert "argument --sizes: needs at least two sizes" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"^error: this configuration cannot be generated: "
                                         r"m \(with f = 3\) = 9 is out of range"):
        main(["verilog", "--out", str(tmp_path), "--leak", "mul", "--m", "9", "--f", "3"])
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit, match=r"^error: cannot write into --out "):
        main(["verilog", "--out", str(tmp_path / "file" / "sub")])


def test_the_configuration_is_a_table_a_person_reads(tmp_path):
    """As a user runs it, from another folder with a relative ``--out``: the configuration
    is a table of settings with units, not Python's ``k=3, m=None``."""
    done = spikefab(tmp_path, "verilog", "--out", "v", "--sizes", "16", "12", "4",
                    "--layer", "1", "--leak", "mul", "--m", "5", "--f", "3")
    assert done.returncode == 0, done.stderr
    for repr_ in ("=None", "{'", "[(", "['", "(k=", "m=", "f="):
        assert repr_ not in done.stdout, repr_
    lines = done.stdout.splitlines()
    theta = reference_network((16, 12, 4), density=0.5, w_bits=4, seed=1)[1].theta
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip() for line in lines
            if line.startswith("| ") and not line.startswith("| setting")}
    assert rows == {
        "network": "16-12-4 reference network, seed 1",
        "weights kept": "50 %",
        "blocks of": "layer 1: 4 neurons, fan-in 12",
        "weights": "4 bits, csc format",
        "PEs per layer": "P = 4",
        "membrane": f"16 bits, threshold {theta}",
        "leak": "mul, m = 5, f = 3: (v * 5) >> 3 per step (beta 0.625)",
        "reset": "subtract, immediate",
        "event queue": "16 entries",
    }
    # aligned: every row of the table is as wide as its header
    table = [line for line in lines if line.startswith("|")]
    assert len({len(line) for line in table}) == 1
    # the header of every file records the same threshold as the table
    assert f"theta {theta}," in (tmp_path / "v" / "lif_core.v").read_text()


def test_every_option_shows_its_help_and_default(tmp_path):
    done = spikefab(tmp_path, "verilog", "--help")
    assert done.returncode == 0
    assert options_without_a_default(done.stdout) == []
    flat = " ".join(done.stdout.split())
    for shown in ("random weights (default 1)", "(default shift)", "(default subtract)",
                  "(default immediate)", "(default csc)"):
        assert shown in flat, shown
