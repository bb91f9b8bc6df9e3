"""Workers started ahead of their stage, importing their libraries while earlier stages run.

A conversion's torch worker and torch-check worker each spend 2-5 s starting Python and importing
torch (and onnx2torch, and ``torch.export``'s loader) before they do any work; started when their
stage begins, that time adds to the conversion's wall time. :func:`begin` starts them when the
conversion starts, so their imports overlap the TensorFlow export on the other core; each waits
on its stdin for the request and result paths, then runs as an ordinary worker
(:func:`pipeline.worker.main` does the waiting). :func:`pipeline.worker.call` claims a waiting
worker for its task (:func:`claim`) and otherwise starts one as before. Each conversion gets
fresh processes (one per task, as before): a model's worker never serves another model. Workers
not claimed are killed by :func:`close`.

    python -m pipeline.worker --wait TASK
        (started by begin(); reads "MODULE:FUNCTION\\nREQUEST\\nRESULT\\n" on stdin)
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

# what each task imports before its request arrives: the imports its stage function does first
PRELOAD: dict[str, tuple[str, ...]] = {
    "torch": (
        "torch",
        "onnx",
        "onnx2torch",
        "custom_ops.catalog",
        "pipeline.stages.importer",
        "pipeline.stages.torch_export",
        "torch.export",
        "torch._export.serde.serialize",
        "safetensors.torch",
    ),
    # not onnx2torch, custom_ops or TensorFlow: the check blocks them to prove model.pt2 needs none
    "torch_check": (
        "torch",
        "torch.export",
        "torch._export.serde.serialize",
        "torch._dynamo",
        "pipeline.stages.torch_export",
        "pipeline.artifacts",
        "pipeline.inputs",
    ),
    # the training check's torch half (model.py with its optimizer, beside TensorFlow's half)
    "training_torch": ("torch", "safetensors.torch", "pipeline.training.torch_side", "pipeline.inputs"),
}
NICE_ENV = "KERAS2TORCH_NICE"  # a waiting worker's niceness, set by the worker itself (see nice())
_WAITING: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
_LOCK = threading.Lock()


def begin(tasks: list[str], log_dir: Path, env: dict[str, str]) -> None:
    """Start a waiting worker for each of ``tasks`` (logging to ``log_dir/<task>.log``, environment ``env``).

    Each gets half the cores for its intra-op threads (at least one), unless ``env`` sets
    ``OMP_NUM_THREADS``: its stages run beside others (TensorFlow's reference, ONNX Runtime), and
    threads beyond the cores spin against each other.
    """
    env = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2)), **env}
    log_dir.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        if task not in PRELOAD or task in _WAITING:
            continue
        log_path = log_dir / f"{task}.log"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "pipeline.worker", "--wait", task],
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        with _LOCK:
            _WAITING[task] = (proc, log_path)


def begin_command(name: str, argv: list[str], log_path: Path, env: dict[str, str], cwd: Path | None = None) -> None:
    """Start ``argv`` (a script with a wait mode of its own, such as model.py's clean-process check) ahead
    of its stage, under ``name``; :func:`hand` gives it its request lines. Same thread rule as :func:`begin`."""
    env = {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // 2)), **env}
    with _LOCK:
        if name in _WAITING:
            return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if cwd is not None:
        cwd.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
    with _LOCK:
        _WAITING[name] = (proc, log_path)


def waiting(task: str) -> subprocess.Popen[bytes] | None:
    """The worker waiting for ``task``, if one is."""
    with _LOCK:
        entry = _WAITING.get(task)
    return entry[0] if entry else None


def claim(
    task: str, target: str, log_path: Path, request_path: Path, result_path: Path
) -> subprocess.Popen[bytes] | None:
    """The waiting worker for ``task``, handed its function (``module:function``) and request; None
    when there is none (or it died)."""
    return hand(task, log_path, [target, str(request_path), str(result_path)])


def hand(name: str, log_path: Path, lines: list[str]) -> subprocess.Popen[bytes] | None:
    """The process waiting under ``name`` and logging to ``log_path``, given ``lines`` on its stdin;
    None when there is none (or it died, or it waits for another conversion)."""
    with _LOCK:
        entry = _WAITING.get(name)
        if entry is None or entry[1].resolve() != log_path.resolve():
            return None
        del _WAITING[name]
    proc = entry[0]
    if proc.poll() is not None:
        _stop(proc)
        return None
    try:
        assert proc.stdin is not None
        proc.stdin.write("".join(f"{line}\n" for line in lines).encode())
        proc.stdin.close()
    except OSError:  # it died between the check and the write
        _stop(proc)
        return None
    return proc


def drop(name: str) -> None:
    """Kill the process waiting under ``name`` (its stage will not run)."""
    with _LOCK:
        entry = _WAITING.pop(name, None)
    if entry is not None:
        _stop(entry[0])


def close() -> None:
    """Kill the workers nobody claimed (a conversion that failed before their stage)."""
    with _LOCK:
        entries = list(_WAITING.values())
        _WAITING.clear()
    for proc, _ in entries:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # started in its own session: its whole group
        except (ProcessLookupError, PermissionError):
            proc.kill()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def preload(task: str) -> None:
    """In a waiting worker: import what ``task`` will need (a failed import is left for the task to raise)."""
    for module in PRELOAD.get(task, ()):
        try:
            importlib.import_module(module)
        except Exception as exc:
            print(f"preloading {task}: could not import {module}: {exc}", flush=True)


def nice() -> None:
    """In a waiting worker: lower its priority by ``$KERAS2TORCH_NICE`` when set (the worker does it itself:
    ``preexec_fn`` is unsafe in the orchestrator, which runs threads)."""
    try:
        step = int(os.environ.get(NICE_ENV) or 0)
        if step > 0:
            os.nice(step)
    except (ValueError, OSError) as exc:
        print(f"could not lower the priority: {exc}", flush=True)
