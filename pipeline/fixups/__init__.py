"""Graph fixups: each a small function on ``onnx.ModelProto``, run in the explicit order below.

Every fixup documents which tool's quirk it handles; ``docs/SUPPORT.md`` is generated from
these docstrings (``make support-table``).
"""

from __future__ import annotations

from pipeline.fixups import (
    fold_into_conv,
    fold_shapes,
    inline_xla_calls,
    ir_version,
    lower_conditionals,
    opset,
    pin_dims,
    transposes,
)
from pipeline.fixups.base import Fixup, FixupContext, run_fixups
from pipeline.fixups.trace import TraceFixup
from pipeline.registry import Registry

# Run on the traced TensorFlow function, before the export freezes it for tf2onnx (the
# information is gone after it). Captured tensors (Keras 3 Normalization statistics) need no
# fixup: the export's own freezing turns them into constants (pipeline/stages/export.py).
TRACE_FIXUPS: tuple[TraceFixup, ...] = (
    # jit_compile functions (Keras 3 grouped convolutions) would stay StatefulPartitionedCall nodes
    TraceFixup.of(inline_xla_calls.inline_xla_calls),
    # tf2onnx misaligns the branch shapes of a functional If (tf.cond); its Switch/Merge path does not
    TraceFixup.of(lower_conditionals.lower_conditionals),
)

DEFAULT_FIXUPS: tuple[Fixup, ...] = (
    # onnx2torch lacks converters for newer schemas (ReduceMean-18, Reshape-19...): move opsets first
    Fixup.of(opset.plan_opset),
    # onnxruntime refuses IR > 13; before any check that runs the model
    Fixup.of(ir_version.cap_ir_version),
    # only the batch stays symbolic: the rest of shape arithmetic can then be folded
    Fixup.of(pin_dims.pin_input_dims),
    # Shape->Gather->Concat->Reshape chains become constants, so torch.export can trace them
    Fixup.of(fold_shapes.fold_shape_arithmetic),
    # tf2onnx's NCHW<->NHWC Transposes that its optimizer leaves around elementwise chains
    Fixup.of(transposes.cancel_transposes),
    # tf2onnx leaves BatchNorm scales after depthwise convs and zero Pads before convs: a pass each in torch
    Fixup.of(fold_into_conv.fold_into_conv),
)

FIXUPS: Registry[str, Fixup] = Registry("fixup", ((f.name, f) for f in DEFAULT_FIXUPS))
TRACE: Registry[str, TraceFixup] = Registry("trace fixup", ((f.name, f) for f in TRACE_FIXUPS))

__all__ = ["DEFAULT_FIXUPS", "FIXUPS", "TRACE", "TRACE_FIXUPS", "Fixup", "FixupContext", "TraceFixup", "run_fixups"]
