"""Output folders: the pipeline only ever replaces a folder that it wrote itself.

Every folder the pipeline publishes carries a marker file (:data:`MARKER`) listing the entries it
wrote. A target that is a file, a symbolic link, a non-empty folder without the marker, a folder of
ours holding entries the marker does not list, the current folder (or one above it), or a folder
holding the source model, its config or its inputs is refused with an :class:`OutputFolderError`
(exit code 2) before any work, and left untouched. So is a destination that cannot be written:
the nearest existing folder on the way is probed by creating (and removing) an empty folder in it,
which also catches read-only filesystems and pseudo filesystems such as ``/proc``, where
permission bits say nothing (and root ignores them).

A run that ends in an error never replaces an earlier result (a report with status ``passed`` or
``failed``): its report goes to ``<out>/last-error/`` and the earlier result stays as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pipeline.errors import OutputFolderError

MARKER = ".keras2torch.json"
LAST_ERROR = "last-error"  # an errored run's report, beside an earlier result it did not replace
STAGE = "output"
_HINT = "choose another --out, or move that folder away yourself"


def mark(folder: Path, kind: str = "conversion") -> None:
    """Write the marker into ``folder``: it was written by the pipeline, with these entries."""
    entries = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    payload = {"written_by": "keras2torch", "kind": kind, "entries": entries}
    (folder / MARKER).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def marker(folder: Path) -> dict[str, Any] | None:
    """The marker of ``folder`` when it has a valid one."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("written_by") == "keras2torch" else None


def protected_paths(*paths: str | Path | None, base_dir: str | Path | None = None) -> list[Path]:
    """The existing files among ``paths`` (also taken relative to ``base_dir``), resolved."""
    found = []
    for path in paths:
        if not path or (isinstance(path, str) and ":" in path and not Path(path).exists()):
            continue  # module:callable, example:<name>
        for candidate in (Path(path), Path(base_dir) / path if base_dir else None):
            if candidate is not None and (candidate.exists() or candidate.is_symlink()):
                found.append(candidate.resolve())
    return found


def check_target(target: Path, *, protect: Iterable[Path] = (), kind: str = "conversion") -> None:
    """Refuse (raise :class:`OutputFolderError`) a ``target`` the pipeline may not write or replace."""
    target = Path(target)
    resolved = target.resolve()
    cwd = Path.cwd().resolve()
    if resolved == cwd or cwd.is_relative_to(resolved):
        raise _refuse(target, "is the current folder or holds it")
    for path in protect:
        if path == resolved or path.is_relative_to(resolved):
            raise _refuse(target, f"holds the model's own files ({path})")
        if path.is_dir() and resolved.is_relative_to(path):
            raise _refuse(target, f"lies inside the model's own folder ({path})")
    if target.is_symlink():
        raise _refuse(target, "is a symbolic link")
    if target.exists():
        if not target.is_dir():
            raise _refuse(target, "is a file, not a folder")
        problem = foreign(target, kind)
        if problem:
            raise _refuse(target, problem)
    check_writable(target)


def foreign(folder: Path, kind: str = "conversion") -> str | None:
    """Why ``folder`` may not be replaced (None when it is empty or entirely ours)."""
    try:
        entries = {p.name for p in folder.iterdir()}
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    if not entries:
        return None
    info = marker(folder) or _legacy(folder, entries, kind)
    if info is None:
        return f"exists and was not written by keras2torch (it has no {MARKER})"
    if info.get("kind") != kind:
        return f"was written by a keras2torch {info.get('kind')} run, not a {kind} run"
    if kind == "batch":
        return None  # a batch folder's model folders are each checked when replaced
    unknown = sorted(entries - set(info.get("entries") or []) - {MARKER, LAST_ERROR})
    if unknown:
        return f"holds entries keras2torch did not write ({', '.join(unknown[:5])})"
    return None


# what outputs written before the marker existed hold (the marker is then written on replacing them)
_LEGACY_ENTRIES = {
    "conversion": {
        "model.onnx",
        "model.onnx.data",
        "model_fixed.onnx",
        "model.pt2",
        "model.safetensors",
        "inputs.npz",
        "outputs_tf.npz",
        "outputs_ort.npz",
        "outputs_torch.npz",
        "probes_torch.npz",
        "report.json",
        "report.md",
        "report.html",
        "logs",
    },
    "batch": {"summary.json", "summary.md", "junit.xml", ".batch.lock", ".batch"},
}


def _legacy(folder: Path, entries: set[str], kind: str) -> dict[str, Any] | None:
    """A marker for an output written before markers existed: our report file, and nothing else of note."""
    key = "summary.json" if kind == "batch" else "report.json"
    try:
        report = json.loads((folder / key).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(report, dict) or ("models" not in report if kind == "batch" else "status" not in report):
        return None
    if kind == "conversion" and not entries <= _LEGACY_ENTRIES["conversion"]:
        return None
    return {"written_by": "keras2torch", "kind": kind, "entries": sorted(entries)}


def check_writable(target: Path) -> None:
    """Refuse a ``target`` whose folder cannot be created or written (probed, then removed)."""
    parent = Path(os.path.abspath(target)).parent
    while not parent.exists() and not parent.is_symlink() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise _refuse(target, f"cannot be created: {parent} is not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=".k2t-probe-", dir=parent)
    except OSError as exc:
        raise _refuse(target, f"cannot be written: {parent}: {exc.strerror or exc}") from None
    os.rmdir(probe)


def _refuse(target: Path, why: str) -> OutputFolderError:
    return OutputFolderError(f"output folder {target} {why}: refused, nothing was changed", stage=STAGE, hint=_HINT)


def holds_result(folder: Path) -> bool:
    """Whether ``folder`` holds an earlier complete result (a report with status passed or failed)."""
    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(report, dict) and report.get("status") in ("passed", "failed")


def replace(staging: Path, target: Path, *, errored: bool) -> Path:
    """Move the finished ``staging`` folder to ``target``; returns where it went.

    A ``target`` that exists must be ours (see :func:`foreign`). An errored run does not replace an
    earlier result: it goes to ``target/last-error`` instead.
    """
    mark(staging)
    if target.exists() or target.is_symlink():
        problem = "is a symbolic link" if target.is_symlink() else None
        problem = problem or ("is a file, not a folder" if not target.is_dir() else foreign(target))
        if problem:  # changed while the conversion ran: its output stays where it is, and is named
            error = _refuse(target, problem)
            error.message += f"; this run's output is in {staging}"
            raise error
        if errored and holds_result(target):
            dest = target / LAST_ERROR
            shutil.rmtree(dest, ignore_errors=True)
            staging.rename(dest)
            return dest
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
        return target
    staging.rename(target)
    return target
