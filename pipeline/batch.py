"""Batch conversions: every model of a YAML file, in parallel, each isolated, resumable.

``python -m pipeline batch configs/zoo.yaml [--out DIR] [--jobs N] [--force] [--retry-failed]``

Each usable entry of the file's ``models`` list is converted by a worker process of its own
(``python -m pipeline.worker convert``, in its own session), running the same flow as ``convert``
with its own TensorFlow and torch workers. The batch enforces the entry's ``timeout_s`` on the whole
conversion and its ``memory_gb`` on the resident memory of the conversion's process tree, kills the
tree past either, and records why a model did not pass (``kind``): ``validation`` (status
``failed``); ``crash``, ``timeout``, ``out_of_memory``, ``user_error``, ``config_error``,
``internal_error`` (status ``error``). An entry with a bad key is a ``config_error`` of its own;
the other entries run.

Resuming: each model's ``report.json`` carries a fingerprint of what produced it (the resolved
entry, the source's files by size and mtime, the module file of a ``module:callable`` source, the
tool versions and this package's code). A rerun reuses every report whose fingerprint is still
current and starts no worker for it, unless ``force``; ``retry_failed`` redoes every model that did
not pass, and a result cut short by a limit (``timeout``, ``out_of_memory``) is redone when that
limit changed. A model folder appears by rename once complete (flow.py stages into
``.NAME.partial-PID``), so an interrupted batch never leaves one that looks done; on Ctrl-C or
SIGTERM the batch kills every running conversion's process tree and removes its staging folder,
and workers die with their parent even when the batch is killed with SIGKILL
(:func:`pipeline.worker.die_with_parent`).

Output folder: ``summary.json``, ``summary.md``, ``junit.xml`` and one folder per model.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from pipeline import outdir
from pipeline.config import NAME_PATTERN, ConversionConfig
from pipeline.config_files import BatchEntry, load_batch
from pipeline.context import to_json
from pipeline.errors import ConfigError, OutputFolderError, PipelineError, UserError, WorkerCrashError, error_from_dict
from pipeline.helpers import process_running, tail
from pipeline.progress import ENV as STAGE_ENV
from pipeline.progress import BatchProgress, read
from pipeline.stages.custom_objects import module_files
from pipeline.worker import Task, WorkerLimits, kill_tree, over_limits, tree_rss

STATUSES = ("passed", "failed", "error")
# report["error"]["kind"] -> the batch's kind of error
_ERROR_KINDS = {"timeout": "timeout", "out_of_memory": "out_of_memory", "crash": "crash", "internal": "internal_error"}
# stage worker log -> the stage it runs (flow.py)
_LOG_STAGES = {"tensorflow": "export", "torch": "import", "torch_check": "torch_run"}
_VERSIONED = (
    "tensorflow",
    "keras",
    "tf_keras",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnx2torch",
    "torch",
    "numpy",
)
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent
_POLL_S = 0.2
WORK_DIR = ".batch"  # inside the output folder: requests, results and logs of running conversions


@dataclass
class ModelOutcome:
    """One model's line of the summary."""

    name: str
    status: str  # passed | failed | error
    kind: str | None  # None when passed; see the module docstring
    message: str | None
    seconds: float
    report: str  # path of report.json, relative to the output folder
    reused: bool = False  # taken from an earlier run without conversion work
    peak_rss_mb: float | None = None


@dataclass
class BatchSummary:
    """What :func:`run_batch` returns (and writes as ``summary.json``)."""

    config: str
    out_dir: Path
    jobs: int
    models: list[ModelOutcome]
    wall_seconds: float
    workers_started: int
    complete: bool = True
    interrupted: bool = False
    started_at: str = ""
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "local"})

    def count(self, status: str) -> int:
        return sum(m.status == status for m in self.models)

    @property
    def passed(self) -> bool:
        return self.complete and all(m.status == "passed" for m in self.models)

    def to_json(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "out_dir": str(self.out_dir),
            "models": [to_json(m) for m in self.models],
            "passed": self.count("passed"),
            "failed": self.count("failed"),
            "errors": self.count("error"),
            "reused": sum(m.reused for m in self.models),
            "workers_started": self.workers_started,
            "jobs": self.jobs,
            "wall_seconds": round(self.wall_seconds, 2),
            "started_at": self.started_at,
            "complete": self.complete,
            "interrupted": self.interrupted,
            "engine": self.engine,
        }


@dataclass
class _Job:
    """A model to convert, and its worker while it runs."""

    entry: BatchEntry
    config: ConversionConfig
    folder: str
    info: dict[str, Any]  # the report's "batch" section
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    deadline: float | None = None
    killed_for: tuple[type[WorkerCrashError], str] | None = None
    peak_rss: int = 0  # bytes, the process tree's, sampled
    files: dict[str, Path] = field(default_factory=dict)


# --------------------------------------------------------------------------- the worker task


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


# --------------------------------------------------------------------------- fingerprints


def code_digest() -> str:
    """Hash of this package's code (``pipeline/`` and ``custom_ops/``): results of other code are not current."""
    digest = hashlib.sha256()
    for folder in ("pipeline", "custom_ops"):
        for path in sorted((_PACKAGE_ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(_PACKAGE_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    """Installed versions of the libraries a conversion depends on (read from metadata, nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def _path_state(path: Path) -> Any:
    """Size and modification time of a file, or of every file under a folder."""
    if path.is_file():
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns]
    if path.is_dir():
        return {
            str(p.relative_to(path)): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(path.rglob("*"))
            if p.is_file()
        }
    return "missing"


def _module_file(module: str) -> Path | None:
    """The file of ``module`` found without importing it (finding a submodule would import its parents)."""
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if len(parts) == 1:
        return Path(spec.origin) if spec.origin and Path(spec.origin).is_file() else None
    for location in spec.submodule_search_locations or []:
        base = Path(location, *parts[1:])
        for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _source_state(source: str | None, base_dir: str | None) -> Any:
    if not source:
        return None
    if source.startswith("example:"):
        return {"example": source}  # built from this package's code
    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir and not path.exists():
        path = Path(base_dir) / path
    if path.exists():
        return {"path": str(path.resolve()), "state": _path_state(path)}
    if ":" in source:
        module = source.split(":", 1)[0]
        file = _module_file(module)
        return {"module": module, "file": str(file) if file else None, "state": _path_state(file) if file else None}
    return {"path": str(path), "state": "missing"}


def fingerprint(config: ConversionConfig, code: str, versions: dict[str, str]) -> str:
    """What makes a conversion's result current: its resolved entry, its source files, the tools and code.

    The limits (``timeout_s``, ``memory_gb``), the name and where it runs (``num_cpus``,
    ``shared_path``) are left out: they do not change a result.
    """
    entry = to_json(config)
    for key in ("name", "timeout_s", "memory_gb", "num_cpus", "shared_path"):
        entry.pop(key, None)
    payload = {
        "entry": entry,
        "source": _source_state(config.source, config.base_dir),
        "inputs_file": _path_state(Path(config.base_dir or ".", config.inputs_file)) if config.inputs_file else None,
        "custom_objects": [_source_state(spec, None) for spec in config.custom_objects],
        "custom_object_files": {ref: _path_state(Path(f)) for ref, f in module_files(config).items() if f},
        "versions": versions,
        "code": code,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# --------------------------------------------------------------------------- outcomes from reports


def outcome_kind(report: dict[str, Any]) -> str | None:
    """Why a model did not pass, from its report; None when it passed."""
    status = report.get("status")
    if status == "passed":
        return None
    if status == "failed":
        return "validation"
    error = report.get("error") or {}
    if error.get("type") == "ConfigError":
        return "config_error"
    return _ERROR_KINDS.get(error.get("kind") or "", "user_error")


def _message(report: dict[str, Any]) -> str | None:
    from pipeline.report import pair_rows

    if report.get("status") == "failed":
        failing = [
            f"{pair} {output} (max abs err {err})"
            for pair, output, verdict, err in pair_rows(report)
            if verdict.startswith("FAIL")
        ]
        return "validation failed: " + "; ".join(failing) if failing else "validation failed"
    error = report.get("error")
    if not error:
        return None
    head = f"[{error['stage']}] " if error.get("stage") else ""
    return head + str(error.get("message", ""))


def _outcome(report: dict[str, Any], folder: str, *, reused: bool) -> ModelOutcome:
    info = report.get("batch") or {}
    seconds = info.get("seconds")
    if seconds is None:
        seconds = sum(s.get("seconds", 0.0) for s in report.get("stages", []))
    return ModelOutcome(
        name=report.get("name") or folder,
        status=report["status"],
        kind=outcome_kind(report),
        message=_message(report),
        seconds=round(float(seconds), 2),
        report=f"{folder}/report.json",
        reused=reused,
        peak_rss_mb=info.get("peak_rss_mb"),
    )


def _read_report(folder: Path) -> dict[str, Any] | None:
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and report.get("status") in STATUSES else None


def _reusable(report: dict[str, Any] | None, info: dict[str, Any], retry_failed: bool) -> bool:
    """Whether an earlier report is the current result: same fingerprint, and no changed limit it ran into."""
    if report is None:
        return False
    earlier = report.get("batch") or {}
    if earlier.get("fingerprint") != info["fingerprint"]:
        return False
    if retry_failed and report["status"] != "passed":
        return False
    kind = outcome_kind(report)
    if kind == "crash":  # a crash (a process killed by a signal) is not a result: retried
        return False
    limit = {"timeout": "timeout_s", "out_of_memory": "memory_gb"}.get(kind or "")
    return limit is None or (earlier.get("limits") or {}).get(limit) == info["limits"][limit]


# --------------------------------------------------------------------------- the run


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def folder_name(name: str, taken: set[str]) -> str:
    """A folder name for a model: its name when safe, else a cleaned-up one; unique within the batch."""
    folder = name if NAME_PATTERN.fullmatch(name) else re.sub(r"[^A-Za-z0-9_.+-]", "_", name).lstrip(".-") or "model"
    unique, n = folder, 2
    while unique in taken:
        unique, n = f"{folder}-{n}", n + 1
    taken.add(unique)
    return unique


class Engine(Protocol):
    """Runs the conversions a batch could not reuse (the local engine is :meth:`_Batch._run_queue`).

    ``run`` gets the batch (``out``, ``jobs``, ``workers_started``, ``progress``, :meth:`_Batch.finished`)
    and its queue of jobs (``entry``, ``config``, ``folder``, ``info``); it is called only when the
    queue is not empty. ``info`` describes the engine for ``summary.json``.
    """

    info: dict[str, Any]

    def run(self, batch: Any, queue: list[Any]) -> None: ...


def run_batch(
    config_path: str | Path,
    out_dir: str | Path,
    *,
    jobs: int | None = None,
    force: bool = False,
    retry_failed: bool = False,
    stream: TextIO | None = None,
    engine: Engine | None = None,
) -> BatchSummary:
    """Convert every model of a batch file into ``out_dir``; see the module docstring.

    Raises :class:`ConfigError` when the file itself is unusable (not YAML, no ``models`` list);
    a bad entry only makes that model an error. ``engine``: where conversions run (default: here,
    ``jobs`` at a time; see pipeline/batch_ray.py).
    """
    runner = _Batch(Path(config_path), Path(out_dir), jobs or default_jobs(), force, retry_failed, stream)
    runner.engine = engine
    return runner.run()


def convert_one(out: Path, name: str, config: ConversionConfig, folder: str, info: dict[str, Any]) -> ModelOutcome:
    """One model through the local engine's process tree (timeout, memory cap, tree kill) into ``out/folder``.

    What a remote engine's task runs on its node, so that every guarantee and every ``kind`` of
    the local engine holds there too.
    """
    with open(os.devnull, "w") as quiet:
        runner = _Batch(Path(str(info.get("config", name))), out, 1, True, False, quiet)
        runner.progress = BatchProgress(quiet, 1)
        runner.order = [0]
        runner._run_queue([_Job(BatchEntry(0, 0, name, config.source, config), config, folder, info)])
    return runner.outcomes[0]


def publish_error(
    out: Path, folder: str, name: str, config: ConversionConfig, error: PipelineError, info: dict[str, Any]
) -> ModelOutcome:
    """Publish an error report for a model that ended outside its conversion (a lost node, a bad request)."""
    report = _error_report(name, config, error, out / folder, info)
    return _outcome(report, folder, reused=False)


def outcome_from_report(report: dict[str, Any], folder: str) -> ModelOutcome:
    """A freshly converted model's line of the summary, from its report."""
    return _outcome(report, folder, reused=False)


class _Batch:
    def __init__(
        self, path: Path, out: Path, jobs: int, force: bool, retry_failed: bool, stream: TextIO | None
    ) -> None:
        if jobs < 1:
            raise UserError(f"--jobs must be at least 1, got {jobs}", stage="batch")
        self.path, self.out, self.jobs = path, out, jobs
        self.force, self.retry_failed = force, retry_failed
        self.stream = stream or sys.stdout
        self.engine: Engine | None = None
        self.outcomes: dict[int, ModelOutcome] = {}
        self.order: list[int] = []
        self.workers_started = 0
        self.start = time.monotonic()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")

    # ------------------------------------------------------------------ plan

    def run(self) -> BatchSummary:
        batch = load_batch(self.path, strict=False, require_batch=True)
        if not batch.is_batch:
            raise ConfigError(
                f"{self.path}: not a batch file: expected a top-level 'models' list (and optional 'defaults')",
                stage="config",
            )
        outdir.check_target(self.out, protect=outdir.protected_paths(self.path), kind="batch")
        self.out.mkdir(parents=True, exist_ok=True)
        outdir.mark(self.out, "batch")
        with _locked(self.out):
            self._clean_leftovers()
            code, versions = code_digest(), tool_versions()
            taken: set[str] = set()
            queue: list[_Job] = []
            self.order = [e.index for e in batch.entries]
            self.progress = BatchProgress(self.stream, len(batch.entries))
            for entry in batch.entries:
                folder = folder_name(entry.name, taken)
                if entry.config is None:
                    self._config_error(entry, folder, code)
                    continue
                info = {
                    "fingerprint": fingerprint(entry.config, code, versions),
                    "limits": {"timeout_s": entry.config.timeout_s, "memory_gb": entry.config.memory_gb},
                    "config": str(self.path),
                }
                report = _read_report(self.out / folder)
                if not self.force and _reusable(report, info, self.retry_failed):
                    assert report is not None
                    self._done(entry.index, _outcome(report, folder, reused=True))
                    continue
                queue.append(_Job(entry, entry.config, folder, info))
            try:
                if queue and self.engine is not None:
                    self.engine.run(self, queue)
                elif queue:
                    self._run_queue(queue)
            except BaseException:
                self._write_summary(complete=False, interrupted=True)
                raise
            finally:
                self._clean_leftovers()
            summary = self._write_summary(complete=True)
        self.progress.close()
        return summary

    def _config_error(self, entry: BatchEntry, folder: str, code: str) -> None:
        """An entry that could not be parsed: an error report of its own, rewritten only when it changed."""
        assert entry.error is not None
        info = {
            "fingerprint": hashlib.sha256(f"{entry.error}\0{code}".encode()).hexdigest(),
            "limits": {},
            "config": str(self.path),
        }
        report = _read_report(self.out / folder)
        if _reusable(report, info, retry_failed=False):
            assert report is not None
            self._done(entry.index, _outcome(report, folder, reused=True))
            return
        config = ConversionConfig(name=entry.name, source=entry.source)
        report = _error_report(entry.name, config, entry.error, self.out / folder, {**info, "seconds": 0.0})
        self._done(entry.index, _outcome(report, folder, reused=False))

    # ------------------------------------------------------------------ scheduling

    def _run_queue(self, queue: list[_Job]) -> None:
        running: list[_Job] = []
        try:
            while queue or running:
                while queue and len(running) < self.jobs:
                    job = queue.pop(0)
                    self._start(job)
                    running.append(job)
                for job in list(running):
                    assert job.proc is not None
                    pid, status, rusage = os.wait4(job.proc.pid, os.WNOHANG)
                    if pid == job.proc.pid:
                        job.proc.returncode = os.waitstatus_to_exitcode(status)
                        running.remove(job)
                        self._finish(job, status, rusage)
                    elif job.killed_for is None:
                        rss = tree_rss(job.proc.pid)
                        job.peak_rss = max(job.peak_rss, rss)
                        limits = WorkerLimits(job.config.timeout_s, job.config.memory_gb)
                        job.killed_for = over_limits(job.proc.pid, limits, job.deadline, rss)
                        if job.killed_for is not None:
                            kill_tree(job.proc.pid)
                self.progress.running(
                    [(j.entry.name, time.monotonic() - j.started, read(j.files["stage"])) for j in running]
                )
                if running:
                    time.sleep(_POLL_S)
        except BaseException:
            # Ctrl-C, SIGTERM (the CLI turns it into KeyboardInterrupt) or our own bug: take every
            # running conversion down with its process tree and staging folder, undisturbed.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                for job in running:
                    self._abandon(job)
                self.progress.line(f"interrupted: stopped {len(running)} running conversion(s)")
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            raise

    def _start(self, job: _Job) -> None:
        from pipeline.worker import child_env, command

        work = self.out / WORK_DIR
        work.mkdir(parents=True, exist_ok=True)
        job.files = {k: work / f"{job.folder}.{k}" for k in ("request.json", "result.json", "log", "tmp", "stage")}
        job.files["result.json"].unlink(missing_ok=True)
        job.files["tmp"].mkdir(exist_ok=True)  # the conversion's temporary files, removed with the job
        request = {"config": to_json(job.config), "out": str(self.out / job.folder), "batch": job.info}
        job.files["request.json"].write_text(json.dumps(request), encoding="utf-8")
        with open(job.files["log"], "wb") as log:
            job.proc = subprocess.Popen(
                command(CONVERT, job.files["request.json"], job.files["result.json"]),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**child_env(), "TMPDIR": str(job.files["tmp"]), STAGE_ENV: str(job.files["stage"])},
                start_new_session=True,
            )
        self.workers_started += 1
        job.started = time.monotonic()
        job.deadline = job.started + job.config.timeout_s if job.config.timeout_s else None
        self.progress.started(job.entry.name)

    def _finish(self, job: _Job, status: int, rusage: Any) -> None:
        assert job.proc is not None
        seconds = round(time.monotonic() - job.started, 2)
        folder, target = job.folder, self.out / job.folder
        partial = self.out / f".{job.folder}.partial-{job.proc.pid}"
        log_tail = tail(job.files["log"])
        stage, stage_log = _running_stage(partial)
        during = f" (during the {stage_log.stem} worker)" if stage_log else ""
        stage_tail = tail(stage_log) if stage_log else log_tail
        error: PipelineError | None = None
        if job.killed_for is not None:
            error_type, reason = job.killed_for
            error = error_type(f"the conversion was stopped: {reason}{during}", stage=stage, details=stage_tail)
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            error = WorkerCrashError(
                f"the conversion process crashed with signal {name}{during}", stage=stage, details=stage_tail
            )
        else:
            payload = _read_json(job.files["result.json"])
            if payload is None:
                error = WorkerCrashError(
                    f"the conversion process exited with code {os.WEXITSTATUS(status)} without a result",
                    stage="batch",
                    details=log_tail,
                )
            elif not payload.get("ok"):
                error = error_from_dict(payload["error"])
        report = _read_report(target) if error is None else None
        if report is not None and (report.get("batch") or {}).get("fingerprint") != job.info["fingerprint"]:
            kept = _read_report(target / outdir.LAST_ERROR)  # an error kept beside an earlier result
            if kept is not None:
                report, target, folder = kept, target / outdir.LAST_ERROR, f"{folder}/{outdir.LAST_ERROR}"
        fresh = report is not None and (report.get("batch") or {}).get("fingerprint") == job.info["fingerprint"]
        if error is None and not fresh:
            error = WorkerCrashError("the conversion ended without its report", stage="batch", details=log_tail)
        peak_mb = max(job.peak_rss / 2**20, rusage.ru_maxrss / 1024)
        info = {**job.info, "seconds": seconds, "peak_rss_mb": round(peak_mb, 1)}
        if error is not None:
            report = _error_report(job.entry.name, job.config, error, target, info, logs=partial / "logs")
        else:
            assert report is not None
            report["batch"] = info
            from pipeline.report import write_report

            write_report(report, target / "report.json", target / "report.md")
        _remove_staging(self.out, job.folder, job.proc.pid)
        if job.files["log"].stat().st_size:  # what the conversion process itself printed
            (target / "logs").mkdir(exist_ok=True)
            shutil.move(job.files["log"], target / "logs" / "conversion.log")
        _remove_files(job.files)
        self._done(job.entry.index, _outcome(report, folder, reused=False))

    def _abandon(self, job: _Job) -> None:
        """Kill a running conversion's whole process tree and remove what it had staged."""
        assert job.proc is not None
        pids = kill_tree(job.proc.pid)
        try:
            os.waitpid(job.proc.pid, 0)
        except ChildProcessError:
            pass
        job.proc.returncode = -signal.SIGKILL
        _wait_gone(pids[1:], timeout=10.0)
        _remove_staging(self.out, job.folder, job.proc.pid)
        _remove_files(job.files)

    # ------------------------------------------------------------------ results

    def _done(self, index: int, outcome: ModelOutcome, where: str = "") -> None:
        self.outcomes[index] = outcome
        extra = " (reused: up to date)" if outcome.reused else ""
        extra += f"  {outcome.kind}: {_short(outcome.message, 90)}" if outcome.kind else ""
        extra += f"  [{where}]" if where else ""
        self.progress.finished(len(self.outcomes), outcome.name, outcome.status, outcome.seconds, extra)
        if not outcome.reused:
            self._write_summary(complete=False)

    def finished(self, index: int, outcome: ModelOutcome, where: str = "") -> None:
        """An engine's model is done: record its outcome, print its line (``where``: the node that ran it)."""
        self._done(index, outcome, where)

    def _clean_leftovers(self) -> None:
        """Staging folders and worker files of an earlier batch that was killed."""
        for stale in [*self.out.glob(".*.partial-*"), *self.out.glob(".*.old-*")]:
            pid = stale.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not process_running(int(pid)):
                shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(self.out / WORK_DIR, ignore_errors=True)

    def _write_summary(self, *, complete: bool, interrupted: bool = False) -> BatchSummary:
        summary = BatchSummary(
            config=str(self.path),
            out_dir=self.out,
            jobs=self.jobs,
            models=[self.outcomes[i] for i in self.order if i in self.outcomes],
            wall_seconds=time.monotonic() - self.start,
            workers_started=self.workers_started,
            complete=complete,
            interrupted=interrupted,
            started_at=self.started_at,
            engine=self.engine.info if self.engine is not None else {"name": "local"},
        )
        _write_text(self.out / "summary.json", json.dumps(summary.to_json(), indent=2) + "\n")
        _write_text(self.out / "summary.md", render_markdown(summary))
        _write_text(self.out / "junit.xml", render_junit(summary, self.path.stem))
        return summary


# --------------------------------------------------------------------------- helpers


def _error_report(
    name: str,
    config: ConversionConfig,
    error: PipelineError,
    target: Path,
    info: dict[str, Any],
    logs: Path | None = None,
) -> dict[str, Any]:
    """Publish a report for a model the conversion could not report on itself (killed, crashed, bad entry)."""
    from pipeline.context import Workspace
    from pipeline.conversion import Conversion
    from pipeline.publish import publish
    from pipeline.report import build_report, write_report
    from pipeline.sources import Source, SourceKind, classify

    staging = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if logs is not None and logs.is_dir():
        shutil.move(logs, staging / "logs")
    try:
        source = classify(config.source or "", config.base_dir)
    except PipelineError:
        source = Source(SourceKind.UNKNOWN, config.source or "")
    conv = Conversion(source=source, config=config, name=name, workspace=Workspace(staging), error=error, batch=info)
    report = build_report(conv)
    try:
        publish(conv, report, target, write_report)
    except OutputFolderError as exc:  # a folder the pipeline did not write: left as it is
        shutil.rmtree(staging, ignore_errors=True)
        conv.error = exc
        report = build_report(conv)
    return report


@contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One batch at a time per output folder."""
    lock_path = out / ".batch.lock"
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise UserError(
                f"another batch is writing to {out} (pid {lock.read().strip() or '?'})", stage="batch"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        yield


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


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _short(text: str | None, width: int = 110) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


# --------------------------------------------------------------------------- output formats


def summary_table(summary: BatchSummary) -> str:
    """The per-model table and the totals line, as printed at the end of a run."""
    header = ("model", "status", "kind", "seconds", "detail")
    rows = [
        (
            m.name,
            m.status if m.status == "passed" else m.status.upper(),
            m.kind or "",
            f"{m.seconds:.1f}",
            _short(m.message),
        )
        for m in summary.models
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header).rstrip(), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r).rstrip() for r in rows]
    lines.append(
        f"{summary.count('passed')} passed, {summary.count('failed')} failed, {summary.count('error')} errors"
        f" ({len(summary.models)} models)"
    )
    return "\n".join(lines)


def render_markdown(summary: BatchSummary) -> str:
    """``summary.md``: one table row per model, linking its report."""
    state = "" if summary.complete else (" (interrupted)" if summary.interrupted else " (running)")
    lines = [
        f"# Batch summary: `{summary.config}`{state}",
        "",
        f"**{summary.count('passed')} passed, {summary.count('failed')} failed, {summary.count('error')} errors** "
        f"of {len(summary.models)} models; {summary.jobs} in parallel, {summary.wall_seconds:.1f} s wall, "
        f"{sum(m.reused for m in summary.models)} reused from earlier runs.",
        "",
        "| model | status | kind | seconds | peak RSS (MB) | detail | report |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in summary.models:
        status = m.status if m.status == "passed" else f"**{m.status}**"
        detail = _short(m.message, 200).replace("|", "\\|")
        rss = f"{m.peak_rss_mb:.0f}" if m.peak_rss_mb else ""
        report_md = m.report.replace("report.json", "report.md")
        lines.append(
            f"| {m.name} | {status} | {m.kind or ''} | {m.seconds:.1f} | {rss} | {detail} | [report]({report_md}) |"
        )
    return "\n".join(lines) + "\n"


_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def render_junit(summary: BatchSummary, suite: str) -> str:
    """``junit.xml``: one test case per model; ``failure`` for a validation mismatch, ``error`` otherwise."""
    import xml.etree.ElementTree as ET

    def clean(text: str | None) -> str:
        return _XML_INVALID.sub("", text or "")

    counts = {
        "tests": str(len(summary.models)),
        "failures": str(summary.count("failed")),
        "errors": str(summary.count("error")),
        "time": f"{summary.wall_seconds:.2f}",
    }
    root = ET.Element("testsuites", name="keras2torch batch", **counts)
    suite_el = ET.SubElement(root, "testsuite", name=clean(suite), skipped="0", timestamp=summary.started_at, **counts)
    for m in summary.models:
        case = ET.SubElement(suite_el, "testcase", classname=f"keras2torch.{clean(suite)}", name=clean(m.name))
        case.set("time", f"{m.seconds:.2f}")
        if m.status != "passed":
            tag = "failure" if m.status == "failed" else "error"
            details = _error_details(summary.out_dir / m.report)
            node = ET.SubElement(case, tag, message=clean(_short(m.message, 500)), type=m.kind or m.status)
            node.text = clean(m.message or "") + ("\n\n" + clean(details) if details else "")
        out = ET.SubElement(case, "system-out")
        out.text = f"report: {m.report}" + (" (reused from an earlier run)" if m.reused else "")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _error_details(report_path: Path) -> str:
    report = _read_json(report_path) or {}
    error = report.get("error") or {}
    parts = [f"hint: {error['hint']}"] if error.get("hint") else []
    if error.get("details"):
        parts.append(str(error["details"])[-4000:])
    return "\n".join(parts)
