"""TensorFlow Bucketize (Keras ``Discretization``, ``keras.ops.digitize``) to standard ONNX ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from custom_ops.base import CustomOp, TfHandler


def bucketize_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: ``Bucketize(x, boundaries)`` becomes ``len(boundaries) - ReduceSum(x < boundaries)``.

    tf2onnx has no conversion for TensorFlow's Bucketize (behind Keras' Discretization layer and
    ``keras.ops.digitize``), and ONNX has no bucketize op. The bucket is the number of boundaries
    at or below ``x``, counted as ``len - count(x < boundary)`` so that NaN lands in the last
    bucket as in TensorFlow (whose upper-bound search finds no boundary above it). TensorFlow
    compares integer inputs with the float boundaries as floats, so they are cast first. Standard
    ops only (Unsqueeze, Less, Cast, ReduceSum, Sub): ONNX Runtime and the torch importer need
    nothing new.
    """
    import onnx
    from onnx import TensorProto, numpy_helper
    from tf2onnx.graph_builder import GraphBuilder

    boundaries = [float(b) for b in node.get_attr_value("boundaries", [])]
    x = node.input[0]
    in_dtype = ctx.get_dtype(x)
    out_dtype = ctx.get_dtype(node.output[0])
    shape = ctx.get_shape(node.output[0])
    if not boundaries:  # one bucket: zeros of x's shape
        size = ctx.make_node("Shape", [x], op_name_scope=name).output[0]
        zero = numpy_helper.from_array(np.zeros(1, onnx.helper.tensor_dtype_to_np_dtype(out_dtype)), "value")
        outputs = node.output
        ctx.remove_node(node.name)
        ctx.make_node(
            "ConstantOfShape",
            [size],
            attr={"value": zero},
            name=name,
            outputs=outputs,
            shapes=[shape],
            dtypes=[out_dtype],
        )
        return
    if in_dtype == TensorProto.DOUBLE:
        values = np.asarray(boundaries, np.float64)
    else:
        values = np.asarray(boundaries, np.float32)
        if in_dtype != TensorProto.FLOAT:  # int32/int64: compared as float, as TensorFlow does
            x = ctx.make_node("Cast", [x], attr={"to": TensorProto.FLOAT}, op_name_scope=name).output[0]
    table = ctx.make_const(name + "_boundaries", values)
    builder = GraphBuilder(ctx)
    column = builder.make_unsqueeze({"data": x, "axes": [-1]}, op_name_scope=name)
    below = ctx.make_node("Less", [column, table.output[0]], op_name_scope=name)
    counted = ctx.make_node("Cast", [below.output[0]], attr={"to": TensorProto.INT64}, op_name_scope=name)
    above = builder.make_reduce_sum(
        {"data": counted.output[0], "axes": [-1], "keepdims": 0, "noop_with_empty_axes": 0}, op_name_scope=name
    )
    size = ctx.make_const(name + "_size", np.array(len(boundaries), np.int64))
    bucket = ctx.make_node("Sub", [size.output[0], above], op_name_scope=name)
    outputs = node.output
    ctx.remove_node(node.name)
    ctx.make_node(
        "Cast",
        [bucket.output[0]],
        attr={"to": out_dtype},
        name=name,
        outputs=outputs,
        shapes=[shape],
        dtypes=[out_dtype],
    )


OP = CustomOp.define(bucketize_handler, name="Bucketize", tf=(TfHandler(("Bucketize",), bucketize_handler),))
