"""Progress a person can follow: every long stage of a command says what it is doing.

>>> from spikefab.toolchain.progress import stage
>>> with stage("synthesis (yosys)"):              # doctest: +SKIP
...     run_yosys()

prints ``synthesis (yosys) ...`` when the stage starts and ``synthesis (yosys): done in 42.1 s``
(or ``failed after 3.2 s``) when it ends. Countable work gets a bar::

    with stage("co-simulation (Verilator)", total=200, unit="sample") as bar:
        for chunk in chunks:
            ...
            bar.update(len(chunk))

Everything goes to standard error (results stay on standard output, so ``spikefab bench >
table.txt`` stays clean), in one of two styles chosen by whether standard error is a terminal:

* **terminal**: one line redrawn in place a few times a second (a spinner, the stage, a bar
  with count/total when the work is countable, the elapsed time); the stage's end line stays.
* **log** (a pipe or a file, e.g. CI): the start line, then at most one line every
  :data:`LOG_INTERVAL` seconds while the stage runs (elapsed, count/total), then the end line.

Stages nest. A stage opened inside a counted stage (a Verilator build inside the co-simulation
bar) is shown on the terminal's live line beside its parent and named in the parent's log
lines, but prints no lines of its own unless it fails; a stage nested in an uncounted stage
prints its own lines, indented.

Only the main thread of the main process shows progress (a stage in a Dask worker, a process
pool or another thread is silent), so parallel work never garbles the terminal.
``SPIKEFAB_PROGRESS=off`` silences it all; ``SPIKEFAB_PROGRESS=log`` uses the log style on a
terminal too.

This module belongs to ``spikefab.toolchain`` and imports nothing else of spikefab.

Why not tqdm (which spikefab used before): a tqdm bar in a log is every redraw joined by
carriage returns on one line, it has no stage that starts, blocks inside a tool for minutes
with nothing to count and then ends with its time, and nested bars garble each other; those
three are what a person reading a terminal or a CI log needs here.
"""

import contextlib
import multiprocessing
import os
import shutil
import sys
import threading
import time

__all__ = ["LOG_INTERVAL", "Progress", "Stage", "stage", "track", "write", "elapsed_text"]

#: Seconds between two progress lines of a running stage in a log.
LOG_INTERVAL = 20.0
#: Seconds between two redraws of the live line on a terminal.
REDRAW = 0.2
_SPINNER = "|/-\\"
_BAR = 20


def elapsed_text(seconds):
    """``"42.1 s"`` below a minute, ``"125.3 s (2 min 05 s)"`` above."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{seconds:.1f} s ({minutes} min {rest:02d} s)"


def _plural(unit, count):
    if not unit:
        return ""
    return f" {unit}" if count == 1 or unit.endswith("s") else f" {unit}s"


class Stage:
    """One running stage: its name, and for countable work its ``count`` of ``total``
    ``unit``\\ s. Returned by :func:`stage`; :meth:`update` moves the bar."""

    def __init__(self, progress, name, total, unit, parent, visible):
        self.name = name
        self.total = total
        self.unit = unit
        self.count = 0
        self.status = ""
        self.failed = False
        self.parent = parent
        self._progress = progress
        self._visible = visible
        self.started = progress.clock() if progress else 0.0
        # A stage inside a counted stage is detail: shown on the live line, no lines of its own.
        self.detail = parent is not None and (parent.total is not None or parent.detail)
        self.depth = 0 if parent is None else parent.depth + (0 if self.detail else 1)

    @property
    def elapsed(self):
        """Seconds since the stage started."""
        return self._progress.clock() - self.started if self._progress else 0.0

    def update(self, n=1):
        """Count ``n`` more units of work done."""
        self.count += n
        if self._visible:
            self._progress._changed(self)

    def describe(self, status):
        """Show ``status`` (e.g. ``"loss 0.412, accuracy 0.87"``) after the count."""
        self.status = status

    def fail(self):
        """End as ``failed after …`` even without an exception (a tool that returned a failure
        the caller handles)."""
        self.failed = True

    def write(self, text, file=None):
        """Print ``text`` as a line of its own on ``file`` (default: standard error) without
        breaking the live line."""
        if self._visible:
            self._progress.write(text, file=file)
        else:
            print(text, file=file or sys.stderr, flush=True)

    def counted(self):
        """``"4/10 samples"`` (``""`` for an uncounted stage), then the :meth:`describe`
        status."""
        if self.total is None:
            text = f"{self.count}{_plural(self.unit, self.count)}" if self.count else ""
        else:
            text = f"{self.count}/{self.total}{_plural(self.unit, self.total)}"
        return ", ".join(part for part in (text, self.status) if part)


class Progress:
    """Draws stages on ``stream`` (default: ``sys.stderr`` at the time of writing).

    ``terminal`` (default: whether the stream is a terminal) picks the style, ``clock`` the
    time source, ``interval`` the seconds between log lines; ``ticker=False`` starts no
    background thread (tests call :meth:`refresh` themselves).
    """

    def __init__(self, stream=None, *, terminal=None, clock=time.monotonic,
                 interval=LOG_INTERVAL, ticker=True, width=None):
        self._stream = stream
        self._terminal = terminal
        self.clock = clock
        self.interval = interval
        self._ticker = ticker
        self._width = width
        self._lock = threading.RLock()
        self._stack = []
        self._last_line = None          # time of the last line written in log style
        self._live = False              # a live line is on the terminal
        self._spin = 0
        self._thread = None
        self._wake = threading.Event()

    # -- output -----------------------------------------------------------------------------
    @property
    def stream(self):
        return self._stream if self._stream is not None else sys.stderr

    @property
    def terminal(self):
        if self._terminal is not None:
            return self._terminal
        if os.environ.get("SPIKEFAB_PROGRESS", "").lower() == "log":
            return False
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError, OSError):
            return False

    def _emit(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):     # a closed or broken stream never stops the work
            pass

    def _clear(self):
        if self._live:
            self._emit("\r\x1b[K")
            self._live = False

    def _line(self, text):
        """A permanent line."""
        with self._lock:
            self._clear()
            self._emit(text + "\n")
            self._last_line = self.clock()

    def write(self, text, file=None):
        """Print ``text`` as a line of its own on ``file`` (default: the progress stream; on a
        terminal, above the live line)."""
        if file is None:
            self._line(text)
        else:
            with self._lock:
                self._clear()
                print(text, file=file, flush=True)
        if self.terminal:
            with self._lock:
                self._draw()

    # -- stages -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def stage(self, name, *, total=None, unit=""):
        parent = self._stack[-1] if self._stack else None
        current = Stage(self, name, total, unit, parent, True)
        with self._lock:
            self._stack.append(current)
            if self.terminal:
                self._draw()
            elif not current.detail:
                size = f" ({total}{_plural(unit, total)})" if total is not None else ""
                self._line(f"{'  ' * current.depth}{name} ...{size}")
        self._start_ticker()
        outcome = "failed after"
        try:
            yield current
            outcome = "failed after" if current.failed else "done in"
        except KeyboardInterrupt:
            outcome = "interrupted after"
            raise
        except GeneratorExit:           # a loop over track() left early
            outcome = "stopped after"
            raise
        finally:
            with self._lock:
                if current in self._stack:
                    self._stack.remove(current)
                count = current.counted()
                text = (f"{'  ' * current.depth}{name}: {outcome} "
                        f"{elapsed_text(current.elapsed)}{f', {count}' if count else ''}")
                if not current.detail or outcome != "done in":
                    self._line(text)
                elif self.terminal:
                    self._clear()
                if self.terminal and self._stack:
                    self._draw()
                last = not self._stack
            if last:
                self._stop_ticker()

    def _changed(self, current):
        if self.terminal:
            self._draw()
        else:
            self.refresh()

    def refresh(self):
        """Redraw the live line (terminal) or print a progress line if :attr:`interval`
        seconds passed since the last line (log)."""
        with self._lock:
            if not self._stack:
                return
            if self.terminal:
                self._spin += 1
                self._draw()
                return
            now = self.clock()
            if self._last_line is not None and now - self._last_line < self.interval:
                return
            shown = [s for s in self._stack if not s.detail][-1]
            inner = self._stack[-1]
            parts = [p for p in (shown.counted(), _eta(shown), f"{shown.elapsed:.0f} s") if p]
            text = f"{'  ' * shown.depth}{shown.name}: {', '.join(parts)}"
            if inner is not shown:
                text += f"; now {inner.name} ({inner.elapsed:.0f} s)"
            self._line(text)

    def _draw(self):
        if not self._stack:
            return
        pieces = []
        for current in self._stack:
            piece = current.name
            if current.total is not None:
                done = min(1.0, current.count / current.total) if current.total else 1.0
                filled = int(done * _BAR)
                piece += f" [{'#' * filled}{'.' * (_BAR - filled)}] {current.counted()}"
                eta = _eta(current)
                if eta:
                    piece += f", {eta}"
                piece += f", {current.elapsed:.0f} s"
            else:
                count = f" {current.counted()}" if current.count else ""
                piece += f"{count} {current.elapsed:.0f} s"
            pieces.append(piece)
        text = " > ".join(pieces)
        width = (self._width or shutil.get_terminal_size((80, 24)).columns) - 3
        if len(text) > width:                 # keep the innermost stage in view
            text = "..." + text[-max(10, width - 3):]
        self._emit(f"\r\x1b[K{_SPINNER[self._spin % len(_SPINNER)]} {text}")
        self._live = True

    # -- the background ticker --------------------------------------------------------------
    def _start_ticker(self):
        if not self._ticker or self._thread is not None:
            return
        self._wake.clear()
        period = REDRAW if self.terminal else min(1.0, self.interval / 4)
        thread = threading.Thread(target=self._tick, args=(period,), daemon=True,
                                  name="spikefab-progress")
        self._thread = thread
        thread.start()

    def _tick(self, period):
        while not self._wake.wait(period):
            self.refresh()

    def _stop_ticker(self):
        thread, self._thread = self._thread, None
        if thread is not None:
            self._wake.set()
            thread.join()


def _eta(current):
    if current.total is None or not current.count or current.count >= current.total:
        return ""
    left = current.elapsed / current.count * (current.total - current.count)
    return f"~{left:.0f} s left"


_DEFAULT = Progress()


def _shown():
    if os.environ.get("SPIKEFAB_PROGRESS", "").lower() in ("off", "0", "no", "none"):
        return False
    return (threading.current_thread() is threading.main_thread()
            and multiprocessing.parent_process() is None)


@contextlib.contextmanager
def stage(name, *, total=None, unit="", show=True, progress=None):
    """Show ``name`` as a running stage on standard error (see the module's docstring); yields
    a :class:`Stage` whose :meth:`~Stage.update` moves the bar when ``total`` is given.
    ``show=False`` (or a worker thread or process) yields a silent stage that still counts."""
    progress = progress or _DEFAULT
    if not (show and _shown()):
        yield Stage(None, name, total, unit, None, False)
        return
    with progress.stage(name, total=total, unit=unit) as current:
        yield current


def track(items, name, *, total=None, unit="", show=True, progress=None):
    """Iterate over ``items`` inside :func:`stage` ``name``, one step of the bar per item."""
    if total is None:
        try:
            total = len(items)
        except TypeError:
            total = None
    with stage(name, total=total, unit=unit, show=show, progress=progress) as current:
        for item in items:
            yield item
            current.update()


def write(text, file=None):
    """Print ``text`` as a line of its own on ``file`` (default: standard error), above any
    live progress line."""
    if _shown():
        _DEFAULT.write(text, file=file)
    else:
        print(text, file=file or sys.stderr, flush=True)
