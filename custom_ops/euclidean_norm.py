"""TensorFlow EuclideanNorm (``tf.math.reduce_euclidean_norm``) to ONNX ReduceL2."""

from __future__ import annotations

from typing import Any

import numpy as np

from custom_ops.base import CustomOp, TfHandler


def euclidean_norm_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx handler: ``EuclideanNorm(x, axes, keep_dims)`` becomes the standard ``ReduceL2``.

    tf2onnx has no conversion for TensorFlow's EuclideanNorm (the op behind
    ``tf.math.reduce_euclidean_norm``, the norm over several axes that ``tf.norm`` refuses).
    ONNX has the same reduction as ReduceL2, so ONNX Runtime and the torch importer need
    nothing new.
    """
    axes_node = node.inputs[1]
    if not axes_node.is_const():
        raise ValueError("EuclideanNorm with axes computed at run time")
    axes = np.asarray(axes_node.get_tensor_value(as_list=True), dtype=np.int64).reshape(-1)
    keep_dims = node.get_attr_value("keep_dims", 0)
    for attr in ("keep_dims", "Tidx", "T"):
        if attr in node.attr:
            del node.attr[attr]
    node.type = "ReduceL2"
    node.set_attr("keepdims", int(keep_dims))
    if ctx.opset >= 18:  # axes became an input
        const = ctx.make_const(name + "_axes", axes)  # int64, as ReduceL2-18 requires
        ctx.replace_input(node, node.input[1], const.output[0], 1)
    else:
        ctx.remove_input(node, node.input[1], 1)
        node.set_attr("axes", [int(a) for a in axes])


OP = CustomOp.define(
    euclidean_norm_handler, name="EuclideanNorm", tf=(TfHandler(("EuclideanNorm",), euclidean_norm_handler),)
)
