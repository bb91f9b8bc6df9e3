"""Fixup: give the graph inputs the shapes validation uses, with only the batch left symbolic."""

from __future__ import annotations

import onnx

from pipeline.fixups.base import FixupContext, FixupResult, rewrite_copy

BATCH = "batch"


def pin_input_dims(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Fix every unknown non-batch input dimension to the size in the input spec; name the batch dim.

    tf2onnx keeps Keras' free dimensions (``None`` image sides, sequence lengths) symbolic, which
    leaves shape arithmetic in the graph that torch.export cannot trace; the exported program
    only needs a dynamic batch.
    """
    return rewrite_copy(model, lambda working: _pin(working, context))


def _pin(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    specs = {s.name: s for s in context.inputs}
    changes = []
    for value in model.graph.input:
        spec = specs.get(value.name)
        if spec is None or not value.type.tensor_type.HasField("shape"):
            continue
        dims = value.type.tensor_type.shape.dim
        if len(dims) != len(spec.shape):
            continue
        for axis, (dim, want) in enumerate(zip(dims, spec.shape, strict=True)):
            if axis == spec.batch_axis:
                if not dim.HasField("dim_value") and dim.dim_param != BATCH:
                    old = dim.dim_param or "?"
                    dim.dim_param = BATCH
                    changes.append(f"{value.name}[{axis}]: {old} -> {BATCH}")
                continue
            if want is not None and not dim.HasField("dim_value"):
                old = dim.dim_param or "?"
                dim.dim_value = int(want)
                changes.append(f"{value.name}[{axis}]: {old} -> {want}")
    return changes
