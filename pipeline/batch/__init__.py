"""Batch conversions: every model of a YAML file, in parallel, each isolated, resumable.

``python -m pipeline batch configs/zoo.yaml [--out DIR] [--jobs N] [--force] [--retry-failed] [--engine ray]``

Each usable entry of the file's ``models`` list is converted in a process tree of its own, running
the same flow as ``convert``; the entry's ``timeout_s`` and ``memory_gb`` hold for the whole tree,
and a model that does not pass says why (its ``kind``). A rerun reuses every result that is still
current. The output folder holds ``summary.json``, ``summary.md``, ``junit.xml`` and one folder
per model. The package, in the order a run uses it:

- :mod:`~pipeline.batch.run`: :func:`run_batch`, the plan (folders, config errors, what to reuse)
  and the summary files as models finish;
- :mod:`~pipeline.batch.resume`: fingerprints of what produced a result, and whether it is current;
- :mod:`~pipeline.batch.jobs`: the queued jobs and the engine protocol;
- :mod:`~pipeline.batch.local`: the local engine, scheduling conversion processes through
  :mod:`pipeline.worker` (limits, process-tree kill, how a process ended);
- :mod:`~pipeline.batch.ray_engine` and :mod:`~pipeline.batch.ray_task`: the Ray engine, driver and
  node sides, running the local engine's process tree on a node;
- :mod:`~pipeline.batch.summary`: outcomes from reports, error reports for models without one;
- :mod:`~pipeline.batch.output`: ``summary.md``, ``junit.xml`` and the table printed at the end.
"""

from __future__ import annotations

from pipeline.batch.output import summary_table
from pipeline.batch.run import run_batch
from pipeline.batch.summary import BatchSummary, ModelOutcome

__all__ = ["BatchSummary", "ModelOutcome", "run_batch", "summary_table"]
