"""Custom ops: TF->ONNX handlers, ONNX->torch converters and ONNX references, one op per file.

Registration is explicit: :data:`ALL_OPS` is the literal list of ops, in no particular order
(converter keys must not collide; the registry refuses duplicates).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from custom_ops import (
    constant_of_shape,
    conv_transpose,
    depth_to_space,
    erfc,
    euclidean_norm,
    expand,
    gather,
    gru,
    if_,
    loop,
    lstm,
    pad,
    reshape,
    resize,
    reverse_sequence,
    rnn,
    slice,
    squeeze,
)
from custom_ops.base import DOMAIN, DOMAIN_VERSION, CustomOp
from pipeline.registry import Registry

ALL_OPS: tuple[CustomOp, ...] = (
    constant_of_shape.OP,
    conv_transpose.OP,
    depth_to_space.OP,
    erfc.OP,
    euclidean_norm.OP,
    expand.OP,
    gather.OP,
    gru.OP,
    if_.OP,
    loop.OP,
    lstm.OP,
    rnn.OP,
    slice.OP,
    pad.OP,
    reshape.OP,
    resize.OP,
    reverse_sequence.OP,
    squeeze.OP,
)


@cache
def torch_converters() -> Registry[tuple[str, str, int], Any]:
    """``(domain, op_type, since_version) -> converter`` for every op in :data:`ALL_OPS`."""
    registry: Registry[tuple[str, str, int], Any] = Registry("torch converter")
    for op in ALL_OPS:
        for conv in op.torch:
            for version in conv.versions:
                registry.add((conv.domain, conv.op_type, version), conv.fn)
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
