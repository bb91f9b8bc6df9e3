"""TensorFlow OneHot (``tf.one_hot``, Keras' one_hot outputs) to ONNX OneHot, with TensorFlow's rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from custom_ops.base import CustomOp, TfHandler


def one_hot_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: ``OneHot`` with integer on/off values computes in float32 and casts back.

    tf2onnx writes ONNX OneHot only for float values (what ONNX Runtime implements); for others
    it falls back to a Gather over an identity matrix that handles rank-1 indices only, so
    IntegerLookup(output_mode="one_hot"), whose values are int64, failed on a batch of id
    sequences. The on/off values are cast to float32 (exact for the 0/1 of one-hot outputs and
    any integer below 2**24), tf2onnx's own OneHot conversion runs, and its output is cast back.
    Float OneHots otherwise convert as tf2onnx converts them.

    A negative index gives a row of off values in TensorFlow, while ONNX OneHot counts it from
    the end (-1 hit the last position): negative indices are moved past the depth first.
    """
    from onnx import TensorProto
    from tf2onnx.onnx_opset.tensor import OneHot

    _off_for_negatives(ctx, node, name)
    dtype = ctx.get_dtype(node.output[0])
    if dtype in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16):
        OneHot.any_version_after9(ctx.opset, ctx, node)
        return
    for index in (2, 3):
        value = node.inputs[index]
        if not value.is_const() or abs(int(value.get_tensor_value())) >= 1 << 24:
            raise ValueError("OneHot with integer on/off values that are not small constants")
        cast = ctx.make_node("Cast", [node.input[index]], attr={"to": TensorProto.FLOAT}, op_name_scope=name)
        ctx.replace_input(node, node.input[index], cast.output[0], index)
    shape = ctx.get_shape(node.output[0])
    ctx.set_dtype(node.output[0], TensorProto.FLOAT)
    back = ctx.insert_new_node_on_output("Cast", node.output[0], name=name + "_cast_back", to=dtype)
    ctx.set_dtype(back.output[0], dtype)
    ctx.set_shape(back.output[0], shape)
    OneHot.any_version_after9(ctx.opset, ctx, node)


def _off_for_negatives(ctx: Any, node: Any, name: str) -> None:
    """``indices`` becomes ``Where(indices < 0, depth, indices)``: outside ONNX's ``[-depth, depth)``."""
    from onnx import TensorProto
    from onnx.helper import tensor_dtype_to_np_dtype

    indices = node.input[0]
    kind = ctx.get_dtype(indices)
    if kind in (TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64):
        return
    zero = ctx.make_const(name + "_zero", np.array(0, tensor_dtype_to_np_dtype(kind))).output[0]
    depth = ctx.make_node("Cast", [node.input[1]], attr={"to": kind}, op_name_scope=name).output[0]
    negative = ctx.make_node("Less", [indices, zero], op_name_scope=name).output[0]
    moved = ctx.make_node("Where", [negative, depth, indices], op_name_scope=name).output[0]
    ctx.replace_input(node, indices, moved, 0)


OP = CustomOp.define(one_hot_handler, name="OneHot (TensorFlow)", tf=(TfHandler(("OneHot",), one_hot_handler),))
