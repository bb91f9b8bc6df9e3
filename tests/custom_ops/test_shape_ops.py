"""Expand / ConstantOfShape / Reshape whose shapes come from Shape of a batch-sized tensor, Gather,
ReverseSequence: values match ONNX Runtime and the program exports with the batch dynamic."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper

from tests.custom_ops.helpers import assert_exports, make_model
from tests.onnx_checks import assert_matches_ort

INTS = {
    "zero": np.array([0], np.int64),
    "one": np.array([1], np.int64),
    "units": np.array([5], np.int64),
    "minus_one": np.array([-1], np.int64),
    "scalar": np.array(0.0, np.float32),
}


def _batch_shape_nodes() -> list[object]:
    """``target = [x.shape[0], 5]`` computed as tf2onnx does for ``tf.zeros([batch, units])``."""
    return [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Cast", ["shape"], ["shape32"], to=TensorProto.INT32),
        helper.make_node("Slice", ["shape32", "zero", "one", "zero"], ["batch32"]),
        helper.make_node("Cast", ["batch32"], ["batch"], to=TensorProto.INT64),
        helper.make_node("Concat", ["batch", "units"], ["target"], axis=0),
    ]


@pytest.mark.parametrize("op", ["Expand", "ConstantOfShape", "Reshape"])
def test_shape_from_a_batch_sized_tensor(op: str) -> None:
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    if op == "Expand":
        last = helper.make_node("Expand", ["scalar", "target"], ["y"])
    elif op == "ConstantOfShape":
        value = helper.make_tensor("v", TensorProto.FLOAT, [1], [1.5])
        last = helper.make_node("ConstantOfShape", ["target"], ["y"], value=value)
    else:
        last = helper.make_node("Reshape", ["x", "target"], ["y"])
    nodes = [*_batch_shape_nodes(), last, helper.make_node("Add", ["y", "x"], ["out"])]
    model = make_model(nodes, {"x": x}, ["out"], initializers=INTS, batch_axis={"x": 0})
    module = assert_matches_ort(model, {"x": x}, rtol=0, atol=0, fixups=False, ours={op}).module
    assert_exports(module, {"x": x}, {"x": 0})


@pytest.mark.parametrize("axis,indices", [(0, np.array(1)), (1, np.array([[0, -1], [2, 1]])), (2, np.array([-2]))])
def test_gather(axis: int, indices: np.ndarray) -> None:
    x = np.random.default_rng(1).normal(size=(3, 4, 5)).astype(np.float32)
    node = helper.make_node("Gather", ["x", "i"], ["y"], axis=axis)
    model = make_model([node], {"x": x, "i": indices.astype(np.int64)}, ["y"])
    assert_matches_ort(model, {"x": x, "i": indices.astype(np.int64)}, rtol=0, atol=0, fixups=False)


@pytest.mark.parametrize("batch_axis,time_axis", [(1, 0), (0, 1)])
def test_reverse_sequence(batch_axis: int, time_axis: int) -> None:
    shape = [4, 3, 2] if time_axis == 0 else [3, 4, 2]
    x = np.random.default_rng(2).normal(size=shape).astype(np.float32)
    lengths = np.array([4, 1, 3], np.int64)
    node = helper.make_node("ReverseSequence", ["x", "lens"], ["y"], batch_axis=batch_axis, time_axis=time_axis)
    feeds = {"x": x, "lens": lengths}
    model = make_model([node], feeds, ["y"], batch_axis={"x": batch_axis, "lens": 0})
    module = assert_matches_ort(model, feeds, rtol=0, atol=0, fixups=False).module
    if time_axis == 0:
        assert_exports(module, feeds, {"x": batch_axis, "lens": 0})
