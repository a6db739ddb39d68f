"""spikefab.toolchain.progress: stage lines on a terminal and in a log, with a fake clock."""

import io
import re
import subprocess
import sys

import pytest

from spikefab.toolchain import progress
from spikefab.toolchain.progress import Progress, elapsed_text, stage, track


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def log_progress(interval=20.0):
    clock = Clock()
    out = io.StringIO()
    return Progress(out, terminal=False, clock=clock, interval=interval, ticker=False), clock, out


def lines(out):
    return out.getvalue().splitlines()


def test_log_prints_the_name_at_start_and_the_elapsed_time_at_the_end():
    shown, clock, out = log_progress()
    with stage("synthesis (yosys)", progress=shown):
        assert lines(out) == ["synthesis (yosys) ..."]
        clock.now += 42.1
    assert lines(out) == ["synthesis (yosys) ...", "synthesis (yosys): done in 42.1 s"]


def test_log_prints_at_most_one_line_per_interval():
    shown, clock, out = log_progress(interval=20.0)
    with stage("place and route (nextpnr-ice40)", progress=shown):
        for _ in range(100):                  # a poll every second for 100 s
            clock.now += 1.0
            shown.refresh()
    text = lines(out)
    running = [line for line in text if re.fullmatch(r".*: \d+ s", line)]
    # 100 s at one line per 20 s at most: 5 lines (at 20, 40, 60, 80, 100 s)
    assert len(running) == 5
    assert running[0] == "place and route (nextpnr-ice40): 20 s"
    assert text[-1] == "place and route (nextpnr-ice40): done in 100.0 s (1 min 40 s)"


def test_log_counts_are_rate_limited_and_shown():
    shown, clock, out = log_progress(interval=15.0)
    with stage("soak", total=1000, unit="case", progress=shown) as bar:
        for _ in range(1000):                 # 1000 updates in 62.5 s
            clock.now += 1 / 16
            bar.update()
    text = lines(out)
    assert text[0] == "soak ... (1000 cases)"
    assert len(text) == 2 + 4                 # start, at 15, 30, 45, 60 s, end
    assert text[1] == "soak: 240/1000 cases, ~48 s left, 15 s"
    assert text[-1] == "soak: done in 62.5 s (1 min 02 s), 1000/1000 cases"


def test_failure_is_reported_and_the_error_propagates():
    shown, clock, out = log_progress()
    with pytest.raises(RuntimeError, match="boom"):
        with stage("bitstream (icepack)", progress=shown):
            clock.now += 3.25
            raise RuntimeError("boom")
    assert lines(out)[-1] == "bitstream (icepack): failed after 3.2 s"


def test_a_stage_in_a_counted_stage_is_named_but_prints_no_lines_unless_it_fails():
    shown, clock, out = log_progress(interval=10.0)
    with stage("co-simulation (Verilator)", total=20, unit="sample", progress=shown) as bar:
        with stage("compiling accelerator with Verilator", progress=shown):
            clock.now += 30
            shown.refresh()
        bar.update(20)
    with pytest.raises(ValueError):
        with stage("co-simulation (Verilator)", total=20, unit="sample", progress=shown):
            with stage("compiling accelerator with Verilator", progress=shown):
                raise ValueError
    assert lines(out) == [
        "co-simulation (Verilator) ... (20 samples)",
        "co-simulation (Verilator): 0/20 samples, 30 s; now compiling accelerator with "
        "Verilator (30 s)",
        "co-simulation (Verilator): done in 30.0 s, 20/20 samples",
        "co-simulation (Verilator) ... (20 samples)",
        "compiling accelerator with Verilator: failed after 0.0 s",
        "co-simulation (Verilator): failed after 0.0 s, 0/20 samples"]


def test_a_stage_in_an_uncounted_stage_is_indented():
    shown, clock, out = log_progress()
    with stage("proofs", progress=shown):
        with stage("proof of EventQueue", progress=shown):
            clock.now += 2
    assert lines(out) == ["proofs ...", "  proof of EventQueue ...",
                          "  proof of EventQueue: done in 2.0 s", "proofs: done in 2.0 s"]


def test_terminal_redraws_one_line_in_place_and_keeps_the_end_line():
    clock = Clock()
    out = io.StringIO()
    shown = Progress(out, terminal=True, clock=clock, ticker=False, width=200)
    with stage("co-simulation (Verilator)", total=4, unit="sample", progress=shown) as bar:
        for _ in range(4):
            clock.now += 5
            bar.update()
    text = out.getvalue()
    frames = text.split("\r\x1b[K")
    assert "[##########..........] 2/4 samples, ~10 s left, 10 s" in text
    assert all("\n" not in frame for frame in frames[:-1])    # redrawn, never scrolled
    assert frames[-1] == "co-simulation (Verilator): done in 20.0 s, 4/4 samples\n"


def test_track_counts_items_and_write_keeps_lines_whole():
    shown, clock, out = log_progress()
    seen = []
    for item in track(["a", "b", "c"], "training", unit="epoch", progress=shown):
        clock.now += 1
        seen.append(item)
        if item == "b":
            shown.write("a message")
    assert seen == ["a", "b", "c"]
    assert lines(out) == ["training ... (3 epochs)", "a message",
                          "training: done in 3.0 s, 3/3 epochs"]


def test_silent_when_asked_and_outside_the_main_thread(monkeypatch):
    import threading
    shown, clock, out = log_progress()
    with stage("hidden", show=False, progress=shown) as quiet:
        quiet.update(3)
    assert quiet.count == 3
    monkeypatch.setenv("SPIKEFAB_PROGRESS", "off")
    with stage("off", progress=shown):
        pass
    monkeypatch.delenv("SPIKEFAB_PROGRESS")
    worker = threading.Thread(target=lambda: stage("in a thread", progress=shown).__enter__())
    worker.start()
    worker.join()
    assert out.getvalue() == ""


def test_elapsed_text():
    assert elapsed_text(42.14) == "42.1 s"
    assert elapsed_text(125.3) == "125.3 s (2 min 05 s)"


def test_the_ticker_prints_while_the_work_blocks():
    """With the real clock and the background thread, a blocking stage still reports."""
    code = ("import time\nfrom spikefab.toolchain.progress import Progress, stage\n"
            "shown = Progress(interval=0.3)\n"
            "with stage('waiting', progress=shown):\n    time.sleep(1.2)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout == ""
    text = result.stderr.splitlines()
    assert text[0] == "waiting ..." and text[-1].startswith("waiting: done in 1.")
    assert 2 <= len(text) - 2 <= 5, text                  # ~one line per 0.3 s
    assert progress.LOG_INTERVAL >= 15                     # the default keeps CI logs short
