"""cancel_transposes: Transpose pairs around elementwise regions go; the graph computes the same."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups
from pipeline.fixups.transposes import cancel_transposes
from tests.fixups.onnx_models import apply, assert_same_outputs, model
from tests.fixups.tracing import export

TO_NHWC, TO_NCHW = [0, 2, 3, 1], [0, 3, 1, 2]


def _hard_swish_se(final_output_in_region: bool = False) -> object:
    """NCHW -> NHWC, hard-swish and a squeeze-excite style gate in NHWC, back to NCHW (as tf2onnx emits)."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], perm=TO_NHWC),
        helper.make_node("Add", ["xt", "three"], ["a"]),
        helper.make_node("Clip", ["a", "zero", "six"], ["c"]),
        helper.make_node("Mul", ["c", "sixth"], ["h"]),
        helper.make_node("Mul", ["xt", "h"], ["swish"]),
        helper.make_node("ReduceMean", ["swish"], ["pooled"], axes=[1, 2], keepdims=1),
        helper.make_node("Mul", ["pooled", "scale"], ["gate"]),  # per-channel constant
        helper.make_node("Mul", ["swish", "gate"], ["gated"]),
        helper.make_node("Pad", ["gated", "pads"], ["padded"]),
        helper.make_node("Transpose", ["padded"], ["y"], perm=TO_NCHW),
    ]
    inits = {
        "three": np.array(3.0, np.float32),
        "zero": np.array(0.0, np.float32),
        "six": np.array(6.0, np.float32),
        "sixth": np.array(1 / 6, np.float32),
        "scale": np.array([0.5, -1.0, 2.0], np.float32),
        "pads": np.array([0, 1, 0, 0, 0, 0, 2, 0], np.int64),  # NHWC: 1 row before, 2 columns after
    }
    outputs = ["y", "gated"] if final_output_in_region else ["y"]
    return model(nodes, {"x": ([2, 3, 4, 5], TensorProto.FLOAT)}, outputs, initializers=inits)


def _feeds() -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(0).normal(0, 3, (2, 3, 4, 5)).astype(np.float32)}


def test_fires_and_the_graph_computes_the_same() -> None:
    before = _hard_swish_se()
    after, changes = apply(cancel_transposes, before)
    assert changes == ["removed 2 Transpose node(s) around 1 layout-agnostic region(s)"]
    assert not [n for n in after.graph.node if n.op_type == "Transpose"]
    assert_same_outputs(before, after, _feeds())


def test_declines_when_the_region_leaks_into_a_graph_output() -> None:
    """A region tensor that is also a model output must keep its layout."""
    after, changes = apply(cancel_transposes, _hard_swish_se(final_output_in_region=True))
    assert changes == []
    assert len([n for n in after.graph.node if n.op_type == "Transpose"]) == 2


def test_tf2onnx_hard_swish_block() -> None:
    """A MobileNetV3-style block exported by tf2onnx: most Transposes go, outputs stay the same."""
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((8, 8, 4), name="x")
    y = keras.layers.Conv2D(8, 1, name="expand")(x)
    y = keras.layers.Activation("hard_swish", name="hswish")(y)
    gate = keras.layers.GlobalAveragePooling2D(keepdims=True, name="squeeze")(y)
    gate = keras.layers.Conv2D(8, 1, activation="hard_sigmoid", name="excite")(gate)
    y = keras.layers.Multiply(name="scale")([y, gate])
    y = keras.layers.ZeroPadding2D(((0, 1), (0, 1)), name="pad")(y)
    y = keras.layers.DepthwiseConv2D(3, strides=2, name="dw")(y)
    model = keras.Model(x, keras.layers.Activation("hard_swish", name="out")(y))
    exported = export(model)
    others = DEFAULT_FIXUPS.without("cancel_transposes")
    from pipeline.context import TensorSpec

    context = FixupContext(inputs=[TensorSpec("x", [None, 8, 8, 4], "float32")])
    before, _ = run_fixups(exported, others, context)
    after, changes = apply(cancel_transposes, before)
    count = [sum(n.op_type == "Transpose" for n in m.graph.node) for m in (before, after)]
    assert changes and count[1] < count[0] and count[1] <= 2, count
    feeds = {"x": np.random.default_rng(1).uniform(-4, 4, (2, 8, 8, 4)).astype(np.float32)}
    assert_same_outputs(before, after, feeds)
