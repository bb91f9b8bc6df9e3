"""TensorFlow Bincount / DenseBincount (Keras' multi_hot and count outputs) to standard ONNX ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from custom_ops.base import CustomOp, TfHandler

BINCOUNT_OPS = ("Bincount", "DenseBincount")


def bincount_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: a bincount of constant size becomes ``ReduceSum(x[..., None] == arange(size))``.

    Keras' IntegerLookup and Discretization with output_mode "multi_hot" or "count" (and
    ``keras.ops.bincount``-style encodings) call ``tf.math.bincount(..., axis=-1)``, a
    DenseBincount. tf2onnx lowers it through ``Unique`` and ``Compress``, whose output sizes depend
    on the data: onnx2torch has no converter for either and torch.export could not trace them.
    With the size a constant (Keras passes its vocabulary size), each value is compared with
    every bin and the hits summed over the last input axis (rank 1: the whole input, as
    TensorFlow counts it); values outside ``[0, size)`` hit no bin and are dropped as TensorFlow
    drops them; ``binary_output`` caps the counts at 1; weights multiply the hits. The output
    is ``[size]`` or ``[rows, size]``. A size computed at run time keeps tf2onnx's own lowering.
    """
    from onnx import TensorProto
    from tf2onnx.graph_builder import GraphBuilder
    from tf2onnx.onnx_opset.tensor import Bincount

    size = constant_size(node.inputs[1])
    if size is None or ctx.get_rank(node.input[0]) not in (1, 2):
        Bincount.any_version(ctx.opset, ctx, node)
        return
    binary = bool(node.get_attr_value("binary_output", False))
    dtype = ctx.get_dtype(node.output[0])
    shape = ctx.get_shape(node.output[0])
    weights = node.input[2]
    weight_shape = ctx.get_shape(weights)
    weighted = not binary and not (weight_shape is not None and 0 in weight_shape)
    x = node.input[0]
    if ctx.get_dtype(x) != TensorProto.INT64:
        x = ctx.make_node("Cast", [x], attr={"to": TensorProto.INT64}, op_name_scope=name).output[0]
    builder = GraphBuilder(ctx)
    column = builder.make_unsqueeze({"data": x, "axes": [-1]}, op_name_scope=name)
    bins = ctx.make_const(name + "_bins", np.arange(size, dtype=np.int64)).output[0]
    hit = ctx.make_node("Equal", [column, bins], op_name_scope=name).output[0]
    if weighted:
        hits = ctx.make_node("Cast", [hit], attr={"to": dtype}, op_name_scope=name).output[0]
        scale = builder.make_unsqueeze({"data": weights, "axes": [-1]}, op_name_scope=name)
        hits = ctx.make_node("Mul", [hits, scale], op_name_scope=name).output[0]
    else:
        hits = ctx.make_node("Cast", [hit], attr={"to": TensorProto.INT64}, op_name_scope=name).output[0]
    counts = builder.make_reduce_sum(
        {"data": hits, "axes": [-2], "keepdims": 0, "noop_with_empty_axes": 0}, op_name_scope=name
    )
    if binary:
        one = ctx.make_const(name + "_one", np.array(1, np.int64)).output[0]
        counts = ctx.make_node("Min", [counts, one], op_name_scope=name).output[0]
    outputs = node.output
    ctx.remove_node(node.name)
    if weighted or dtype == TensorProto.INT64:
        ctx.make_node("Identity", [counts], name=name, outputs=outputs, shapes=[shape], dtypes=[dtype])
    else:
        attr = {"to": dtype}
        ctx.make_node("Cast", [counts], attr=attr, name=name, outputs=outputs, shapes=[shape], dtypes=[dtype])


def constant_size(node: Any) -> int | None:
    """The bincount size ``node`` computes when it is a constant, else None.

    ``tf.math.bincount(x, minlength=n, maxlength=n)`` computes its size as
    ``min(max(max(x) + 1, n), n)``: that is ``n`` whatever ``x`` holds.
    """
    if node.is_const():
        return int(np.asarray(node.get_tensor_value(as_list=False)).reshape(-1)[0])
    if node.type not in ("Min", "Minimum") or len(node.inputs) != 2:
        return None
    bounds = [constant_size(i) if i.is_const() else None for i in node.inputs]
    if None not in bounds:
        return min(b for b in bounds if b is not None)
    cap = next((b for b in bounds if b is not None), None)
    other = next((i for i, b in zip(node.inputs, bounds, strict=True) if b is None), None)
    if cap is None or other is None or other.type not in ("Max", "Maximum"):
        return None
    floors = [constant_size(i) for i in other.inputs if i.is_const()]
    return cap if floors and max(floors) >= cap else None


OP = CustomOp.define(bincount_handler, name="Bincount", tf=(TfHandler(BINCOUNT_OPS, bincount_handler),))
