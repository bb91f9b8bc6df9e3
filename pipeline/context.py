"""The typed objects the stages hand to each other.

Stages that run in another process (TensorFlow side, torch side) receive and return these as
JSON; :func:`to_json`/:func:`from_json` do that for any of the dataclasses here.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from pipeline import progress

T = TypeVar("T")


@dataclass
class TensorSpec:
    """One model input as the pipeline feeds it: shape (None = batch), dtype and value range."""

    name: str
    shape: list[int | None]
    dtype: str
    low: float = -1.0
    high: float = 1.0
    range_reason: str = "default"
    batch_axis: int | None = 0
    known_values: list[float] | None = None  # a lookup layer's keys (pipeline/input_vocabulary.py)
    known_only: bool = False  # only those keys are valid (an IntegerLookup without OOV indices)
    pad_value: float | None = None  # what a Masking / mask_zero layer masks (pipeline/input_padding.py)

    def concrete_shape(self, batch: int) -> list[int]:
        return [batch if d is None else d for d in self.shape]


@dataclass
class StageRecord:
    """How long one stage took and how it ended."""

    name: str
    seconds: float
    status: str = "ok"  # ok | failed | skipped
    detail: str | None = None


@dataclass
class FixupRecord:
    """One fixup that changed the graph, and what it changed."""

    name: str
    changes: list[str]
    seconds: float


@dataclass
class ExportResult:
    """What the TensorFlow side hands on: the ONNX file plus what it learned about the model."""

    model_name: str
    inputs: list[TensorSpec]
    outputs: list[str]
    logits_outputs: list[str] = field(default_factory=list)  # outputs behind a softmax
    layers: list[str] = field(default_factory=list)  # Keras layer names, for error locations
    fixups: list[FixupRecord] = field(default_factory=list)  # trace fixups that changed the TF function
    weight_bytes: int = 0  # bytes of the ONNX model's initializers
    notes: list[str] = field(default_factory=list)  # how the weights were attached
    versions: dict[str, str] = field(default_factory=dict)
    stages: list[StageRecord] = field(default_factory=list)
    has_reference: bool = True  # TensorFlow outputs were computed
    compute_dtype: str | None = None  # float16/bfloat16 when layers compute in it (pipeline/precision.py)


@dataclass
class TorchResult:
    """What the torch side hands on."""

    dynamic_batch: bool
    parameters: int
    weight_bytes: int
    stages: list[StageRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)


class Workspace:
    """The files of one conversion, all inside one folder."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    onnx_raw = property(lambda self: self.root / "model.onnx")
    onnx_fixed = property(lambda self: self.root / "model_fixed.onnx")
    inputs = property(lambda self: self.root / "inputs.npz")
    outputs_tf = property(lambda self: self.root / "outputs_tf.npz")
    outputs_ort = property(lambda self: self.root / "outputs_ort.npz")
    outputs_torch = property(lambda self: self.root / "outputs_torch.npz")
    probes_torch = property(lambda self: self.root / "probes_torch.npz")
    pt2 = property(lambda self: self.root / "model.pt2")
    weights = property(lambda self: self.root / "model.safetensors")
    report_json = property(lambda self: self.root / "report.json")
    report_md = property(lambda self: self.root / "report.md")
    logs = property(lambda self: self.root / "logs")
    scratch = property(lambda self: self.root / ".work")


@contextmanager
def timed(records: list[StageRecord], name: str) -> Iterator[StageRecord]:
    """Append a :class:`StageRecord` for the enclosed block; marks it failed on exception."""
    record = StageRecord(name=name, seconds=0.0)
    progress.note(name)
    start = time.perf_counter()
    try:
        yield record
    except BaseException:
        record.status = "failed"
        raise
    finally:
        record.seconds = round(time.perf_counter() - start, 3)
        records.append(record)


def to_json(obj: Any) -> Any:
    """Dataclasses (nested) to plain JSON values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, list | tuple):
        return [to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items()}
    if isinstance(obj, Path):
        return str(obj)
    return obj


def from_json(cls: type[T], data: Any) -> T:
    """Rebuild dataclass ``cls`` from :func:`to_json` output (lists of dataclasses included)."""
    hints = get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        hint = hints[f.name]
        item = _list_item_type(hint)
        if item is not None and dataclasses.is_dataclass(item):
            value = [from_json(item, v) for v in value]
        elif dataclasses.is_dataclass(hint):
            value = from_json(hint, value)
        kwargs[f.name] = value
    return cls(**kwargs)


def _list_item_type(hint: Any) -> Any:
    args = getattr(hint, "__args__", None)
    if getattr(hint, "__origin__", None) is list and args:
        return args[0]
    return None


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename) so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_json(data), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
