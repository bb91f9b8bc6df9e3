"""Fixup: compute bfloat16 layers in float32, rounding every bfloat16 tensor as TensorFlow does."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.fixups.base import FixupContext, FixupResult, rewrite_copy
from pipeline.onnx_utils import infer_shapes, unique_name

BF16 = onnx.TensorProto.BFLOAT16
F16 = onnx.TensorProto.FLOAT16
F32 = onnx.TensorProto.FLOAT


def _cast_to(node: onnx.NodeProto) -> int | None:
    for attribute in node.attribute:
        if attribute.name == "to":
            return int(attribute.i)
    return None


def _set_cast_to(node: onnx.NodeProto, to: int) -> None:
    for attribute in node.attribute:
        if attribute.name == "to":
            attribute.i = to


def emulate_bfloat16(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Turn bfloat16 weights and ops into float32 ones followed by a bfloat16 round trip.

    tf2onnx exports a cast to ``tf.bfloat16`` as ``Cast(to=FLOAT16)`` beside bfloat16 weights,
    which ONNX Runtime refuses to load ("MatMul bound to float16 and bfloat16"); and ONNX
    Runtime's CPU kernels lack bfloat16 MatMul/Conv anyway. Computing each bfloat16 op in
    float32 and rounding its output to bfloat16 (``Cast`` there and back) reproduces
    TensorFlow's CPU arithmetic, which also accumulates in float32.
    """
    graph = model.graph
    if not any(i.data_type == BF16 for i in graph.initializer) and not any(
        n.op_type == "Cast" and _cast_to(n) == BF16 for n in graph.node
    ):
        return FixupResult(model, [])
    return rewrite_copy(model, lambda working: _emulate(working, context))


def _emulate(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    graph = model.graph
    bf16_weights = [i for i in graph.initializer if i.data_type == BF16]
    casts = [n for n in graph.node if n.op_type == "Cast" and _cast_to(n) in (BF16, F16)]
    has_f16 = any(i.data_type == F16 for i in graph.initializer) or any(
        v.type.tensor_type.elem_type == F16 for v in graph.input
    )
    if not bf16_weights and not any(_cast_to(n) == BF16 for n in casts):
        return []
    changes: list[str] = []
    if not has_f16:  # tf2onnx's float16 stands for bfloat16 here: the model has no float16 at all
        fixed = [n for n in casts if _cast_to(n) == F16]
        for node in fixed:
            _set_cast_to(node, BF16)
        if fixed:
            changes.append(f"{len(fixed)} Cast(to=float16) beside bfloat16 weights -> bfloat16")
    types = _output_types(model)
    for init in bf16_weights:
        value = context.array(init).astype(np.float32)
        init.CopyFrom(numpy_helper.from_array(value, init.name))
    if bf16_weights:
        changes.append(f"{len(bf16_weights)} bfloat16 weight(s) widened to float32 (exactly)")
    taken = {o for n in graph.node for o in n.output} | {i.name for i in graph.initializer}
    taken |= {i.name for i in graph.input}
    rounded = 0
    nodes = []
    for node in graph.node:
        bf16_outputs = [i for i, out in enumerate(node.output) if out and types.get(out) == BF16]
        if node.op_type == "Cast" and _cast_to(node) == BF16:
            bf16_outputs = [0]
        nodes.append(node)
        for index in bf16_outputs:
            out = node.output[index]
            wide = unique_name(f"{out}__wide", taken)
            narrow = unique_name(f"{out}__bfloat16", taken)
            taken.update((wide, narrow))
            node.output[index] = wide
            if node.op_type == "Cast":
                _set_cast_to(node, F32)
            nodes.append(helper.make_node("Cast", [wide], [narrow], to=BF16, name=narrow))
            nodes.append(helper.make_node("Cast", [narrow], [out], to=F32, name=f"{narrow}__back"))
            rounded += 1
    if rounded:
        del graph.node[:]
        graph.node.extend(nodes)
        changes.append(f"{rounded} bfloat16 tensor(s) computed in float32 and rounded to bfloat16")
    for value in list(graph.output) + list(graph.value_info):
        if value.type.tensor_type.elem_type == BF16:
            value.type.tensor_type.elem_type = F32
    return changes


def _output_types(model: onnx.ModelProto) -> dict[str, int]:
    """Element type of every tensor shape inference can type (after the Cast fix)."""
    inferred = infer_shapes(model)
    graph = inferred.graph
    types = {i.name: i.data_type for i in model.graph.initializer}
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        if value.type.tensor_type.elem_type:
            types[value.name] = value.type.tensor_type.elem_type
    return types
