"""Progress: stages announced by any process below the display show up, as plain lines off a terminal."""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from pipeline import progress
from pipeline.context import timed


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_off_a_terminal_with_stages_of_child_processes() -> None:
    stream = io.StringIO()
    with progress.Display("model", stream, interval=0.02) as display:
        with timed([], "load"):
            display.poll()
        # a worker process announces its own stage through the inherited environment
        subprocess.run([sys.executable, "-c", "from pipeline import progress; progress.note('export')"], check=True)
        display.poll()
    lines = stream.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["model: load", "model: export"], lines
    assert "\r" not in stream.getvalue() and progress.ENV not in __import__("os").environ


def test_live_line_on_a_terminal_and_plain_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    terminal = _Terminal()
    assert progress.live(terminal)
    with progress.Display("model", terminal, interval=0.02) as display:
        progress.note("fixups")
        time.sleep(0.1)
        display.poll()
    text = terminal.getvalue()
    assert "\r\x1b[K" in text and "model: fixups" in text and "total" in text
    assert text.endswith("\r\x1b[K")  # the live line is cleared at the end
    monkeypatch.setenv("CI", "true")
    assert not progress.live(terminal)


def test_batch_progress_shows_each_models_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    plain = io.StringIO()
    batch = progress.BatchProgress(plain, 2)
    batch.started("a")
    batch.running([("a", 3.0, "export"), ("b", 1.0, None)])
    batch.running([("a", 4.0, "export")])  # unchanged: no new line
    batch.finished(1, "a", "passed", 5.0)
    assert plain.getvalue().splitlines() == ["[ /2] started  a", "[ /2] a: export", "[1/2] passed   a  5.0 s"]
    terminal = _Terminal()
    progress.BatchProgress(terminal, 2).running([("a", 3.0, "export"), ("b", 1.0, "load")])
    assert "a [export] 3s, b [load] 1s" in terminal.getvalue()
