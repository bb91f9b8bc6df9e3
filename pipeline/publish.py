"""The output folder: a conversion writes into a staging folder that replaces ``out_dir`` only when complete.

An interrupted or failed conversion never leaves a half-written output directory; staging (and
replaced) folders left by a conversion that was killed are removed by the next one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import outdir
from pipeline.context import Workspace
from pipeline.helpers import process_running

if TYPE_CHECKING:
    from pipeline.conversion import Conversion


def staging_dir(target: Path | None) -> Path:
    """The folder a conversion for ``target`` works in (a temporary one without a target)."""
    if target is None:
        return Path(tempfile.mkdtemp(prefix="keras2torch-work-"))
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(target)
    return target.parent / f".{target.name}.partial-{os.getpid()}"


def remove_stale(target: Path) -> None:
    """Staging (and replaced) folders left by a conversion that was killed (its process no longer exists)."""
    for stale in [*target.parent.glob(f".{target.name}.partial-*"), *target.parent.glob(f".{target.name}.old-*")]:
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not process_running(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def publish(conv: Conversion, report: dict[str, Any], target: Path, write_report: Any) -> Path:
    """Move the finished workspace to ``target``; after an error keep only the report and logs.

    Returns where it went: ``target``, or ``target/last-error`` for an error beside an earlier
    result (:func:`pipeline.outdir.replace`: only folders the pipeline wrote are replaced).
    """
    ws = conv.workspace
    shutil.rmtree(ws.scratch, ignore_errors=True)
    if conv.error is not None:
        for entry in list(ws.root.iterdir()) if ws.root.exists() else []:
            if entry.name != "logs":
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    ws.root.mkdir(parents=True, exist_ok=True)
    write_report(report, ws.report_json, ws.report_md)
    if ws.root.resolve() == target.resolve():
        return target
    target = outdir.replace(ws.root, target, errored=conv.error is not None)
    conv.workspace = Workspace(target)
    return target
