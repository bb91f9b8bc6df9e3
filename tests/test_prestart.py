"""Workers started ahead of their stage: claimed by worker.call, killed by close() when unclaimed."""

from __future__ import annotations

import os
import time
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


def _niceness_becomes(pid: int, wanted: int, timeout_s: float = 60.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if os.getpriority(os.PRIO_PROCESS, pid) == min(wanted, 19):
            return True
        time.sleep(0.05)
    return False


def test_a_waiting_worker_lowers_its_priority_when_asked(tmp_path: Path) -> None:
    prestart.begin(["torch_check"], tmp_path / "logs", {**child_env(), prestart.NICE_ENV: "4"})
    waiting = prestart.waiting("torch_check")
    try:
        assert waiting is not None and _niceness_becomes(waiting.pid, os.getpriority(os.PRIO_PROCESS, 0) + 4)
    finally:
        prestart.close()


def test_unclaimed_workers_are_killed(tmp_path: Path) -> None:
    prestart.begin(["torch"], tmp_path / "logs", child_env())
    waiting = prestart.waiting("torch")
    prestart.close()
    assert waiting is not None and waiting.poll() is not None and prestart.waiting("torch") is None


MODEL_PY = """
import torch
from torch import nn

try:  # the check runs where this package cannot be imported
    import pipeline  # noqa: F401

    LEAKED = 1.0
except ImportError:
    LEAKED = 0.0


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(3, 2)

    def forward(self, x):
        return self.dense(x) + LEAKED


def load(path=None):
    from safetensors.torch import load_file

    model = Tiny()
    model.load_state_dict(load_file(path))
    return model.eval()
"""


def test_model_py_check_started_ahead_is_clean_and_takes_the_request(tmp_path: Path) -> None:
    from types import SimpleNamespace

    import numpy as np
    from safetensors.numpy import save_file

    from pipeline.context import TensorSpec, Workspace
    from pipeline.translate.stage import module_check_command, module_process, module_request

    ws = Workspace(tmp_path / "ws")
    ws.root.mkdir(parents=True)
    (ws.root / "model.py").write_text(MODEL_PY, encoding="utf-8")
    weight, bias = np.arange(6, dtype=np.float32).reshape(2, 3), np.array([0.5, -0.5], np.float32)
    save_file({"dense.weight": weight, "dense.bias": bias}, str(ws.weights))
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    np.savez(ws.inputs, **{"random/x": x, "batch1/x": x[:1]})
    log = ws.logs / "module_check.log"
    env = {**child_env(), prestart.NICE_ENV: "3"}  # started beside the TensorFlow worker: lower priority
    prestart.begin_command("module_check", module_check_command("--wait"), log, env, cwd=ws.scratch)
    waiting = prestart.waiting("module_check")
    assert waiting is not None and _niceness_becomes(waiting.pid, os.getpriority(os.PRIO_PROCESS, 0) + 3)
    export = SimpleNamespace(inputs=[TensorSpec(name="x", shape=[None, 3], dtype="float32")], outputs=["y"])
    result = module_process(ws, module_request(ws, export, {}), timeout_s=300)
    assert prestart.waiting("module_check") is None
    assert waiting is not None and waiting.poll() == 0, log.read_text()  # the process started ahead ran it
    assert not result.get("crash") and not result["errors"], result
    with np.load(ws.root / "outputs_module.npz") as out:
        np.testing.assert_allclose(out["random/y"], x @ weight.T + bias, rtol=1e-6)  # LEAKED is 0
    assert Path(result["export"]).is_file() and result["export_dynamic"] is True


def test_worker_profile_is_written_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.worker import PROFILE_ENV, Task

    monkeypatch.setenv(PROFILE_ENV, str(tmp_path / "prof"))
    request = {"workspace": str(tmp_path / "missing"), "inputs": [], "outputs": [], "config": {}}
    with pytest.raises(PipelineError):
        call(Task("torch_check", TORCH_CHECK.fn), request, in_process=False, log_dir=tmp_path / "logs")
    assert (tmp_path / "prof" / "torch_check.prof").stat().st_size > 0
