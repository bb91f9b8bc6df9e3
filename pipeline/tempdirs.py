"""Work folders in the system temporary directory, named after the process that made them.

A process killed with ``kill -9`` cannot remove its temporary folders. Every ``k2t-*`` folder
carries its creator's process id (``k2t-<what>-<pid>-<random>``), so the next run removes those
whose process no longer exists (:func:`clean_dead`), as it does for ``.partial`` output folders.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "k2t-"
_NAME = re.compile(rf"{PREFIX}[A-Za-z0-9_]+-(\d+)-")


def prefix(what: str) -> str:
    """The ``prefix`` argument for :mod:`tempfile` functions: ``k2t-<what>-<pid>-``."""
    return f"{PREFIX}{what}-{os.getpid()}-"


def make(what: str) -> Path:
    """A new temporary folder for ``what`` (its caller removes it)."""
    return Path(tempfile.mkdtemp(prefix=prefix(what)))


def clean_dead(root: str | Path | None = None) -> list[Path]:
    """Remove ``k2t-*`` folders under ``root`` (default: the temporary directory) of dead processes."""
    removed = []
    try:
        entries = list(os.scandir(root or tempfile.gettempdir()))
    except OSError:
        return removed
    for entry in entries:
        match = _NAME.match(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not alive(pid):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def alive(pid: int) -> bool:
    """Whether a process with this id exists (zombies count as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True
