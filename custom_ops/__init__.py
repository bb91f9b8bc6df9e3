"""Custom ops: TF->ONNX handlers, ONNX->torch converters and ONNX references, one op per file.

Registration is explicit: :data:`ALL_OPS` is the literal list of ops, in no particular order
(converter keys must not collide; the registry refuses duplicates).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from custom_ops import (
    activations,
    attention,
    batch_norm,
    binary,
    bitcast,
    cast,
    center_crop_pad,
    clip,
    col2im,
    constant,
    conv,
    cumulative,
    det,
    dropout,
    expand,
    flatten,
    gather,
    grid,
    hardmax,
    losses,
    ml,
    newer_versions,
    nms,
    nonzero,
    normalization,
    pad,
    pooling,
    quantize,
    reduce,
    reshape,
    resize,
    rotary_embedding,
    scatter,
    shape,
    slice,
    split,
    squeeze,
    tfidf,
    topk,
    tree_ensemble,
    trilu,
    unary,
    windows,
)
from custom_ops.base import DOMAIN, DOMAIN_VERSION, CustomOp
from pipeline.registry import Registry

ALL_OPS: tuple[CustomOp, ...] = (
    pad.OP,
    reshape.OP,
    squeeze.OP,
    # ONNX -> torch converters for the ops and versions onnx2torch lacks or gets wrong
    activations.OP,
    attention.OP,
    batch_norm.OP,
    binary.OP,
    bitcast.OP,
    cast.OP,
    center_crop_pad.OP,
    clip.OP,
    col2im.OP,
    constant.OP,
    conv.OP,
    cumulative.OP,
    det.OP,
    dropout.OP,
    expand.OP,
    flatten.OP,
    gather.OP,
    grid.OP,
    hardmax.OP,
    losses.OP,
    ml.OP,
    newer_versions.OP,
    nms.OP,
    nonzero.OP,
    normalization.OP,
    pooling.OP,
    quantize.OP,
    reduce.OP,
    resize.OP,
    rotary_embedding.OP,
    scatter.OP,
    shape.OP,
    slice.OP,
    split.OP,
    tfidf.OP,
    topk.OP,
    tree_ensemble.OP,
    trilu.OP,
    unary.OP,
    windows.OP,
)


@cache
def torch_converters() -> Registry[tuple[str, str, int], Any]:
    """``(domain, op_type, since_version) -> converter`` for every op in :data:`ALL_OPS`."""
    registry: Registry[tuple[str, str, int], Any] = Registry("torch converter")
    for op in ALL_OPS:
        for converter in op.torch:
            for version in converter.versions:
                registry.add((converter.domain, converter.op_type, version), converter.fn)
    return registry


def tf2onnx_handlers() -> tuple[dict[str, tuple[Any, dict[str, Any]]], list[Any]]:
    """tf2onnx ``custom_op_handlers`` and ``extra_opset`` for every TF handler in :data:`ALL_OPS`."""
    handlers: dict[str, tuple[Any, dict[str, Any]]] = {}
    for op in ALL_OPS:
        for handler in op.tf:
            for tf_op in handler.tf_ops:
                if tf_op in handlers:
                    raise ValueError(f"TF op {tf_op!r} has two handlers")
                handlers[tf_op] = (handler.fn, {})
    extra = []
    if any(op.onnx_function for op in ALL_OPS):
        from onnx import helper

        extra.append(helper.make_opsetid(DOMAIN, DOMAIN_VERSION))
    return handlers, extra


def onnx_functions() -> list[Any]:
    """ONNX FunctionProtos that let ONNX Runtime execute the custom-domain ops."""
    return [op.onnx_function() for op in ALL_OPS if op.onnx_function is not None]
