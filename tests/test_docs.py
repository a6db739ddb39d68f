"""The documentation site (``docs/``, ``make docs``): it builds with Sphinx without a single
warning, its executed examples pass, and its pages keep their promises — a page per command with
the real ``--help``, the design contract's section numbers that the code cites, and a machine
named beside every timing."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DESIGN = DOCS / "design.md"
MACHINE = "2-core x86_64 machine with 24 GiB (the project's build machine)"
PACKAGES = ("model", "hw", "boards", "sim", "dse", "studies", "cli", "toolchain")

#: The section titles of the design contract the code was written against; the code cites
#: them as "DESIGN.md §N", so their numbers and titles stay.
CONTRACT_SECTIONS = {
    1: "Flow and layout",
    2: "Golden semantics (the model every implementation must match bit for bit)",
    3: "Reference micro-architecture",
    4: "Cycle model",
    5: "Verification",
    6: "Board flow",
    7: "Growing the flow (wave 2)",
    8: "Growing the flow (wave 3)",
}

#: A wall-clock duration: "240 s", "9 min 33 s", "1,802 s", "30 min".
DURATION = re.compile(r"\b\d[\d,.]*\s?(?:s|min|h)\b(?![/\w])")


def sphinx(builder, out, *extra):
    """Run ``python -m sphinx`` on the repository's docs folder; warnings are errors."""
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", builder,
         "-d", str(out / "doctrees"), *extra, str(DOCS), str(out / builder)],
        capture_output=True, text=True, timeout=1800)


@pytest.mark.slow
def test_docs_build_without_warnings_and_examples_pass(tmp_path):
    html = sphinx("html", tmp_path)
    assert html.returncode == 0 and "WARNING" not in html.stderr, html.stderr[-6000:]
    for page in ("index", "design", "python-api", "commands/synth", "api/model"):
        assert (tmp_path / "html" / f"{page}.html").exists(), page
    # The --help of a command is the real one, taken when the site is built.
    synth = (tmp_path / "html" / "commands" / "synth.html").read_text()
    assert "usage: spikefab synth" in synth and "--lanes" in synth

    doctest = sphinx("doctest", tmp_path)
    assert doctest.returncode == 0, doctest.stdout[-6000:] + doctest.stderr[-3000:]
    summary = (tmp_path / "doctest" / "output.txt").read_text()
    ran = [int(n) for n in re.findall(r"^\s*(\d+) tests?\b", summary, flags=re.M)]
    assert sum(ran) >= 2, summary                   # the API guide's examples at least
    assert re.search(r"^\s*0 failures? in tests", summary, flags=re.M), summary
    assert "failures in setup code" not in summary or re.search(
        r"^\s*0 failures? in setup code", summary, flags=re.M), summary


def test_a_page_per_command_with_its_help():
    from spikefab.cli import COMMANDS
    index = (DOCS / "commands" / "index.md").read_text()
    for name in COMMANDS:
        page = DOCS / "commands" / f"{name}.md"
        assert page.exists(), f"docs/commands/{name}.md is missing"
        assert f"```{{program-output}} spikefab {name} --help\n```" in page.read_text(), name
        assert f"({name}.md)" in index and re.search(rf"^{name}$", index, flags=re.M), name
    pages = {p.stem for p in (DOCS / "commands").glob("*.md")} - {"index"}
    assert pages == set(COMMANDS), f"pages without a command: {sorted(pages - set(COMMANDS))}"


def headings(text):
    return {int(n): title for n, title in re.findall(r"^## (\d+)\. (.+)$", text, flags=re.M)}


def test_design_contract_keeps_its_sections():
    found = headings(DESIGN.read_text())
    for number, title in CONTRACT_SECTIONS.items():
        assert found.get(number) == title, f"§{number} must stay {title!r}"
    assert sorted(found) == list(range(1, len(found) + 1)), "sections are numbered 1, 2, 3, …"


def cited_sections():
    """``{N: [files]}`` for every "docs/design.md §N" (and "§N–§M") the code cites."""
    cited = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for match in re.finditer(r"docs/design\.md\s+((?:§\d+[\s,–-]*)+)",
                                     path.read_text()):
                numbers = [int(n) for n in re.findall(r"§(\d+)", match.group(1))]
                if "–" in match.group(1) and len(numbers) == 2:
                    numbers = list(range(numbers[0], numbers[1] + 1))
                for n in numbers:
                    cited.setdefault(n, []).append(str(path.relative_to(ROOT)))
    return cited


def test_the_code_cites_the_contract_in_the_repository():
    """Every citation names the file this repository (and the wheel's docs) carry, not the
    DESIGN.md the project started from."""
    stale = [str(path.relative_to(ROOT)) for package in PACKAGES
             for path in sorted((ROOT / package).rglob("*.py"))
             if re.search(r"(?<!docs/design\.md)\bDESIGN\.md", path.read_text())]
    assert not stale, f"cite docs/design.md, not DESIGN.md: {stale}"


def test_every_section_the_code_cites_exists():
    cited = cited_sections()
    assert cited, "the code cites the design contract"
    found = headings(DESIGN.read_text())
    missing = {n: files for n, files in cited.items() if n not in found}
    assert not missing, f"cited but not in docs/design.md: {missing}"


def test_the_design_contract_states_what_the_code_implements():
    """Spot checks of numbers the contract copies from the code; a change to one of them in the
    code must reach the contract."""
    from spikefab.boards.protocol import (MAX_PAYLOAD, PROTOCOL_VERSION, REPLY_SYNC,
                                          REQUEST_SYNC, Command, Status)
    from spikefab.hw.accelerator import HARDWARE_TIMING
    from spikefab.hw.pe_array import REGISTER_ROWS
    from spikefab.model import RATE_SEED
    text = " ".join(DESIGN.read_text().split())       # line breaks do not matter
    assert f"RATE_SEED = 0x{RATE_SEED:08X}" in text
    assert f"REGISTER_ROWS = {REGISTER_ROWS}" in text
    t = HARDWARE_TIMING
    assert (f"Timing(queue_latency={t.queue_latency}, drain={t.drain}, "
            f"sweep_latency={t.sweep_latency}, readout_latency={t.readout_latency}, "
            f"emit_depth={t.emit_depth})") in text
    assert f"0x{REQUEST_SYNC:02X} | command u8" in text and f"0x{REPLY_SYNC:02X} | status u8" in text
    assert f"`MAX_PAYLOAD = {MAX_PAYLOAD}`" in text and f"(protocol version {PROTOCOL_VERSION})" in text
    for command in Command:
        assert f"| {command.value} | `{command.name}` |" in text, command
    for status in Status:
        assert f"| {status.value} | `{status.name}` |" in text, status


def test_every_timing_names_the_machine():
    """On the results pages, the verification page and the command pages, a block (paragraph,
    list or table) that gives a run time names the machine, or follows one that does."""
    pages = [*sorted((DOCS / "results").glob("*.md")), DOCS / "verification.md",
             *sorted((DOCS / "commands").glob("*.md"))]
    problems = []
    for page in pages:
        blocks = re.split(r"\n\s*\n", page.read_text())
        for i, block in enumerate(blocks):
            if block.lstrip().startswith("```") or not DURATION.search(block):
                continue
            block = " ".join(block.split())
            context = block + " ".join((blocks[i - 1] if i else "").split())
            if MACHINE not in context and "2-core x86_64" not in block \
                    and "same machine" not in block:
                problems.append(f"{page.relative_to(ROOT)}: {block[:120]!r}")
    assert not problems, "timings without their machine:\n" + "\n".join(problems)
    for page in (DOCS / "results").glob("*.md"):
        assert MACHINE in " ".join(page.read_text().split()), f"{page.name} names no machine"


def test_the_timing_check_can_fail():
    assert DURATION.search("it took 6 min 18 s") and not DURATION.search("50.4 µs, 148k cycles/s")
