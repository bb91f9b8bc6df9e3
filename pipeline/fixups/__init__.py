"""Fixups: each a small function ``(subject, context) -> FixupResult``, run in the explicit order below.

Every fixup documents which tool's quirk it handles; ``docs/SUPPORT.md`` is generated from
these docstrings (``make support-table``).
"""

from __future__ import annotations

from pipeline.fixups import (
    bfloat16,
    fold_into_conv,
    fold_shapes,
    fold_weight_nodes,
    fuse_conv_affine,
    graph_inputs,
    inline_xla_calls,
    ir_version,
    lower_conditionals,
    opset,
    pin_dims,
    transposes,
)
from pipeline.fixups.base import Fixup, FixupContext, FixupResult, LazyWeights, registry, run_fixups
from pipeline.registry import Registry

# Run on the traced TensorFlow function, before the export freezes it for tf2onnx (the
# information is gone after it). Captured tensors (Keras 3 Normalization statistics) need no
# fixup: the export's own freezing turns them into constants (pipeline/stages/export.py).
TRACE_FIXUPS: Registry[str, Fixup] = registry(
    "trace fixup",
    (
        # jit_compile functions (Keras 3 grouped convolutions) would stay StatefulPartitionedCall nodes
        inline_xla_calls.inline_xla_calls,
        # tf2onnx misaligns the branch shapes of a functional If (tf.cond); its Switch/Merge path does not
        lower_conditionals.lower_conditionals,
    ),
)

DEFAULT_FIXUPS: Registry[str, Fixup] = registry(
    "fixup",
    (
        # weights listed as graph inputs (IR < 4, optional inputs with defaults) are not fed: constants
        graph_inputs.weights_as_constants,
        # onnx2torch lacks converters for newer schemas (ReduceMean-18, Reshape-19...): move opsets first
        opset.plan_opset,
        # onnxruntime refuses IR > 13; before any check that runs the model
        ir_version.cap_ir_version,
        # tf2onnx casts to float16 beside bfloat16 weights; ORT's CPU has no bfloat16 MatMul
        bfloat16.emulate_bfloat16,
        # only the batch stays symbolic: the rest of shape arithmetic can then be folded
        pin_dims.pin_input_dims,
        # Shape->Gather->Concat->Reshape chains become constants, so torch.export can trace them
        fold_shapes.fold_shape_arithmetic,
        # tf2onnx's NCHW<->NHWC Transposes that its optimizer leaves around elementwise chains
        transposes.cancel_transposes,
        # tf2onnx leaves BatchNorm scales after depthwise convs and zero Pads before convs: a pass each in torch
        fold_into_conv.fold_into_conv,
    ),
)

# Run while the export attaches the weights it kept out of tf2onnx's graph (pipeline.weight_folding):
# they see the weights as lazily computed tensors (FixupContext.weights) and decline without them.
WEIGHT_FIXUPS: Registry[str, Fixup] = registry(
    "weight fixup",
    (
        # tf2onnx folds kernel Transposes/Reshapes only for constant kernels; ours are graph inputs
        fold_weight_nodes.fold_weight_nodes,
        # likewise the BatchNorm scale and offset after a convolution
        fuse_conv_affine.fuse_conv_affine,
    ),
)

__all__ = [
    "DEFAULT_FIXUPS",
    "TRACE_FIXUPS",
    "WEIGHT_FIXUPS",
    "Fixup",
    "FixupContext",
    "FixupResult",
    "LazyWeights",
    "registry",
    "run_fixups",
]
