"""What kind of model a source string names, decided without importing TensorFlow.

Kinds: a Keras 3 ``.keras`` archive, a legacy ``.h5`` file, a SavedModel directory, a
``module:callable`` that builds a model, an ``.onnx`` file, or a built-in example
(``example:<name>``). The checks here are cheap (file magic, folder contents) so a wrong path fails
in milliseconds with a clear message instead of deep inside a loader.
"""

from __future__ import annotations

import enum
import importlib.util
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import NotAModelError, SourceNotFoundError

_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class SourceKind(enum.StrEnum):
    KERAS = "keras"  # Keras 3 .keras archive
    H5 = "h5"  # legacy HDF5 written by tf.keras 2 (or Keras 3's legacy writer)
    SAVED_MODEL = "saved_model"  # SavedModel directory: serving signature
    CALLABLE = "callable"  # module:callable building a model, kwargs from config
    EXAMPLE = "example"  # a built-in example model, example:<name>
    ONNX = "onnx"  # an ONNX file: TensorFlow side skipped
    OBJECT = "object"  # a model object handed to the Python API
    UNKNOWN = "unknown"  # could not be classified (the conversion carries the error)


@dataclass(frozen=True)
class Source:
    """A classified model source."""

    kind: SourceKind
    spec: str  # path (absolute) or module:callable

    @property
    def has_tensorflow_side(self) -> bool:
        return self.kind not in (SourceKind.ONNX, SourceKind.UNKNOWN)


def classify(source: str, base_dir: str | None = None) -> Source:
    """Classify ``source``; raise :class:`SourceNotFoundError`/:class:`NotAModelError` when it is unusable."""
    if source.startswith("example:"):
        from pipeline.examples import EXAMPLES

        name = source.split(":", 1)[1]
        if name not in EXAMPLES:
            raise SourceNotFoundError(
                f"unknown built-in example {name!r} (available: {', '.join(sorted(EXAMPLES))})", stage="load"
            )
        return Source(SourceKind.EXAMPLE, source)

    path = Path(source).expanduser()
    if not path.is_absolute() and base_dir and not path.exists():
        path = Path(base_dir) / path
    if path.exists():
        return _classify_path(path.resolve())

    if _CALLABLE.match(source):
        module = source.split(":", 1)[0]
        try:
            # only the top-level package: finding a submodule would import its parents (TensorFlow)
            found = importlib.util.find_spec(module.split(".")[0]) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise SourceNotFoundError(
                f"{source!r} is neither an existing file nor an importable module:callable "
                f"(no module named {module!r})",
                stage="load",
            )
        return Source(SourceKind.CALLABLE, source)

    raise SourceNotFoundError(f"model source not found: {source}", stage="load")


def _classify_path(path: Path) -> Source:
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return Source(SourceKind.SAVED_MODEL, str(path))
        raise NotAModelError(f"{path} is a directory but not a SavedModel (no saved_model.pb inside)", stage="load")
    suffix = path.suffix.lower()
    head = path.read_bytes()[:8] if path.stat().st_size else b""
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise NotAModelError(f"{path} is not a Keras 3 archive (.keras files are zip archives)", stage="load")
        return Source(SourceKind.KERAS, str(path))
    if suffix in (".h5", ".hdf5"):
        if head != _HDF5_MAGIC:
            raise NotAModelError(f"{path} is not an HDF5 file (bad signature)", stage="load")
        return Source(SourceKind.H5, str(path))
    if suffix == ".onnx":
        if not head:
            raise NotAModelError(f"{path} is empty", stage="load")
        return Source(SourceKind.ONNX, str(path))
    if head == _HDF5_MAGIC:
        return Source(SourceKind.H5, str(path))
    if zipfile.is_zipfile(path):
        return Source(SourceKind.KERAS, str(path))
    raise NotAModelError(
        f"{path}: unrecognised model file (expected .keras, .h5, .onnx or a SavedModel directory)",
        stage="load",
    )
