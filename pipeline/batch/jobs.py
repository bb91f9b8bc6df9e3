"""What a batch hands to an engine: the queued :class:`Job`\\ s, and what the engine sees of the batch.

An engine (the local one in :mod:`pipeline.batch.local`, Ray's in :mod:`pipeline.batch.ray_engine`)
converts the jobs the batch could not reuse and reports each model's outcome back through
:meth:`Driver.finished`; planning, resuming and the summary stay with the batch
(:mod:`pipeline.batch.run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pipeline.config import ConversionConfig
from pipeline.config_files import BatchEntry

if TYPE_CHECKING:
    from pipeline.batch.summary import ModelOutcome
    from pipeline.progress import BatchProgress

WORK_DIR = ".batch"  # inside the output folder: requests, results and logs of running conversions


@dataclass
class Job:
    """A model to convert: its entry, resolved config, folder in the output and the report's ``batch`` section."""

    entry: BatchEntry
    config: ConversionConfig
    folder: str
    info: dict[str, Any]


class Driver(Protocol):
    """What an engine sees of the batch it runs for."""

    out: Path
    jobs: int  # conversions at a time; an engine may set it to what it runs
    workers_started: int
    progress: BatchProgress

    def finished(self, index: int, outcome: ModelOutcome, where: str = "") -> None:
        """A model is done: record its outcome and print its line (``where``: the node that ran it)."""


class Engine(Protocol):
    """Runs the conversions a batch could not reuse; called only when the queue is not empty.

    ``info`` describes the engine for ``summary.json``.
    """

    info: dict[str, Any]

    def run(self, batch: Driver, queue: list[Job]) -> None: ...
