"""A batch's results: each model's :class:`ModelOutcome`, read from its report, and the :class:`BatchSummary`.

Why a model did not pass is its ``kind``: ``validation`` (status ``failed``); ``crash``,
``timeout``, ``out_of_memory``, ``user_error``, ``config_error``, ``internal_error`` (status
``error``). A model that ended without a report of its own (killed, crashed, a bad entry, a lost
node) gets one published here (:func:`publish_error`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import ConversionConfig
from pipeline.context import to_json
from pipeline.errors import OutputFolderError, PipelineError

STATUSES = ("passed", "failed", "error")
# report["error"]["kind"] -> the batch's kind of error
_ERROR_KINDS = {"timeout": "timeout", "out_of_memory": "out_of_memory", "crash": "crash", "internal": "internal_error"}


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
    """What :func:`pipeline.batch.run_batch` returns (and writes as ``summary.json``)."""

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


def outcome_from_report(report: dict[str, Any], folder: str, *, reused: bool = False) -> ModelOutcome:
    """A model's line of the summary, from its report (``folder``: where it lies in the output folder)."""
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


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON file's content; None when it is missing or not JSON."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def read_report(folder: Path) -> dict[str, Any] | None:
    """The finished report in a model folder; None when there is none."""
    report = read_json(folder / "report.json")
    return report if isinstance(report, dict) and report.get("status") in STATUSES else None


def error_report(
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


def publish_error(
    out: Path, folder: str, name: str, config: ConversionConfig, error: PipelineError, info: dict[str, Any]
) -> ModelOutcome:
    """Publish an error report for a model that ended outside its conversion (a lost node, a bad request)."""
    return outcome_from_report(error_report(name, config, error, out / folder, info), folder)
