"""Custom ops: TF->ONNX handlers, ONNX->torch converters and ONNX references, one op per file.

Registration is explicit: :data:`custom_ops.catalog.ALL_OPS` is the literal list of ops, in no
particular order (converter keys must not collide; the registry refuses duplicates), and
:data:`custom_ops.tf_ops.TF_OPS` the ones the TensorFlow side needs. Importing this package
imports only the latter, so the TensorFlow worker never loads torch.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from custom_ops.base import DOMAIN, DOMAIN_VERSION, CustomOp
from custom_ops.tf_ops import TF_OPS
from pipeline.registry import Registry


def all_ops() -> tuple[CustomOp, ...]:
    """Every custom op (:data:`custom_ops.catalog.ALL_OPS`); importing them imports torch."""
    from custom_ops.catalog import ALL_OPS

    return ALL_OPS


@cache
def torch_converters() -> Registry[tuple[str, str, int], Any]:
    """``(domain, op_type, since_version) -> converter`` for every op in :func:`all_ops`."""
    registry: Registry[tuple[str, str, int], Any] = Registry("torch converter")
    for op in all_ops():
        for converter in op.torch:
            for version in converter.versions:
                registry.add((converter.domain, converter.op_type, version), converter.fn)
    return registry


def claimed_versions() -> dict[tuple[str, str], tuple[int, ...]]:
    """``(domain, op_type) -> since_versions`` our converters claim, read from :func:`torch_converters`.

    The same as :data:`pipeline.custom_versions.CUSTOM` (a test checks it), which the processes
    that must not import torch read instead.
    """
    table: dict[tuple[str, str], list[int]] = {}
    for domain, op_type, version in torch_converters():
        table.setdefault((domain, op_type), []).append(version)
    return {k: tuple(sorted(v)) for k, v in sorted(table.items())}


def tf2onnx_handlers() -> tuple[Registry[str, tuple[Any, dict[str, Any]]], list[Any]]:
    """tf2onnx ``custom_op_handlers`` (TF op -> (handler, kwargs)) and ``extra_opset`` for :data:`TF_OPS`."""
    handlers: Registry[str, tuple[Any, dict[str, Any]]] = Registry("tf2onnx handler for TF op")
    for op in TF_OPS:
        for handler in op.tf:
            for tf_op in handler.tf_ops:
                handlers.add(tf_op, (handler.fn, {}))
    extra = []
    if any(op.onnx_function for op in TF_OPS):
        from onnx import helper

        extra.append(helper.make_opsetid(DOMAIN, DOMAIN_VERSION))
    return handlers, extra


def onnx_functions(opset: int) -> list[Any]:
    """ONNX FunctionProtos (at the model's ``opset``) that let ONNX Runtime execute the custom-domain ops."""
    return [op.onnx_function(opset) for op in TF_OPS if op.onnx_function is not None]


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
