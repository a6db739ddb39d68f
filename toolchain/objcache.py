"""A compiler-output cache for Verilator builds: the C++ that every build compiles again.

Each Verilator build (a host-link program of :mod:`spikefab.sim.link_verilator`, a cocotb
model of :mod:`spikefab.toolchain.cocotb_runner`, a gate-level netlist) compiles Verilator's
run-time library (``verilated.cpp``, ``verilated_threads.cpp``, ``verilated_vpi.cpp``, ...)
and a driver (``main.cpp``, cocotb's ``verilator.cpp``) besides the model's own files. On the
shared 2-core x86_64 machine those files took about 9 of the 22 CPU seconds of a host-link
build (``verilated.cpp`` 5.3 s alone), the same work in every build of the test suite.

:func:`~spikefab.toolchain.env.verilator_env` makes Verilator's makefiles run every compile
through this file (``OBJCACHE``, the hook Verilator gives ``ccache``), which works as
``ccache`` does in its preprocessor mode:

* A compile is cached only if it is a plain ``-c -o OUT SOURCE`` of one C/C++ file, with no
  precompiled header (``-include``), no ``-x``, no ``-MF``/``-MT``/``-MQ``/``-M``/``-MM``
  and no ``@file``: the run-time library and the drivers. Anything else (the model's files
  with their precompiled header, the headers themselves, links) runs as it is.
* The key is a SHA-256 of the compiler (its resolved path, size and modification time), the
  whole argument list, and the source preprocessed with those arguments (``-E``): every
  header it reads (the model's, when a driver includes it), every macro, every path. A
  change to any of them is another key.
* On a hit the object (and the ``-MD``/``-MMD`` dependency file) is copied from the cache;
  on a miss the compiler runs as asked and, if it succeeds, its outputs are stored (written
  to a temporary file and renamed, so parallel builds never see half a file).
* Whatever goes wrong in the cache (a missing folder, a failed preprocess, a full disk), the
  compiler runs as asked: the cache can make a build slower, never different.

The cache folder is ``$SPIKEFAB_OBJCACHE_DIR`` (set by :func:`configure`); ``SPIKEFAB_OBJCACHE=0``
turns the cache off. The file uses the standard library only: it runs as a script, once per
compile (:func:`wrapper`).
"""

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["cache_dir", "cacheable", "configure", "main", "wrapper"]

#: Part of every key: a change to how keys are made must not reuse old entries.
KEY_VERSION = "spikefab-objcache-1"
_SOURCES = (".c", ".cc", ".cpp", ".cxx", ".C")
_REFUSED = ("-include", "-x", "-MF", "-MT", "-MQ", "-M", "-MM", "-E", "-S", "-save-temps")
#: The characters a path in a make variable may hold (as in :mod:`spikefab.sim.cosim`).
_MAKE_SAFE_PATH = re.compile(r"[A-Za-z0-9_./+,@~-]+")


def cache_dir(env=None):
    """``$SPIKEFAB_CACHE/verilator-objects``, else ``~/.cache/spikefab/verilator-objects``
    (``SPIKEFAB_CACHE`` read from ``env``, default ``os.environ``)."""
    base = (os.environ if env is None else env).get("SPIKEFAB_CACHE")
    base = Path(base) if base else Path.home() / ".cache" / "spikefab"
    return base / "verilator-objects"


def cacheable(args):
    """``(output, source)`` when compiler arguments ``args`` (without the compiler) are a
    compile this cache takes, else ``None``."""
    if "-c" not in args or args.count("-o") != 1:
        return None
    if any(a.startswith("@") or a in _REFUSED or a.startswith(("-include", "-x", "-MF",
                                                               "-MT", "-MQ", "-save-temps"))
           for a in args):
        return None
    at = args.index("-o")
    if at + 1 >= len(args):
        return None
    output = args[at + 1]
    sources = [a for i, a in enumerate(args)
               if i != at + 1 and not a.startswith("-") and a.endswith(_SOURCES)]
    if len(sources) != 1 or not output.endswith(".o"):
        return None
    return output, sources[0]


def _compiler_identity(compiler):
    path = shutil.which(compiler)
    if path is None:
        return None
    real = os.path.realpath(path)
    stat = os.stat(real)
    return f"{real}\0{stat.st_size}\0{stat.st_mtime_ns}"


def _key(compiler, args):
    identity = _compiler_identity(compiler)
    if identity is None:
        return None
    at = args.index("-o")
    # The preprocessed source: the same arguments without the object and the dependency file.
    drop = {"-c", "-MD", "-MMD", "-MP"}
    pre = [a for i, a in enumerate(args) if i not in (at, at + 1) and a not in drop]
    done = subprocess.run([compiler, *pre, "-E", "-o", "-"], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL)
    if done.returncode != 0:
        return None
    digest = hashlib.sha256()
    for part in (KEY_VERSION, identity, "\0".join([compiler, *args])):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0\0")
    digest.update(done.stdout)
    return digest.hexdigest()


def _store(source, target):
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def main(argv=None):
    """Run compiler command ``argv`` (default ``sys.argv[1:]``) through the cache; the
    compiler's exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv:
        print("usage: objcache.py COMPILER ARGS...", file=sys.stderr)
        return 2
    compiler, args = argv[0], argv[1:]
    folder = os.environ.get("SPIKEFAB_OBJCACHE_DIR")
    plan = cacheable(args) if folder and os.environ.get("SPIKEFAB_OBJCACHE") != "0" else None
    key = None
    if plan is not None:
        try:
            key = _key(compiler, args)
        except OSError:
            key = None
    if key is None:
        return subprocess.run(argv).returncode
    output = Path(plan[0])
    depfile = output.with_suffix(".d") if ("-MD" in args or "-MMD" in args) else None
    entry = Path(folder) / key[:2] / key
    cached_object, cached_deps = entry.with_suffix(".o"), entry.with_suffix(".d")
    try:
        if cached_object.exists() and (depfile is None or cached_deps.exists()):
            _store(cached_object, output)
            if depfile is not None:
                _store(cached_deps, depfile)
            return 0
    except OSError:
        pass
    code = subprocess.run(argv).returncode
    if code == 0:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            if depfile is not None:
                _store(depfile, cached_deps)
            _store(output, cached_object)      # last: an entry is whole once its .o is there
        except OSError:
            pass
    return code


def wrapper(folder=None):
    """The path of an executable that runs :func:`main` (a shell script in the cache folder,
    written once), or ``None`` when its path would not survive ``make`` (spaces, ``:``, ...)."""
    folder = Path(folder) if folder is not None else cache_dir()
    script = folder / "cxx-cache"
    if not _MAKE_SAFE_PATH.fullmatch(str(script.resolve())):
        return None
    text = (f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -S "
            f"{shlex.quote(str(Path(__file__).resolve()))} \"$@\"\n")
    try:
        if not script.exists() or script.read_text() != text:
            folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=folder, prefix="cxx-cache.")
            with os.fdopen(handle, "w") as stream:
                stream.write(text)
            os.chmod(temporary, 0o755)
            os.replace(temporary, script)
    except OSError:
        return None
    return script.resolve()


def configure(env):
    """Set ``env`` (a dict, changed in place) up so Verilator's makefiles compile through the
    cache: ``OBJCACHE`` appended to its ``MAKEFLAGS`` and ``SPIKEFAB_OBJCACHE_DIR``. Leaves
    ``env`` as it is when ``SPIKEFAB_OBJCACHE`` is ``0`` there or no wrapper can be written."""
    if env.get("SPIKEFAB_OBJCACHE") == "0":
        return env
    folder = Path(env["SPIKEFAB_OBJCACHE_DIR"]) if env.get("SPIKEFAB_OBJCACHE_DIR") \
        else cache_dir(env)
    script = wrapper(folder)
    if script is None:
        return env
    env["SPIKEFAB_OBJCACHE_DIR"] = str(folder.resolve())
    env["MAKEFLAGS"] = " ".join([env.get("MAKEFLAGS", ""), f"OBJCACHE={script}"]).strip()
    return env


if __name__ == "__main__":
    sys.exit(main())
