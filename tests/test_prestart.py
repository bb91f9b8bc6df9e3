"""Workers started ahead of their stage: claimed by worker.call, killed by close() when unclaimed."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline import prestart
from pipeline.errors import PipelineError
from pipeline.stages.torch_side import TORCH_CHECK
from pipeline.worker import call, child_env


def test_a_waiting_worker_runs_the_call_and_reports_its_error(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    prestart.begin(["torch_check"], logs, child_env())
    waiting = prestart.waiting("torch_check")
    request = {"workspace": str(tmp_path / "missing"), "inputs": [], "outputs": [], "config": {}}
    with pytest.raises(PipelineError):
        call(TORCH_CHECK, request, in_process=False, log_dir=logs, stage="torch_run")
    assert prestart.waiting("torch_check") is None
    assert waiting is not None and waiting.poll() is not None  # it was the one that ran (and exited)


def test_unclaimed_workers_are_killed(tmp_path: Path) -> None:
    prestart.begin(["torch"], tmp_path / "logs", child_env())
    waiting = prestart.waiting("torch")
    prestart.close()
    assert waiting is not None and waiting.poll() is not None and prestart.waiting("torch") is None
