"""What a localisation walk produces: the trail of compared tensors and its first divergence.

Shared by the two walks (:mod:`pipeline.stages.walk_torch`, :mod:`pipeline.stages.walk_tf`) and
their worker tasks (:mod:`pipeline.stages.localize`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx

BUDGET_BYTES = 256 * 1024 * 1024  # per chunk of intermediates, per side


TRAIL_NODES_IN_LAYER = 30


@dataclass
class TrailEntry:
    """One compared tensor along the graph."""

    index: int  # position along the graph (topological order of the walk)
    node: str | None  # the ONNX node whose output was compared
    op: str | None
    layer: str | None  # the Keras layer it came from
    tensor: str | None
    passed: bool
    error: float  # max |a - b| in units of the reference's spread (the atol that would have been needed)
    max_abs_error: float
    shape: list[int] = field(default_factory=list)
    inputs_agree: bool | None = None  # every compared input within tolerance: this node introduced the error
    detail: str | None = None  # layout used, fused layers, torch module type


@dataclass
class Localization:
    """The result of one walk."""

    pair: str
    stage: str  # the stage under test: "export" (TF -> ONNX) or "import" (ONNX -> torch)
    status: str  # diverged | no divergence | unavailable
    method: str
    input_set: str | None = None
    device: str | None = None
    first_divergence: dict[str, Any] | None = None
    trail: list[TrailEntry] = field(default_factory=list)
    compared: int = 0
    not_compared: int = 0
    reason: str | None = None
    seconds: float = 0.0


# pair -> (the stage under test, what the walk compares)
WALKS = {
    "ort_vs_torch": ("import", "every ONNX node's output: ONNX Runtime intermediates vs the torch program's"),
    "tf_vs_ort": (
        "export",
        "every Keras layer's output: TensorFlow layer outputs vs the ONNX tensor leaving the layer's scope",
    ),
}


def walk_result(pair: str, status: str, **fields: Any) -> Localization:
    """A :class:`Localization` of the walk for ``pair`` (its stage and method filled in)."""
    stage, method = WALKS[pair]
    return Localization(pair=pair, stage=stage, status=status, method=method, **fields)


def finite(value: float) -> float:
    """``value``, or a large finite stand-in for inf/nan (JSON has neither)."""
    return float(value) if np.isfinite(value) else 1e30


def trail_entry(index: int, comp: Any, **fields: Any) -> TrailEntry:
    """A :class:`TrailEntry` at ``index`` from a comparison result."""
    return TrailEntry(
        index=index,
        passed=bool(comp.passed),
        error=finite(comp.needed_atol),
        max_abs_error=finite(comp.max_abs_error),
        **fields,
    )


def first_divergence(trail: list[TrailEntry]) -> TrailEntry | None:
    """The first entry over tolerance whose inputs agree; else the first over tolerance."""
    failing = [e for e in trail if not e.passed]
    if not failing:
        return None
    for entry in failing:
        if entry.inputs_agree is not False:
            return entry
    return failing[0]


def tensor_bytes(model: onnx.ModelProto, batch: int) -> dict[str, int]:
    """Estimated size of every value in ``model`` at ``batch`` (unknown dims count as ``batch``)."""
    from pipeline.onnx_utils import infer_shapes

    sizes: dict[str, int] = {}
    inferred = infer_shapes(model)
    for value in [*inferred.graph.value_info, *inferred.graph.output]:
        tensor_type = value.type.tensor_type
        if not tensor_type.HasField("shape"):
            continue
        numel = 1
        for dim in tensor_type.shape.dim:
            numel *= dim.dim_value if dim.HasField("dim_value") else batch
        try:
            itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).itemsize
        except Exception:
            itemsize = 4
        sizes[value.name] = numel * itemsize
    return sizes


def batch_of(feeds: dict[str, np.ndarray]) -> int:
    """The batch size of the feeds (the first axis of the first one)."""
    return max((int(a.shape[0]) for a in feeds.values() if a.ndim), default=1)


def real_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    """The graph inputs that are fed (not initializers)."""
    initializers = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in initializers]


def unavailable(result: Localization, start: float, reason: str) -> Localization:
    """``result``, marked as a walk that could not compare anything, and why."""
    result.status = "unavailable"
    result.reason = reason
    result.seconds = round(time.perf_counter() - start, 3)
    return result


def finish(result: Localization, start: float) -> None:
    """Fill in ``result``'s verdict (first divergence, counts) and its seconds."""
    result.trail.sort(key=lambda e: e.index)
    for number, entry in enumerate(result.trail):
        entry.index = number
    result.compared = len(result.trail)
    found = first_divergence(result.trail)
    if found is not None:
        result.status = "diverged"
        result.first_divergence = _as_dict(found)
    result.seconds = round(time.perf_counter() - start, 3)


def _as_dict(entry: TrailEntry) -> dict[str, Any]:
    from pipeline.context import to_json

    return to_json(entry)
