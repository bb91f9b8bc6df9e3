"""An ``.npz`` file written one array at a time.

Why: the training check's halves hold a model, its gradients and the optimizer's state at once;
keeping every gradient and change in a dict until ``np.savez`` doubled what they held, which took
VGG16's (138 million parameters) torch half over an 8 GB cap. Written as they are made, each array
is on disk and out of memory before the next is computed. ``np.load`` reads the file as any
``.npz``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from types import TracebackType

import numpy as np


class ArrayWriter:
    """``with ArrayWriter(path) as out: out["name"] = array``: each array goes to ``path`` at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self.names: set[str] = set()

    def __enter__(self) -> ArrayWriter:
        self._zip = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        return self

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        assert self._zip is not None, "ArrayWriter used outside its with block"
        if name in self.names:
            raise KeyError(f"{name} written twice to {self.path.name}")
        with self._zip.open(f"{name}.npy", "w", force_zip64=True) as handle:
            np.lib.format.write_array(handle, np.asanyarray(value), allow_pickle=False)
        self.names.add(name)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        assert self._zip is not None
        self._zip.close()
        if kind is not None:  # nothing half-written stays behind
            self.path.unlink(missing_ok=True)
