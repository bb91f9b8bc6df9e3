"""TensorFlow OneHot with integer values (IntegerLookup's one_hot output) to ONNX OneHot over float values."""

from __future__ import annotations

from typing import Any

from custom_ops.base import CustomOp, TfHandler


def one_hot_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: ``OneHot`` with integer on/off values computes in float32 and casts back.

    tf2onnx writes ONNX OneHot only for float values (what ONNX Runtime implements); for others
    it falls back to a Gather over an identity matrix that handles rank-1 indices only, so
    IntegerLookup(output_mode="one_hot"), whose values are int64, failed on a batch of id
    sequences. The on/off values are cast to float32 (exact for the 0/1 of one-hot outputs and
    any integer below 2**24), tf2onnx's own OneHot conversion runs, and its output is cast back.
    Float OneHots convert exactly as tf2onnx converts them.
    """
    from onnx import TensorProto
    from tf2onnx.onnx_opset.tensor import OneHot

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


OP = CustomOp.define(one_hot_handler, name="OneHot (TensorFlow)", tf=(TfHandler(("OneHot",), one_hot_handler),))
