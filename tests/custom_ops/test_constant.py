"""Constant and ConstantOfShape against ONNX Runtime."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from onnx import helper, numpy_helper

from tests.custom_ops.node_cases import TensorProto
from tests.onnx_checks import assert_matches_ort, run_ort, run_torch

VALUES: list[tuple[str, Any, int]] = [
    ("value", numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3)), TensorProto.FLOAT),
    ("value_float", 2.5, TensorProto.FLOAT),
    ("value_floats", [1.0, -2.0], TensorProto.FLOAT),
    ("value_int", 7, TensorProto.INT64),
    ("value_ints", [3, 4, 5], TensorProto.INT64),
]


def _model(nodes: list, inputs: list, out_type: int, opset: int) -> Any:
    graph = helper.make_graph(nodes, "g", inputs, [helper.make_tensor_value_info("y", out_type, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    return model


@pytest.mark.parametrize(("attr", "value", "out_type"), VALUES)
@pytest.mark.parametrize("opset", [13, 21])
def test_constant_attributes(attr: str, value: Any, out_type: int, opset: int) -> None:
    # a Constant feeding Identity, so the graph has an input-free node in the middle
    nodes = [helper.make_node("Constant", [], ["c"], **{attr: value}), helper.make_node("Identity", ["c"], ["y"])]
    model = _model(nodes, [], out_type, opset)
    expected, got = run_ort(model, []), run_torch(model, []).outputs
    np.testing.assert_array_equal(got[0], expected[0])
    assert got[0].dtype == expected[0].dtype


@pytest.mark.parametrize("fill", [None, np.array([3], np.int32), np.array([1.5], np.float32)])
@pytest.mark.parametrize("shape", [[2, 3], [0, 4], [5]])
def test_constant_of_shape_from_an_input(fill: np.ndarray | None, shape: list[int]) -> None:
    attrs = {} if fill is None else {"value": numpy_helper.from_array(fill)}
    out_type = TensorProto.FLOAT if fill is None else helper.np_dtype_to_tensor_dtype(fill.dtype)
    nodes = [helper.make_node("ConstantOfShape", ["shape"], ["y"], **attrs)]
    model = _model(nodes, [helper.make_tensor_value_info("shape", TensorProto.INT64, [len(shape)])], out_type, 21)
    assert_matches_ort(model, [np.array(shape, np.int64)])
