"""fold_into_conv: per-channel Mul/Add after a Conv and zero Pads before one become the Conv's own."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from pipeline.fixups.fold_into_conv import fold_into_conv
from tests.fixups.onnx_models import apply, assert_same_outputs, model

RNG = np.random.default_rng(0)
X = {"x": ([2, 4, 9, 9], TensorProto.FLOAT)}
FEED = {"x": RNG.normal(size=(2, 4, 9, 9)).astype(np.float32)}


def _depthwise_bn(scale_shape: tuple[int, ...], pad_value: float = 0.0) -> object:
    nodes = [
        helper.make_node("Pad", ["x", "pads", "zero"], ["p"], mode="constant"),
        helper.make_node("Conv", ["p", "w", "b"], ["c"], group=4, kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("Mul", ["c", "scale"], ["m"]),
        helper.make_node("Add", ["shift", "m"], ["a"]),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    inits = {
        "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64),
        "zero": np.array(pad_value, np.float32),
        "w": RNG.normal(size=(4, 1, 3, 3)).astype(np.float32),
        "b": RNG.normal(size=4).astype(np.float32),
        "scale": RNG.uniform(0.5, 2, size=scale_shape).astype(np.float32),
        "shift": RNG.normal(size=(4, 1, 1)).astype(np.float32),
    }
    return model(nodes, X, ["y"], initializers=inits)


def test_folds_scale_shift_and_pad() -> None:
    before = _depthwise_bn((4, 1, 1))
    after, changes = apply(fold_into_conv, before)
    assert sorted(c.split()[0] for c in changes) == ["Add", "Mul", "Pad"]
    assert [n.op_type for n in after.graph.node] == ["Conv", "Relu"]
    assert {i.name for i in after.graph.initializer}.isdisjoint({"w", "b", "scale", "shift", "pads"})
    assert_same_outputs(before, after, FEED)


def test_declines_what_is_not_per_channel_or_not_zero() -> None:
    spatial = _depthwise_bn((1, 1, 5))  # varies along width: not one value per channel
    after, changes = apply(fold_into_conv, spatial)
    assert [c.split()[0] for c in changes] == ["Pad"]
    assert "Mul" in [n.op_type for n in after.graph.node]
    assert_same_outputs(spatial, after, FEED)
    padded_with_ones = _depthwise_bn((4, 1, 1), pad_value=1.0)
    after, changes = apply(fold_into_conv, padded_with_ones)
    assert "Pad" not in " ".join(changes)
    assert "Pad" in [n.op_type for n in after.graph.node]
    assert_same_outputs(padded_with_ones, after, FEED)
