"""ONNX external data: read one initializer at a time, write tensors into one page-aligned data file.

Large models stay within a small multiple of their weight bytes when the weights never enter a
protobuf message. The pipeline reads models with ``load_external_data=False`` and takes weights
from the data file by name (:func:`read`); :class:`DataWriter` appends tensors to a data file
(page-aligned, so ONNX Runtime can map it). Only files inside the model's folder are read: model
files are data (:func:`data_file`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.errors import NotAModelError
from pipeline.paths import inside

Loader = Callable[[], np.ndarray]

ALIGN = 4096  # page size: ONNX Runtime maps external tensors whose offset is page-aligned
MIN_EXTERNAL_BYTES = 1024  # smaller tensors stay inline (onnx.save_model's default size threshold)
PROTO_LIMIT = 2**31 - 1  # protobuf refuses to serialise messages of 2 GB or more


# --------------------------------------------------------------------------- reading


def is_external(tensor: onnx.TensorProto) -> bool:
    return tensor.data_location == onnx.TensorProto.EXTERNAL


def numel(tensor: onnx.TensorProto) -> int:
    return math.prod(tensor.dims) if tensor.dims else 1


def nbytes(tensor: onnx.TensorProto) -> int:
    """Bytes of a tensor's data, without reading it."""
    if tensor.data_type == onnx.TensorProto.STRING:
        return sum(len(s) for s in tensor.string_data)
    return numel(tensor) * helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize


def external_info(tensor: onnx.TensorProto) -> dict[str, str]:
    """The ``external_data`` entries of ``tensor`` (location, offset, length) as a dict."""
    return {entry.key: entry.value for entry in tensor.external_data}


def data_file(tensor: onnx.TensorProto, base_dir: Path) -> Path:
    """The file holding an external tensor; it must lie inside ``base_dir`` (model files are data)."""
    location = external_info(tensor).get("location", "")
    return inside(base_dir, location, f"initializer '{tensor.name}' (external data)")


def read(tensor: onnx.TensorProto, base_dir: Path | None, *, mapped: bool = False) -> np.ndarray:
    """The value of ``tensor``; external data is read from its file under ``base_dir``.

    ``mapped=True`` returns a read-only memory map instead of a copy (for streaming it elsewhere).
    """
    if not is_external(tensor):
        return numpy_helper.to_array(tensor)
    if base_dir is None:
        raise NotAModelError(f"initializer '{tensor.name}' uses external data but the model's folder is unknown")
    info = external_info(tensor)
    dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
    shape = tuple(int(d) for d in tensor.dims)
    expected = math.prod(shape) * dtype.itemsize
    offset = int(info.get("offset", 0) or 0)
    length = int(info.get("length", expected) or expected)
    path = data_file(tensor, base_dir)
    if length != expected or offset + length > path.stat().st_size:
        raise NotAModelError(
            f"initializer '{tensor.name}': external data in {path.name} has {length} bytes at offset {offset}, "
            f"but a {list(shape)} {dtype} tensor needs {expected}"
        )
    if expected == 0:
        return np.zeros(shape, dtype)
    if mapped:
        return np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape)
    # read straight into a new array (a copy through a memory map holds the pages twice)
    return np.fromfile(path, dtype=dtype, count=math.prod(shape), offset=offset).reshape(shape)


def loader(tensor: onnx.TensorProto, base_dir: Path | None) -> Loader:
    """A function reading ``tensor`` when called (nothing is read before)."""
    return lambda: read(tensor, base_dir)


# --------------------------------------------------------------------------- writing


class DataWriter:
    """Appends tensors to one external data file, page-aligned, and makes the protos pointing at them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.location = self.path.name
        self._file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self.offset = 0
        self.tensors = 0

    def add(self, name: str, array: np.ndarray) -> onnx.TensorProto:
        assert self._file is not None, "writer is closed"
        array = np.ascontiguousarray(array)
        if array.dtype.byteorder == ">":
            array = array.astype(array.dtype.newbyteorder("<"))
        pad = -self.offset % ALIGN
        if pad:
            self._file.write(b"\0" * pad)
            self.offset += pad
        start = self.offset
        if array.nbytes:
            self._file.write(memoryview(array.reshape(-1)).cast("B"))
        self.offset += array.nbytes
        self.tensors += 1
        tensor = onnx.TensorProto()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype)
        tensor.dims.extend(array.shape)
        tensor.data_location = onnx.TensorProto.EXTERNAL
        for key, value in (("location", self.location), ("offset", str(start)), ("length", str(array.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        return tensor

    def close(self) -> None:
        """Close the file; a file that received no tensor is removed again."""
        if self._file is not None:
            self._file.close()
            self._file = None
            if not self.tensors:
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> DataWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_tensor(name: str, array: np.ndarray, writer: DataWriter | None) -> onnx.TensorProto:
    """An initializer for ``array``: in ``writer``'s file when it is large enough, else inline."""
    if writer is not None and array.dtype != object and array.nbytes >= MIN_EXTERNAL_BYTES:
        return writer.add(name, array)
    return numpy_helper.from_array(np.asarray(array), name)


# --------------------------------------------------------------------------- whole-model helpers


def external_tensors(model: onnx.ModelProto) -> Iterable[onnx.TensorProto]:
    """Initializers of the main graph whose data lives in external files."""
    return (t for t in model.graph.initializer if is_external(t))


def data_files(model: onnx.ModelProto) -> list[str]:
    """Relative names of the external data files ``model`` refers to, in first-use order."""
    seen: dict[str, None] = {}
    for tensor in external_tensors(model):
        seen.setdefault(external_info(tensor).get("location", ""), None)
    return [name for name in seen if name]


def weight_bytes(model: onnx.ModelProto) -> int:
    """Bytes of all initializers, inline or external, without reading them."""
    return sum(nbytes(t) for t in model.graph.initializer)


def relocate(model: onnx.ModelProto, base_dir: Path, writer: DataWriter | None) -> int:
    """Copy every initializer into ``writer``'s file (or inline when ``writer`` is None), one at a time.

    For models whose external data sits elsewhere (an ``.onnx`` source) or must move into a file
    of their own. Returns the number of tensors written.
    """
    count = 0
    tensors = list(model.graph.initializer)
    del model.graph.initializer[:]
    for tensor in tensors:
        if writer is None and not is_external(tensor):
            model.graph.initializer.append(tensor)
            continue
        array = read(tensor, base_dir, mapped=True)
        model.graph.initializer.append(make_tensor(tensor.name, array, writer))
        del array
        count += 1
    return count


def externalize_large(model: onnx.ModelProto, writer: DataWriter) -> int:
    """Move inline initializers of ``MIN_EXTERNAL_BYTES`` or more into ``writer``'s file."""
    moved = 0
    for index, tensor in enumerate(list(model.graph.initializer)):
        if is_external(tensor) or tensor.data_type == onnx.TensorProto.STRING:
            continue
        if nbytes(tensor) < MIN_EXTERNAL_BYTES:
            continue
        model.graph.initializer[index].CopyFrom(writer.add(tensor.name, numpy_helper.to_array(tensor)))
        moved += 1
    return moved
