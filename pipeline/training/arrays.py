"""An ``.npz`` file written one array at a time, and read one array at a time.

Why: the training check's halves hold a model, its gradients and the optimizer's state at once;
keeping every gradient and change in a dict until ``np.savez`` doubled what they held, which took
VGG16's (138 million parameters) torch half over an 8 GB cap. Written as they are made, each array
is on disk and out of memory before the next is computed. ``np.load`` reads the file as any
``.npz``.
"""

from __future__ import annotations

import threading
import zipfile
from collections.abc import Iterator, Mapping
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


# One lock for every read of every file: numpy parses .npy headers with ast.literal_eval, and
# CPython 3.11's ast is not safe to run from two threads at once ("SystemError: AST constructor
# recursion depth mismatch" when the comparison's threads read the two halves' files together).
READ_LOCK = threading.Lock()


class LazyArrays(Mapping[str, np.ndarray]):
    """A read-only mapping whose arrays are read from a file on each access (thread-safe)."""

    def __init__(self, names: set[str]) -> None:
        self._names = names

    def read(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._names:
            raise KeyError(name)
        with READ_LOCK:
            return self.read(name)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._names))

    def __len__(self) -> int:
        return len(self._names)


class ArrayFile(LazyArrays):
    """``.npz`` files read one array at a time, never all at once: the comparison of VGG16's
    halves held 4.5 GB when both files were read into dicts."""

    def __init__(self, *paths: Path) -> None:
        self._files = [np.load(path, allow_pickle=False) for path in paths if path.is_file()]
        self._where = {name: f for f in self._files for name in f.files}
        super().__init__(set(self._where))

    def read(self, name: str) -> np.ndarray:
        return self._where[name][name]

    def close(self) -> None:
        for f in self._files:
            f.close()


class WeightsFile(LazyArrays):
    """``model.safetensors`` read one tensor at a time, as numpy arrays."""

    def __init__(self, path: Path) -> None:
        from safetensors import safe_open

        self._file = safe_open(str(path), framework="np")
        super().__init__(set(self._file.keys()))

    def read(self, name: str) -> np.ndarray:
        return self._file.get_tensor(name)
