"""Files a model refers to (ONNX external data) must really lie inside the model's folder.

A text check of the reference (no absolute path, no ``..``) is not enough: a data file that is a
symbolic link, sits under a symlinked folder, or is a hard link to a file elsewhere would make the
pipeline read (and copy into its outputs) a file outside the model. :func:`inside` resolves the
path (after every symlink) and requires it to stay under the resolved folder, and refuses files
with more than one hard link. Every place external data is opened goes through it
(:func:`pipeline.external_data.data_file`).
"""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import NotAModelError


def inside(base_dir: str | Path, relative: str, what: str) -> Path:
    """``base_dir / relative`` when it is a regular file really inside ``base_dir``; ``what`` names it in errors."""
    rel = Path(relative)
    if not relative or rel.is_absolute() or ".." in rel.parts:
        raise NotAModelError(f"{what} points at '{relative}' outside the model's folder")
    path = Path(base_dir) / rel
    if not path.is_file():
        raise NotAModelError(f"{what}: file {path} is missing")
    base = Path(base_dir).resolve()
    real = path.resolve()
    if not real.is_relative_to(base) or path.is_symlink() or any(p.is_symlink() for p in _between(base, path)):
        raise NotAModelError(
            f"{what}: {path} is a symbolic link (to {real}); only files inside the model's folder are read"
        )
    if os.stat(real).st_nlink > 1:
        raise NotAModelError(
            f"{what}: {path} is a hard link (the same file is also elsewhere); only files inside the model's folder "
            "are read: copy it instead of linking"
        )
    return path


def _between(base: Path, path: Path) -> list[Path]:
    """The folders from ``base`` down to ``path``'s folder (as given, unresolved)."""
    folders = []
    parent = path.parent
    while parent != parent.parent and parent.resolve() != base:
        folders.append(parent)
        parent = parent.parent
    return folders
