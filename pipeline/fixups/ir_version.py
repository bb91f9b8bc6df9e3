"""Fixup: lower the IR version to what ONNX Runtime loads."""

from __future__ import annotations

import onnx

from pipeline.fixups.base import FixupContext, FixupResult
from pipeline.onnx_utils import MAX_ORT_IR_VERSION


def cap_ir_version(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Lower the model's IR version to the highest one onnxruntime accepts.

    onnx 1.23's helpers stamp IR version 14, but onnxruntime 1.31 refuses anything above 13; the
    graphs themselves use nothing that IR 14 added.
    """
    if model.ir_version <= MAX_ORT_IR_VERSION:
        return FixupResult(model, [])
    capped = onnx.ModelProto()
    capped.CopyFrom(model)
    capped.ir_version = MAX_ORT_IR_VERSION
    return FixupResult(capped, [f"IR version {model.ir_version} -> {MAX_ORT_IR_VERSION}"])
