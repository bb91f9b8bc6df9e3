"""The graph tf2onnx leaves for a kernel it did not see as a constant, for the weight-fixup tests."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.fixups import FixupContext, LazyWeights

RNG = np.random.default_rng(0)
KERNEL = RNG.normal(size=(3, 3, 8, 16)).astype(np.float32)  # HWIO
SCALE = RNG.uniform(0.5, 2.0, size=(1, 16, 1, 1)).astype(np.float32)
SHIFT = RNG.normal(size=(1, 16, 1, 1)).astype(np.float32)


def conv_bn(transposed: bool = True) -> onnx.ModelProto:
    """x -> Conv(Transpose(W)) -> Mul(scale) -> Add(shift) -> Relu, the kernel ``W`` a graph input."""
    nodes = [
        helper.make_node("Transpose", ["W"], ["W_oihw"], perm=[3, 2, 0, 1]),
        helper.make_node("Conv", ["x", "W_oihw"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c", "scale"], ["m"]),
        helper.make_node("Add", ["shift", "m"], ["a"]),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    kernel_shape = list(KERNEL.shape)
    if not transposed:
        nodes[1].input[1] = "W"
        kernel_shape = [16, 8, 3, 3]
        nodes = nodes[1:]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 5, 5]),
            helper.make_tensor_value_info("W", TensorProto.FLOAT, kernel_shape),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(SCALE, "scale"), numpy_helper.from_array(SHIFT, "shift")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    return model


def context(kernel: np.ndarray = KERNEL) -> FixupContext:
    """A context whose weights hold the kernel ``W`` (a loader, as while the export attaches it)."""
    return FixupContext(weights=LazyWeights({"W": lambda: kernel}, {"W": "W"}))
