"""Stages started ahead: a later stage's error is raised where the flow waits for it, a check
started ahead is handed only to the request it ran, and nothing is left registered."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from pipeline import ahead


def test_later_runs_in_a_thread_and_raises_at_join() -> None:
    ran: list[str] = []

    def stage(conv: object) -> None:
        ran.append(threading.current_thread().name)
        raise ValueError("stage failed")

    later = ahead.Later(stage)
    later.start(SimpleNamespace(in_process_torch=False))
    with pytest.raises(ValueError, match="stage failed"):
        later.join(None)
    assert ran == ["stage"]


def test_later_runs_at_join_in_this_process_mode() -> None:
    ran: list[str] = []
    later = ahead.Later(lambda conv: ran.append(threading.current_thread().name))
    later.start(SimpleNamespace(in_process_torch=True))
    assert ran == []
    later.join(None)
    assert ran == [threading.current_thread().name]


def test_a_check_started_ahead_answers_only_its_own_request(tmp_path: Path) -> None:
    ws = SimpleNamespace(root=tmp_path)
    found: list[dict[str, object]] = []
    thread = threading.Thread(target=lambda: found.append({"seconds": 1.0}))
    ahead.register(ws, {"mode": "outputs"}, thread, found)
    thread.start()
    assert ahead.started_ahead(ws)
    assert ahead.module_run_ahead(ws, {"mode": "layers"}) is None  # another request: run it afresh
    assert not ahead.started_ahead(ws)

    found = []
    thread = threading.Thread(target=lambda: found.append({"seconds": 2.0}))
    ahead.register(ws, {"mode": "outputs"}, thread, found)
    thread.start()
    assert ahead.module_run_ahead(ws, {"mode": "outputs"}) == {"seconds": 2.0}
    assert ahead.module_run_ahead(ws, {"mode": "outputs"}) is None  # taken once
