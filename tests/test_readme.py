"""The README is the front page: short, its Python example runs as written, its links lead
somewhere, its command table is complete and every timing names the machine. The examples that
moved from the README into the documentation pages (``docs/*.md``) still run as written: blocks
fenced ```python run; examples that need a board attached are fenced ```py and only shown."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MACHINE = "2-core x86_64 machine with 24 GiB (the project's build machine)"

#: A wall-clock duration: "240 s", "9 min 33 s", "1,802 s", "30 min".
DURATION = re.compile(r"\b\d[\d,.]*\s?(?:s|min|h)\b(?![/\w])")


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)            # examples write files where they run
    blocks = python_blocks(README)
    assert blocks, "the README should show the Python API"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


#: The pages that took over the README's longer examples, and how many ```python blocks each
#: must keep (so an example cannot silently disappear from the check).
DOC_EXAMPLES = {"python-api.md": 5, "commands/nir.md": 1}


@pytest.mark.parametrize("page", sorted(DOC_EXAMPLES))
def test_docs_python_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)            # examples write files (model.nir) where they run
    path = DOCS / page
    blocks = python_blocks(path)
    assert len(blocks) == DOC_EXAMPLES[page], f"{page} should keep its {DOC_EXAMPLES[page]} examples"
    for block in blocks:
        exec(compile(block, str(path), "exec"), {})


def test_no_other_docs_page_hides_an_unrun_python_block():
    """Every page with a ```python block is listed in DOC_EXAMPLES, so the block runs."""
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if python_blocks(p)}
    assert pages <= set(DOC_EXAMPLES), f"add {sorted(pages - set(DOC_EXAMPLES))} to DOC_EXAMPLES"


def test_readme_is_a_front_page():
    text = README.read_text()
    lines = text.splitlines()
    assert 100 <= len(lines) <= 250, f"the README has {len(lines)} lines; keep it near 200"
    assert ("*Called spikeforge until December 2026; renamed because an unrelated snnTorch "
            "toolkit holds that name on PyPI.*") in lines
    assert "make demo" in text and "make test" in text and "pip install" in text
    # The issue-numbered status table went to the history, not the front page.
    assert not re.search(r"\(issues? \d+\)", text), "no issue-numbered status on the front page"
    assert "## Status" not in text


def test_readme_links_resolve():
    links = re.findall(r"\]\(([^)\s]+)\)", README.read_text())
    local = [link.split("#")[0] for link in links if "://" not in link]
    assert len(local) >= 20
    missing = [link for link in local if link and not (ROOT / link).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_readme_command_table_lists_every_command():
    from spikefab.cli import COMMANDS
    text = README.read_text()
    for name in COMMANDS:
        assert f"[`spikefab {name}`](docs/commands/{name}.md)" in text, name


def blocks_with_durations(text):
    """(block, preceding block) for each blank-line-separated block naming a duration."""
    blocks = [b for b in re.split(r"\n\s*\n", text)]
    return [(block, blocks[i - 1] if i else "") for i, block in enumerate(blocks)
            if DURATION.search(block) and not block.lstrip().startswith("```")]


def test_every_readme_timing_names_the_machine():
    found = blocks_with_durations(README.read_text())
    assert found, "the README's results name their run times"
    for block, before in found:
        assert MACHINE in block + before or "build machine" in block, block


def test_the_duration_check_can_fail():
    assert DURATION.search("took 9 min 33 s") and DURATION.search("1,802 s, builds")
    assert not DURATION.search("50.4 µs per image, 48,358 cycles/s, 25 steps")
    (block, _), = blocks_with_durations("a\n\nthe run took 240 s\n\nb")
    assert MACHINE not in block
