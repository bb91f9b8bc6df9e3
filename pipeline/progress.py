"""Progress of long work: the stage running and its elapsed time.

Stages announce themselves with :func:`note` (``context.timed`` and every worker call do): the
label goes to the file named by ``$KERAS2TORCH_STAGE_FILE`` when it is set, so that the process
showing progress sees the stages of every worker process below it. :class:`Display` (one
conversion, ``convert``/``validate``) and :class:`BatchProgress` (one line per model) read these
files and draw them on ``stream``: on a terminal a live status line redrawn in place; when the
stream is not a terminal, or ``$CI`` is set, plain lines, one per stage change.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any, TextIO

ENV = "KERAS2TORCH_STAGE_FILE"
_REDRAW_S = 0.25


def live(stream: TextIO) -> bool:
    """Whether ``stream`` gets a live line: a terminal, and not in CI."""
    ci = os.environ.get("CI", "").strip().lower()
    return bool(getattr(stream, "isatty", lambda: False)()) and ci in ("", "0", "false", "no")


def note(label: str) -> None:
    """Announce that ``label`` is running (a no-op unless someone shows progress)."""
    path = os.environ.get(ENV)
    if not path:
        return
    tmp = f"{path}.{os.getpid()}"
    try:
        Path(tmp).write_text(label, encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # progress is never worth failing a conversion for


def read(path: Path | str | None) -> str | None:
    """The label last announced to ``path``."""
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None if path else None
    except OSError:
        return None


def _clock(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 60 else f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


class Display:
    """Shows one conversion's running stage on ``stream`` while it runs (a context manager).

    Sets ``$KERAS2TORCH_STAGE_FILE`` for this process and its workers, and a thread draws what
    they announce, on stdout by default (stderr keeps errors alone, one line each).
    """

    def __init__(self, name: str, stream: TextIO | None = None, *, interval: float = _REDRAW_S) -> None:
        self.name, self.stream, self.interval = name, stream or sys.stdout, interval
        self.live = live(self.stream)
        self.folder: Path | None = None
        self.saved: str | None = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.label: str | None = None
        self.since = self.start = time.monotonic()
        self.shown = False
        self.drawn = ""

    def __enter__(self) -> Display:
        from pipeline import tempdirs

        self.folder = tempdirs.make("progress")
        self.saved = os.environ.get(ENV)
        os.environ[ENV] = str(self.folder / "stage")
        self.thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        self.poll()
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
        if self.saved is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self.saved
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    def _loop(self) -> None:
        while not self.stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        """Draw the current stage: a new plain line when it changed, or the live line."""
        label = read(self.folder / "stage") if self.folder else None
        now = time.monotonic()
        if label is not None and label != self.label:
            self.label, self.since = label, now
            if not self.live:
                print(f"[{_clock(now - self.start):>9}] {self.name}: {label}", file=self.stream, flush=True)
        if self.live and self.label is not None:
            width = shutil.get_terminal_size((100, 20)).columns - 1
            text = f"{self.name}: {self.label} {_clock(now - self.since)} (total {_clock(now - self.start)})"
            if text == self.drawn:
                return
            self.drawn = text
            self.stream.write("\r\x1b[K" + text[:width])
            self.stream.flush()
            self.shown = True


class BatchProgress:
    """A batch's progress: one line per model as it finishes; what runs and in which stage.

    On a terminal, a status line of the running models, each with its stage and time; otherwise
    a plain line per model when it starts and each time its stage changes.
    """

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream, self.total = stream, total
        self.tty = live(stream)
        self.status_shown = False
        self.last_draw = 0.0
        self.width = len(str(total))
        self.stages: dict[str, str] = {}

    def _clear(self) -> None:
        if self.status_shown:
            self.stream.write("\r\x1b[K")
            self.status_shown = False

    def line(self, text: str) -> None:
        self._clear()
        print(text, file=self.stream, flush=True)

    def started(self, name: str) -> None:
        if not self.tty:
            self.line(f"[{'':>{self.width}}/{self.total}] started  {name}")

    def finished(self, done: int, name: str, status: str, seconds: float, extra: str = "") -> None:
        """Model ``name`` ended (``done`` of them so far); ``extra`` follows its time."""
        self.stages.pop(name, None)
        status = status if status == "passed" else status.upper()
        self.line(f"[{done:>{self.width}}/{self.total}] {status:<7}  {name}  {seconds:.1f} s{extra}")

    def running(self, jobs: list[tuple[str, float, str | None]]) -> None:
        """``jobs``: (model, seconds running, stage or None) of every running conversion."""
        if not self.tty:
            for name, _seconds, stage in jobs:
                if stage and self.stages.get(name) != stage:
                    self.stages[name] = stage
                    self.line(f"[{'':>{self.width}}/{self.total}] {name}: {stage}")
            return
        if not jobs or time.monotonic() - self.last_draw < 1.0:
            return
        self.last_draw = time.monotonic()
        width = shutil.get_terminal_size((100, 20)).columns - 1
        text = "running: " + ", ".join(
            f"{name}{f' [{stage}]' if stage else ''} {seconds:.0f}s" for name, seconds, stage in jobs
        )
        self.stream.write("\r\x1b[K" + text[:width])
        self.stream.flush()
        self.status_shown = True

    def close(self) -> None:
        self._clear()
        self.stream.flush()


def stage_file(folder: Path, name: str) -> Path:
    """Where a batch's conversion ``name`` announces its stages (inside the batch's work folder)."""
    return folder / f"{name}.stage"
