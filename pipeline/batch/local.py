"""The local engine: a batch's conversions on this machine, ``jobs`` at a time, each a process tree of its own.

Each model is converted by a worker process (:data:`CONVERT`, started by
:func:`pipeline.worker.spawn` in its own session), running the same flow as ``convert`` with its
own TensorFlow and torch workers. The engine enforces the entry's ``timeout_s`` on the whole
conversion and its ``memory_gb`` on the resident memory of the conversion's process tree
(:func:`pipeline.worker.over_limits`), kills the tree past either, and turns how the process ended
into the model's error (:func:`pipeline.worker.stopped_error`). A model folder appears by rename
once complete (flow.py stages into ``.NAME.partial-PID``); on Ctrl-C or SIGTERM every running
conversion's process tree is killed and its staging folder removed, and workers die with their
parent even when the batch is killed with SIGKILL (:func:`pipeline.worker.die_with_parent`).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import outdir
from pipeline.batch.jobs import WORK_DIR, Driver, Job
from pipeline.batch.summary import ModelOutcome, error_report, outcome_from_report, read_json, read_report
from pipeline.config import ConversionConfig
from pipeline.config_files import BatchEntry
from pipeline.context import to_json
from pipeline.errors import PipelineError, WorkerCrashError, error_from_dict
from pipeline.helpers import tail
from pipeline.progress import ENV as STAGE_ENV
from pipeline.progress import BatchProgress, read
from pipeline.worker import Task, WorkerLimits, kill_tree, over_limits, spawn, stopped_error, tree_rss

_POLL_S = 0.2
# stage worker log -> the stage it runs (flow.py)
_LOG_STAGES = {"tensorflow": "export", "torch": "import", "torch_check": "torch_run"}


def convert_task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: one conversion of a batch, published to ``request["out"]`` with the batch's fingerprint."""
    from pipeline import flow
    from pipeline.config import from_json as config_from_json

    config = config_from_json(request["config"])
    out = Path(request["out"])
    conv = flow.start(config.source, out, config, isolate=True)
    conv.batch = request["batch"]
    result = flow.run(conv, out)
    return {"status": result.status}


CONVERT = Task("convert", convert_task)


@dataclass
class _Running:
    """A job's conversion process while it runs."""

    job: Job
    proc: subprocess.Popen[bytes]
    files: dict[str, Path]
    started: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    killed_for: tuple[type[WorkerCrashError], str] | None = None
    peak_rss: int = 0  # bytes, the process tree's, sampled


class LocalEngine:
    """Runs a batch's queue here, ``batch.jobs`` conversions at a time (see the module docstring)."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {"name": "local"}

    def run(self, batch: Driver, queue: list[Job]) -> None:
        queue = list(queue)
        running: list[_Running] = []
        try:
            while queue or running:
                while queue and len(running) < batch.jobs:
                    running.append(self._start(batch, queue.pop(0)))
                for run in list(running):
                    pid, status, rusage = os.wait4(run.proc.pid, os.WNOHANG)
                    if pid == run.proc.pid:
                        run.proc.returncode = os.waitstatus_to_exitcode(status)
                        running.remove(run)
                        self._finish(batch, run, status, rusage)
                    elif run.killed_for is None:
                        rss = tree_rss(run.proc.pid)
                        run.peak_rss = max(run.peak_rss, rss)
                        limits = WorkerLimits(run.job.config.timeout_s, run.job.config.memory_gb)
                        run.killed_for = over_limits(run.proc.pid, limits, run.deadline, rss)
                        if run.killed_for is not None:
                            kill_tree(run.proc.pid)
                batch.progress.running(
                    [(r.job.entry.name, time.monotonic() - r.started, read(r.files["stage"])) for r in running]
                )
                if running:
                    time.sleep(_POLL_S)
        except BaseException:
            # Ctrl-C, SIGTERM (the CLI turns it into KeyboardInterrupt) or our own bug: take every
            # running conversion down with its process tree and staging folder, undisturbed.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                for run in running:
                    _abandon(batch.out, run)
                batch.progress.line(f"interrupted: stopped {len(running)} running conversion(s)")
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            raise

    @staticmethod
    def _start(batch: Driver, job: Job) -> _Running:
        work = batch.out / WORK_DIR
        work.mkdir(parents=True, exist_ok=True)
        files = {k: work / f"{job.folder}.{k}" for k in ("request.json", "result.json", "log", "tmp", "stage")}
        files["result.json"].unlink(missing_ok=True)
        files["tmp"].mkdir(exist_ok=True)  # the conversion's temporary files, removed with the job
        request = {"config": to_json(job.config), "out": str(batch.out / job.folder), "batch": job.info}
        files["request.json"].write_text(json.dumps(request), encoding="utf-8")
        with open(files["log"], "wb") as log:
            env = {"TMPDIR": str(files["tmp"]), STAGE_ENV: str(files["stage"])}
            proc = spawn(CONVERT, files["request.json"], files["result.json"], log, env=env)
        batch.workers_started += 1
        run = _Running(job, proc, files)
        run.deadline = run.started + job.config.timeout_s if job.config.timeout_s else None
        batch.progress.started(job.entry.name)
        return run

    @staticmethod
    def _finish(batch: Driver, run: _Running, status: int, rusage: Any) -> None:
        job, files = run.job, run.files
        seconds = round(time.monotonic() - run.started, 2)
        folder, target = job.folder, batch.out / job.folder
        partial = batch.out / f".{job.folder}.partial-{run.proc.pid}"
        log_tail = tail(files["log"])
        stage, stage_log = _running_stage(partial)
        during = f" (during the {stage_log.stem} worker)" if stage_log else ""
        stage_tail = tail(stage_log) if stage_log else log_tail
        error: PipelineError | None = stopped_error(
            "the conversion process", status, run.killed_for, stage=stage, details=stage_tail, during=during
        )
        if error is None:
            payload = read_json(files["result.json"])
            if payload is None:
                error = WorkerCrashError(
                    f"the conversion process exited with code {os.WEXITSTATUS(status)} without a result",
                    stage="batch",
                    details=log_tail,
                )
            elif not payload.get("ok"):
                error = error_from_dict(payload["error"])
        report = read_report(target) if error is None else None
        if report is not None and (report.get("batch") or {}).get("fingerprint") != job.info["fingerprint"]:
            kept = read_report(target / outdir.LAST_ERROR)  # an error kept beside an earlier result
            if kept is not None:
                report, target, folder = kept, target / outdir.LAST_ERROR, f"{folder}/{outdir.LAST_ERROR}"
        fresh = report is not None and (report.get("batch") or {}).get("fingerprint") == job.info["fingerprint"]
        if error is None and not fresh:
            error = WorkerCrashError("the conversion ended without its report", stage="batch", details=log_tail)
        peak_mb = max(run.peak_rss / 2**20, rusage.ru_maxrss / 1024)
        info = {**job.info, "seconds": seconds, "peak_rss_mb": round(peak_mb, 1)}
        if error is not None:
            report = error_report(job.entry.name, job.config, error, target, info, logs=partial / "logs")
        else:
            assert report is not None
            report["batch"] = info
            from pipeline.report import write_report

            write_report(report, target / "report.json", target / "report.md")
        _remove_staging(batch.out, job.folder, run.proc.pid)
        if files["log"].stat().st_size:  # what the conversion process itself printed
            (target / "logs").mkdir(exist_ok=True)
            shutil.move(files["log"], target / "logs" / "conversion.log")
        _remove_files(files)
        batch.finished(job.entry.index, outcome_from_report(report, folder))


@dataclass
class _One:
    """The driver of :func:`convert_one`: a batch of one model, printing nothing."""

    out: Path
    progress: BatchProgress
    jobs: int = 1
    workers_started: int = 0
    outcome: ModelOutcome | None = None

    def finished(self, index: int, outcome: ModelOutcome, where: str = "") -> None:
        self.outcome = outcome


def convert_one(out: Path, name: str, config: ConversionConfig, folder: str, info: dict[str, Any]) -> ModelOutcome:
    """One model through the local engine's process tree (timeout, memory cap, tree kill) into ``out/folder``.

    What a remote engine's task runs on its node, so that every guarantee and every ``kind`` of
    the local engine holds there too.
    """
    with open(os.devnull, "w") as quiet:
        one = _One(out, BatchProgress(quiet, 1))
        LocalEngine().run(one, [Job(BatchEntry(0, 0, name, config.source, config), config, folder, info)])
    assert one.outcome is not None
    return one.outcome


def _abandon(out: Path, run: _Running) -> None:
    """Kill a running conversion's whole process tree and remove what it had staged."""
    pids = kill_tree(run.proc.pid)
    try:
        os.waitpid(run.proc.pid, 0)
    except ChildProcessError:
        pass
    run.proc.returncode = -signal.SIGKILL
    _wait_gone(pids[1:], timeout=10.0)
    _remove_staging(out, run.job.folder, run.proc.pid)
    _remove_files(run.files)


def _running_stage(partial: Path) -> tuple[str | None, Path | None]:
    """The stage a killed conversion was in and its worker's log: the newest log of its staging folder."""
    logs = sorted((partial / "logs").glob("*.log"), key=lambda p: p.stat().st_mtime) if partial.is_dir() else []
    if not logs:
        return None, None
    return _LOG_STAGES.get(logs[-1].stem), logs[-1]


def _remove_staging(out: Path, folder: str, pid: int) -> None:
    for leftover in (out / f".{folder}.partial-{pid}", out / f".{folder}.old-{pid}"):
        shutil.rmtree(leftover, ignore_errors=True)


def _remove_files(files: dict[str, Path]) -> None:
    for path in files.values():
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _wait_gone(pids: list[int], timeout: float) -> None:
    """Wait until killed (reparented) descendants are gone, so nothing writes into a folder being removed."""
    import psutil

    procs = []
    for pid in pids:
        try:
            procs.append(psutil.Process(pid))
        except psutil.Error:
            pass
    deadline = time.monotonic() + timeout
    while procs and time.monotonic() < deadline:
        procs = [p for p in procs if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
