"""The Ray engine for batches: ``python -m pipeline batch FILE --engine ray [--address ADDR]``.

Each model the batch could not reuse becomes one Ray task, scheduled by the entry's ``num_cpus``
and its ``memory_gb`` (Ray's ``memory`` resource), in a worker process of its own
(``max_calls=1``: no TensorFlow or torch state survives from one model to the next). The task
runs the local engine's conversion process tree for that one model on its node
(:mod:`pipeline.batch.ray_task`): the timeout, the memory cap, the process-tree kill and every
``kind`` of the summary are enforced there, not taken from Ray, whose memory numbers only schedule.
Without an address the batch starts a Ray instance of its own on this machine (all its cores,
its physical memory) and stops it at the end; ``--address auto|HOST:PORT|ray://...`` uses a
running cluster whose nodes have this project and its pinned environment installed (a node
whose code or tool versions differ from the driver's refuses the model, since the result would
carry the wrong fingerprint).

Nothing assumes a shared file system. A source given by path (file or folder) and an
``inputs_file`` go to the task as an uncompressed tar through Ray's object store, unless the
entry says ``shared_path: true`` (every node reads the path in place). ``module:callable`` and
``example:`` sources are built on the node. The task sends the finished model folder back the
same way (one tar, mapped from the node's disk into the object store, never a second copy on a
heap); the batch unpacks it beside ``OUT`` and renames it into place, as the local engine
publishes. Paths of the node's scratch copy are written back as the driver's paths in the report.

A task whose worker or node is lost (the node died, its raylet went away, the result object was
lost with it) runs once more, on another node when one fits (a dead node gets nothing anyway),
and its report and progress line say so; a second loss is a ``crash``. A model no node could
ever hold is a ``user_error``.
Ctrl-C or SIGTERM cancels every running task (its worker is killed, and its conversion tree dies
with it, see :func:`pipeline.worker.die_with_parent`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import outdir
from pipeline.batch.jobs import WORK_DIR, Driver, Job
from pipeline.batch.ray_task import pack, run_task, unpack
from pipeline.batch.resume import environment, inputs_path, source_path
from pipeline.batch.run import default_jobs
from pipeline.batch.summary import ModelOutcome, publish_error
from pipeline.config import ConversionConfig
from pipeline.errors import (
    InternalError,
    OutputFolderError,
    PipelineError,
    UserError,
    WorkerCrashError,
    WorkerOutOfMemoryError,
)
from pipeline.helpers import first_line

ATTEMPTS = 2  # a task whose worker or node was lost runs once more
_WAIT_S = 0.5
# Ray errors that mean the task's process or node went away, not that the conversion failed
_LOST = (
    "NodeDiedError",
    "WorkerCrashedError",
    "LocalRayletDiedError",
    "ObjectLostError",
    "OwnerDiedError",
    "ObjectFetchTimedOutError",
    "ObjectReconstructionFailedError",
)


@dataclass
class _Task:
    job: Job
    attempt: int = 1
    lost: list[str] = field(default_factory=list)  # why earlier attempts ended
    lost_nodes: list[str] = field(default_factory=list)  # the nodes they ended on, where Ray names them


class RayEngine:
    """Runs a batch's conversions as Ray tasks (see the module docstring); for ``run_batch(engine=...)``."""

    def __init__(self, address: str | None = None, jobs: int | None = None) -> None:
        self.address, self.jobs = address, jobs
        self.info: dict[str, Any] = {"name": "ray", "address": address or "local"}
        self.refs: dict[Any, _Task] = {}

    def run(self, batch: Driver, queue: list[Job]) -> None:
        import ray

        start = time.monotonic()
        self._connect(ray)
        self.info["startup_seconds"] = round(time.monotonic() - start, 2)
        try:
            self._schedule(ray, batch, queue)
        finally:
            stop = time.monotonic()
            ray.shutdown()  # stops the instance this batch started; from a cluster it only disconnects
            self.info["shutdown_seconds"] = round(time.monotonic() - stop, 2)

    def _connect(self, ray: Any) -> None:
        import psutil

        options: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if not self.address:
            # Ray turns token authentication on for a new instance and says so on every start
            logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
            options.update(
                num_cpus=self.jobs or default_jobs(),
                _memory=psutil.virtual_memory().total,  # schedule by this machine's memory
                include_dashboard=False,
            )
        else:
            _probe(self.address)
        try:  # "local": a new instance, even when RAY_ADDRESS names a cluster
            ray.init(address=self.address or "local", **options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            raise UserError(f"cannot start or reach {where}: {first_line(exc, 300)}", stage="batch") from exc
        nodes = _alive_nodes(ray)
        self.info["nodes"] = len(nodes)
        self.info["cpus"] = sum(n["Resources"].get("CPU", 0) for n in nodes)
        self.expect = environment()

    def _schedule(self, ray: Any, batch: Driver, queue: list[Job]) -> None:
        slots = self.jobs or max(1, int(self.info["cpus"]))
        batch.jobs = self.info["slots"] = slots
        pending = [_Task(job) for job in queue]
        try:
            while pending or self.refs:
                while pending and len(self.refs) < slots:
                    self._submit(ray, batch, pending.pop(0))
                if self.refs:
                    ready, _ = ray.wait(list(self.refs), num_returns=1, timeout=_WAIT_S)
                    for ref in ready:
                        self._collect(ray, batch, ref, self.refs.pop(ref), pending)
        except BaseException:
            for ref in self.refs:
                ray.cancel(ref, force=True)  # kills the task's worker; its conversion tree dies with it
            batch.progress.line(f"interrupted: cancelled {len(self.refs)} running task(s)")
            raise

    def _submit(self, ray: Any, batch: Driver, task: _Task) -> None:
        job, config = task.job, task.job.config
        memory = int(config.memory_gb * 2**30) if config.memory_gb else 0
        fitting = [
            n["NodeID"]
            for n in _alive_nodes(ray)
            if n["Resources"].get("CPU", 0) >= config.num_cpus and n["Resources"].get("memory", 0) >= memory
        ]
        if not fitting:
            error = UserError(
                f"no node of the Ray cluster has {config.num_cpus:g} CPUs and {memory / 2**30:g} GB of memory"
                " (the entry's num_cpus and memory_gb) to run this model",
                stage="batch",
            )
            self._publish_error(batch, task, error, "")
            return
        request: dict[str, Any] = {
            "name": job.entry.name,
            "folder": job.folder,
            "config": config,
            "info": {**job.info, "ray": {"attempt": task.attempt, "lost": task.lost} if task.lost else {}},
            "expect": self.expect,
            "cwd": os.getcwd(),
            "out": str(batch.out.resolve()),
        }
        blobs = [None, None]
        if not config.shared_path:
            work = batch.out / WORK_DIR / f"{job.folder}.ship"
            for i, (key, path) in enumerate((("source", source_path(config)), ("inputs", _inputs_file(config)))):
                if path is not None:
                    blobs[i] = ray.put(pack(path, path.name, work))
                    request[f"{key}_name"], request[f"{key}_path"] = path.name, str(path)
            shutil.rmtree(work, ignore_errors=True)  # the object store holds the copies now
        options: dict[str, Any] = {"num_cpus": config.num_cpus, "memory": memory, "max_retries": 0}
        others = [n for n in fitting if n not in task.lost_nodes]
        if others and set(task.lost_nodes) & set(fitting):  # the node that lost it still lives: go elsewhere
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(others[0], soft=True)
        remote = ray.remote(max_calls=1)(run_task).options(name=f"convert {job.entry.name}", **options)
        self.refs[remote.remote(request, *blobs)] = task
        batch.workers_started += 1
        batch.progress.started(job.entry.name)

    def _collect(self, ray: Any, batch: Driver, ref: Any, task: _Task, pending: list[_Task]) -> None:
        error: PipelineError | None = None
        try:
            result = ray.get(ref)
        except ray.exceptions.OutOfMemoryError as exc:  # Ray's own memory monitor, before our cap
            error = WorkerOutOfMemoryError(
                "the node ran out of memory: Ray's memory monitor killed the conversion's task",
                stage="batch",
                details=str(exc)[-4000:],
            )
        except ray.exceptions.RayError as exc:
            if type(exc).__name__ not in _LOST:
                error = InternalError(
                    f"the Ray task failed: {first_line(exc, 300)}", stage="batch", details=str(exc)[-4000:]
                )
            elif task.attempt < ATTEMPTS:
                task.lost.append(f"{type(exc).__name__}: {first_line(exc, 300)}")
                task.lost_nodes += re.findall(r"node ID: ([0-9a-f]{16,})", str(exc), flags=re.IGNORECASE)
                task.attempt += 1
                batch.progress.line(f"retrying {task.job.entry.name}: its worker or node was lost ({task.lost[-1]})")
                pending.insert(0, task)
                return
            else:
                error = WorkerCrashError(
                    f"the conversion's Ray worker or node was lost {task.attempt} times: {first_line(exc, 300)}",
                    stage="batch",
                    details="\n".join([*task.lost, str(exc)])[-4000:],
                )
        if error is not None:
            self._publish_error(batch, task, error, "")
            return
        outcome = ModelOutcome(**result["outcome"])
        try:
            placed = self._receive(batch.out, task.job.folder, result["tar"], errored=outcome.status == "error")
        except OutputFolderError as exc:  # the target changed into a folder the pipeline did not write
            self._publish_error(batch, task, exc, "")
            return
        if placed != batch.out / task.job.folder:  # an error kept beside an earlier result (outdir.replace)
            outcome.report = f"{task.job.folder}/{outdir.LAST_ERROR}/report.json"
        del result["tar"]  # releases the object store's copy
        node = result["node"]
        where = f"node {node['ip']} {node['id'][:8]}"
        if task.lost:
            where += f", retried after {task.lost[-1].split(':')[0]}"
            self.info.setdefault("retried", []).append({"model": task.job.entry.name, "after": task.lost})
        batch.finished(task.job.entry.index, outcome, where)

    def _publish_error(self, batch: Driver, task: _Task, error: PipelineError, where: str) -> None:
        info = {**task.job.info, "seconds": 0.0, "ray": {"attempt": task.attempt, "lost": task.lost}}
        outcome = publish_error(batch.out, task.job.folder, task.job.entry.name, task.job.config, error, info)
        batch.finished(task.job.entry.index, outcome, where)

    @staticmethod
    def _receive(out: Path, folder: str, blob: Any, *, errored: bool) -> Path:
        """Unpack a task's model folder and move it into place as a local conversion publishes; where it went."""
        staging = out / WORK_DIR / f"{folder}.received"
        shutil.rmtree(staging, ignore_errors=True)
        unpack(blob, staging)
        try:
            return outdir.replace(staging / folder, out / folder, errored=errored)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _probe(address: str, timeout_s: float = 10.0) -> None:
    """Fail fast on a cluster address nothing answers at: Ray's own client retries such a GCS for ever."""
    if address == "auto":  # the cluster `ray start` last started on this machine
        current = Path(os.environ.get("RAY_TMPDIR", "/tmp"), "ray", "ray_current_cluster")
        address = current.read_text(encoding="utf-8").strip() if current.is_file() else ""
        if not address:
            raise UserError("--address auto: no Ray cluster was started on this machine (ray start)", stage="batch")
    if address.startswith("ray://") or ":" not in address:
        return  # Ray Client has its own connection timeout
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except (OSError, ValueError) as exc:
        raise UserError(f"no Ray cluster answers at {address}: {exc}", stage="batch") from exc


def _alive_nodes(ray: Any) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def _inputs_file(config: ConversionConfig) -> Path | None:
    path = inputs_path(config)
    return path.resolve() if path is not None and path.is_file() else None
