"""Run a stage in its own process (or in this one), exchanging JSON and files.

TensorFlow and torch never share a process on the CLI path: importing TensorFlow and then
torchvision in one process crashes (exit 139). A stage task is a :class:`Task`: a name (its log
file and errors) and a function ``request -> result`` (plain JSON) that lives with its stage;
:func:`call` runs it either in a fresh interpreter (:func:`command`: ``python -m pipeline.worker
NAME MODULE:FUNCTION REQUEST RESULT``) or in this process. A worker that dies by a
signal, passes its timeout or its memory cap becomes a :class:`WorkerCrashError`; an error the
task raised on purpose comes back as the same typed error. Each call reports the worker's peak
resident memory.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pipeline import prestart, progress, tempdirs
from pipeline.errors import (
    InternalError,
    PipelineError,
    WorkerCrashError,
    WorkerOutOfMemoryError,
    WorkerTimeoutError,
    error_from_dict,
)
from pipeline.helpers import tail

PARENT_ENV = "KERAS2TORCH_WORKER_PARENT"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
_POLL_S = 0.05
_TASK_PACKAGES = ("pipeline.", "custom_ops.")  # a worker runs functions of this project only


@dataclass(frozen=True)
class Task:
    """A stage task a worker can run: its name (log file, errors) and its function ``request -> result``."""

    name: str
    fn: Callable[[dict[str, Any]], dict[str, Any]]

    @property
    def target(self) -> str:
        """``module:function``, how a fresh interpreter finds the function."""
        return f"{self.fn.__module__}:{self.fn.__qualname__}"


@dataclass
class WorkerLimits:
    """Per-call limits; ``None`` means unlimited."""

    timeout_s: float | None = None
    memory_gb: float | None = None


@dataclass
class WorkerRun:
    """A finished call: the task's result and the worker's peak resident memory."""

    result: dict[str, Any]
    peak_rss_mb: float
    seconds: float
    in_process: bool


def _resolve(target: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    module, attr = target.split(":")
    if not module.startswith(_TASK_PACKAGES):
        raise ValueError(f"not a task of this project: {target}")
    return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


def command(task: Task, request: Path, result: Path) -> list[str]:
    """The command line that runs ``task`` on the request file in a fresh interpreter."""
    return [sys.executable, "-m", "pipeline.worker", task.name, task.target, str(request), str(result)]


def call(
    task: Task,
    request: dict[str, Any],
    *,
    in_process: bool,
    log_dir: Path | None = None,
    limits: WorkerLimits | None = None,
    stage: str | None = None,
) -> WorkerRun:
    """Run ``task`` on ``request``; raise the task's own typed error when it fails."""
    start = time.perf_counter()
    if in_process:
        import resource

        with _caller_numerics_kept():
            result = task.fn(request)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return WorkerRun(result=result, peak_rss_mb=peak, seconds=time.perf_counter() - start, in_process=True)
    progress.note(f"{stage or task.name}: starting the {task.name} worker")
    return _subprocess(task, request, log_dir, limits or WorkerLimits(), stage or task.name, start)


@contextmanager
def _caller_numerics_kept() -> Iterator[None]:
    """Restore the TF32 switches a stage task turns off, when it ran inside the caller's process."""
    saved: list[tuple[Any, Any]] = []
    # (a clean-process check run in this process leaves blocked libraries as None in sys.modules)
    if sys.modules.get("tensorflow") is not None:
        tf_config = sys.modules["tensorflow"].config.experimental
        saved.append((tf_config.enable_tensor_float_32_execution, tf_config.tensor_float_32_execution_enabled()))
    if sys.modules.get("torch") is not None:
        backends = sys.modules["torch"].backends
        matmul, cudnn = backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32
        saved.append((lambda v: setattr(backends.cuda.matmul, "allow_tf32", v), matmul))
        saved.append((lambda v: setattr(backends.cudnn, "allow_tf32", v), cudnn))
    try:
        yield
    finally:
        for setter, value in saved:
            setter(value)


def child_env() -> dict[str, str]:
    """The environment of a worker: this project importable, quiet TensorFlow, tied to this process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env.setdefault("PYTHONUNBUFFERED", "1")
    env[PARENT_ENV] = str(os.getpid())  # the worker dies with this process, see die_with_parent()
    return env


def die_with_parent() -> None:
    """In a worker: get SIGKILL when the process that started it dies (even by kill -9).

    Without it a killed conversion or batch would leave its workers running as orphans. Linux only
    (prctl PR_SET_PDEATHSIG); the parent's pid comes from the environment, to catch a parent that
    died before this call.
    """
    parent = os.environ.get(PARENT_ENV)
    if not parent or not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGKILL))
    if os.getppid() != int(parent):
        os._exit(1)


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants."""
    import psutil

    try:
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total
    except psutil.Error:
        return 0


def _subprocess(
    task: Task, request: dict[str, Any], log_dir: Path | None, limits: WorkerLimits, stage: str, start: float
) -> WorkerRun:
    with tempfile.TemporaryDirectory(prefix=tempdirs.prefix(task.name)) as tmp:
        req_path, res_path = Path(tmp) / "request.json", Path(tmp) / "result.json"
        req_path.write_text(json.dumps(request), encoding="utf-8")
        log_path = (log_dir / f"{task.name}.log") if log_dir else Path(tmp) / f"{task.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            proc = prestart.claim(task.name, task.target, log_path, req_path, res_path) or spawn(
                task, req_path, res_path, log
            )
            try:
                status, rusage, killed_for = _wait(proc, limits)
            except BaseException:  # interrupted: take the worker down with us
                _kill(proc)
                raise
        peak_mb = rusage.ru_maxrss / 1024 if rusage is not None else 0.0
        seconds = time.perf_counter() - start
        stopped = stopped_error(f"the {task.name} worker", status, killed_for, stage=stage, details=tail(log_path))
        if stopped is not None:
            raise stopped
        if not res_path.is_file():
            code = os.WEXITSTATUS(status)
            raise WorkerCrashError(
                f"the {task.name} worker exited with code {code} without a result",
                stage=stage,
                details=tail(log_path),
            )
        payload = json.loads(res_path.read_text(encoding="utf-8"))
    if not payload["ok"]:
        raise error_from_dict(payload["error"])
    peak_mb = payload.get("peak_rss_mb") or peak_mb
    return WorkerRun(result=payload["result"], peak_rss_mb=peak_mb, seconds=seconds, in_process=False)


def spawn(
    task: Task, request: Path, result: Path, log: IO[bytes], *, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``task`` on the request file in a fresh interpreter, in a session of its own, without waiting.

    Its output goes to ``log``; ``env`` adds to :func:`child_env`. The caller waits for it (``os.wait4``),
    enforces its limits (:func:`over_limits`, :func:`kill_tree`) and turns its end into an error
    (:func:`stopped_error`).
    """
    return subprocess.Popen(
        command(task, request, result),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**child_env(), **(env or {})},
        start_new_session=True,
    )


def stopped_error(
    what: str,
    status: int,
    killed_for: tuple[type[WorkerCrashError], str] | None,
    *,
    stage: str | None,
    details: str,
    during: str = "",
) -> WorkerCrashError | None:
    """The error for a worker that was stopped for a limit or ended by a signal; None when it exited.

    ``what`` names it (``the torch worker``), ``status`` is its wait status, ``killed_for`` what
    :func:`over_limits` said when it was killed, ``during`` an addition to the message.
    """
    if killed_for is not None:
        error_type, reason = killed_for
        return error_type(f"{what} was stopped: {reason}{during}", stage=stage, details=details)
    if not os.WIFSIGNALED(status):
        return None
    sig = os.WTERMSIG(status)
    name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
    hint = " (killed: out of memory?)" if sig == signal.SIGKILL else ""
    return WorkerCrashError(f"{what} crashed with signal {name}{during}{hint}", stage=stage, details=details)


def over_limits(
    pid: int, limits: WorkerLimits, deadline: float | None, rss: int | None = None
) -> tuple[type[WorkerCrashError], str] | None:
    """Why the worker ``pid`` must be stopped now (error type, reason), or None while it is within its limits.

    ``rss``: the tree's resident bytes when the caller has just measured them.
    """
    if deadline is not None and time.monotonic() > deadline:
        return WorkerTimeoutError, f"timed out after {limits.timeout_s:g} s"
    if limits.memory_gb:
        rss = tree_rss(pid) if rss is None else rss
        if rss > limits.memory_gb * 1024**3:
            return (
                WorkerOutOfMemoryError,
                f"out of memory: {rss / 1024**3:.1f} GB resident, over the {limits.memory_gb:g} GB cap",
            )
    return None


def _wait(
    proc: subprocess.Popen[bytes], limits: WorkerLimits
) -> tuple[int, Any, tuple[type[WorkerCrashError], str] | None]:
    """Wait for ``proc`` while enforcing limits; returns (wait status, rusage, (error type, reason) if killed)."""
    deadline = time.monotonic() + limits.timeout_s if limits.timeout_s else None
    killed_for = None
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            proc.returncode = -1  # reaped here; keep Popen from waiting again
            return status, rusage, killed_for
        if killed_for is None:
            killed_for = over_limits(proc.pid, limits, deadline)
            if killed_for is not None:
                kill_tree(proc.pid)
        time.sleep(_POLL_S)


def kill_tree(pid: int) -> list[int]:
    """SIGKILL a worker started in its own session: its process group and every descendant.

    Descendants are collected first: workers that start workers of their own (a batch's
    conversions) put them in their own sessions, out of reach of the top one's process group.
    Returns the pids it signalled.
    """
    import psutil

    try:
        descendants = [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        descendants = []
    for target in (pid, *descendants):
        try:
            os.killpg(target, signal.SIGKILL)  # a session leader: its whole group
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(target, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return [pid, *descendants]


def _kill(proc: subprocess.Popen[bytes]) -> None:
    kill_tree(proc.pid)
    try:
        os.waitpid(proc.pid, 0)
    except ChildProcessError:
        pass
    proc.returncode = -1


def own_peak_rss_mb() -> float | None:
    """This process's peak resident set since it started its program (``VmHWM``), in MB.

    ``ru_maxrss`` of a child is floored at its parent's resident set when it was started (Linux
    carries the high-water mark across ``exec``): a worker started by an orchestrator that holds
    a model in ONNX Runtime would report the orchestrator's size. ``VmHWM`` belongs to the new
    program alone. None where ``/proc`` is not available.
    """
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


PROFILE_ENV = "KERAS2TORCH_PROFILE_DIR"


def _profiled(task: str, fn: Callable[[dict[str, Any]], dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    """``fn(request)``, under cProfile when ``$KERAS2TORCH_PROFILE_DIR`` names a folder (``<task>.prof`` there).

    The workers are where a conversion spends its time; a profile of the orchestrator alone shows
    only waits. Off by default (no cost).
    """
    folder = os.environ.get(PROFILE_ENV)
    if not folder:
        return fn(request)
    import cProfile

    profile = cProfile.Profile()
    try:
        return profile.runcall(fn, request)
    finally:
        Path(folder).mkdir(parents=True, exist_ok=True)
        profile.dump_stats(str(Path(folder) / f"{task}.prof"))


def main(argv: list[str]) -> int:
    die_with_parent()
    if argv[0] == "--wait":  # started ahead of its stage (pipeline.prestart): import, then wait
        prestart.nice()
        prestart.preload(argv[1])
        lines = sys.stdin.read().splitlines()
        if len(lines) < 3:  # the conversion ended without this stage
            os._exit(0)
        argv = [argv[1], *lines[:3]]
    task, target, req_path, res_path = argv
    request = json.loads(Path(req_path).read_text(encoding="utf-8"))
    try:
        payload: dict[str, Any] = {"ok": True, "result": _profiled(task, _resolve(target), request)}
    except PipelineError as exc:
        payload = {"ok": False, "error": exc.to_dict()}
    except Exception as exc:
        error = InternalError(
            f"unexpected {type(exc).__name__} in the {task} worker: {exc}",
            stage=task,
            details=traceback.format_exc()[-6000:],
        )
        payload = {"ok": False, "error": error.to_dict()}
    payload["peak_rss_mb"] = own_peak_rss_mb()
    tmp = Path(res_path + ".tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    tmp.replace(res_path)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: TensorFlow and torch can crash while unloading.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
