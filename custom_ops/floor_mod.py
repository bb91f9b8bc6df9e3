"""TensorFlow FloorMod on integers to ONNX Mod (``fmod=0``): the remainder takes the divisor's sign."""

from __future__ import annotations

from typing import Any

from custom_ops.base import CustomOp, TfHandler


def floor_mod_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: ``FloorMod(x, y)`` becomes ``Mod(x, y, fmod=0)`` for integers, ``x - Floor(x / y) * y`` else.

    tf2onnx writes ``x - Div(x, y) * y`` for integers, and ONNX's integer Div truncates towards
    zero, so negative operands got C's remainder (``-4 mod 3 = -1``) instead of TensorFlow's
    floored one (2): IntegerLookup with several OOV indices sends a negative id outside the
    vocabulary to a wrong (or negative) index. ONNX Mod with ``fmod=0`` is the floored integer
    remainder, which ONNX Runtime and onnx2torch (``torch.remainder``) compute.
    """
    from onnx import TensorProto

    dtype = ctx.get_dtype(node.input[0])
    if dtype not in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16):
        node.type = "Mod"
        node.set_attr("fmod", 0)
        for attr in ("T",):
            if attr in node.attr:
                del node.attr[attr]
        return
    x, y = node.input
    quotient = ctx.make_node("Div", [x, y], op_name_scope=name).output[0]
    floored = ctx.make_node("Floor", [quotient], op_name_scope=name).output[0]
    product = ctx.make_node("Mul", [floored, y], op_name_scope=name).output[0]
    shapes, dtypes, outputs = node.output_shapes, node.output_dtypes, node.output
    ctx.remove_node(node.name)
    ctx.make_node("Sub", [x, product], name=name, outputs=outputs, shapes=shapes, dtypes=dtypes)


OP = CustomOp.define(floor_mod_handler, name="FloorMod", tf=(TfHandler(("FloorMod",), floor_mod_handler),))
