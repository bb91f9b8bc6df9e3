"""A batch run: plan the models of a batch file, reuse what is current, hand the rest to an engine.

Each usable entry gets a folder of its own in the output folder; an entry with a bad key is a
``config_error`` of its own and the other entries run. What is still current is reused
(:mod:`pipeline.batch.resume`), the rest runs on an :class:`~pipeline.batch.jobs.Engine` (the
local one by default), and ``summary.json``, ``summary.md`` and ``junit.xml`` are rewritten as
each model finishes (:mod:`pipeline.batch.output`). One batch at a time writes to a folder.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pipeline import outdir
from pipeline.batch.jobs import WORK_DIR, Engine, Job
from pipeline.batch.local import LocalEngine
from pipeline.batch.output import render_junit, render_markdown, short, write_text
from pipeline.batch.resume import environment, error_fingerprint, fingerprint, reusable
from pipeline.batch.summary import BatchSummary, ModelOutcome, error_report, outcome_from_report, read_report
from pipeline.config import NAME_PATTERN, ConversionConfig
from pipeline.config_files import BatchEntry, load_batch
from pipeline.errors import ConfigError, UserError
from pipeline.helpers import process_running
from pipeline.progress import BatchProgress


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
    """Convert every model of a batch file into ``out_dir``; see :mod:`pipeline.batch`.

    Raises :class:`ConfigError` when the file itself is unusable (not YAML, no ``models`` list);
    a bad entry only makes that model an error. ``engine``: where conversions run (default: here,
    ``jobs`` at a time; see :mod:`pipeline.batch.ray_engine`). ``force`` redoes every model,
    ``retry_failed`` every model that did not pass.
    """
    batch = Batch(Path(config_path), Path(out_dir), jobs or default_jobs(), stream, engine or LocalEngine())
    return batch.run(force=force, retry_failed=retry_failed)


class Batch:
    """One run of a batch file: its plan, its outcomes so far and its summary (an engine's :class:`Driver`)."""

    def __init__(self, path: Path, out: Path, jobs: int, stream: TextIO | None, engine: Engine) -> None:
        if jobs < 1:
            raise UserError(f"--jobs must be at least 1, got {jobs}", stage="batch")
        self.path, self.out, self.jobs, self.engine = path, out, jobs, engine
        self.stream = stream or sys.stdout
        self.progress = BatchProgress(self.stream, 0)
        self.outcomes: dict[int, ModelOutcome] = {}
        self.order: list[int] = []
        self.workers_started = 0
        self.start = time.monotonic()
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")

    def run(self, *, force: bool, retry_failed: bool) -> BatchSummary:
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
            env = environment()
            taken: set[str] = set()
            queue: list[Job] = []
            self.order = [e.index for e in batch.entries]
            self.progress = BatchProgress(self.stream, len(batch.entries))
            for entry in batch.entries:
                folder = folder_name(entry.name, taken)
                if entry.config is None:
                    self._config_error(entry, folder, env["code"])
                    continue
                info = {
                    "fingerprint": fingerprint(entry.config, env["code"], env["versions"]),
                    "limits": {"timeout_s": entry.config.timeout_s, "memory_gb": entry.config.memory_gb},
                    "config": str(self.path),
                }
                report = read_report(self.out / folder)
                if not force and reusable(report, info, retry_failed):
                    assert report is not None
                    self._done(entry.index, outcome_from_report(report, folder, reused=True))
                    continue
                queue.append(Job(entry, entry.config, folder, info))
            try:
                if queue:
                    self.engine.run(self, queue)
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
        info = {"fingerprint": error_fingerprint(entry.error, code), "limits": {}, "config": str(self.path)}
        report = read_report(self.out / folder)
        if reusable(report, info, retry_failed=False):
            assert report is not None
            self._done(entry.index, outcome_from_report(report, folder, reused=True))
            return
        config = ConversionConfig(name=entry.name, source=entry.source)
        report = error_report(entry.name, config, entry.error, self.out / folder, {**info, "seconds": 0.0})
        self._done(entry.index, outcome_from_report(report, folder))

    def _done(self, index: int, outcome: ModelOutcome, where: str = "") -> None:
        self.outcomes[index] = outcome
        extra = " (reused: up to date)" if outcome.reused else ""
        extra += f"  {outcome.kind}: {short(outcome.message, 90)}" if outcome.kind else ""
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
            engine=self.engine.info,
        )
        write_text(self.out / "summary.json", json.dumps(summary.to_json(), indent=2) + "\n")
        write_text(self.out / "summary.md", render_markdown(summary))
        write_text(self.out / "junit.xml", render_junit(summary, self.path.stem))
        return summary


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
