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
    depth_to_space,
    det,
    dropout,
    erfc,
    euclidean_norm,
    expand,
    flatten,
    gather,
    grid,
    gru,
    hardmax,
    if_,
    loop,
    losses,
    lstm,
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
    reverse_sequence,
    rnn,
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
    # what the zoo, recurrent and custom-layer models need beyond onnx2torch (TF handlers included)
    depth_to_space.OP,
    erfc.OP,
    euclidean_norm.OP,
    gru.OP,
    if_.OP,
    loop.OP,
    lstm.OP,
    reverse_sequence.OP,
    rnn.OP,
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


def onnx_functions(opset: int) -> list[Any]:
    """ONNX FunctionProtos (at the model's ``opset``) that let ONNX Runtime execute the custom-domain ops."""
    return [op.onnx_function(opset) for op in ALL_OPS if op.onnx_function is not None]


def attach_functions(model: Any) -> list[str]:
    """Add to ``model`` the function of every custom-domain op its graph uses; returns their names."""
    from pipeline.onnx_utils import iter_nodes, opset_of

    used = {(node.domain, node.op_type) for node in iter_nodes(model.graph) if node.domain == DOMAIN}
    present = {(f.domain, f.name) for f in model.functions}
    added = []
    for function in onnx_functions(opset_of(model)):
        key = (function.domain, function.name)
        if key in used and key not in present:
            model.functions.append(function)
            added.append(function.name)
    return added
