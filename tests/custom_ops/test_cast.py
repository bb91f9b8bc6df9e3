"""Cast and CastLike against ONNX Runtime, float8 saturation included."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort

PAIRS = [
    (np.float32, TensorProto.FLOAT16),
    (np.float32, TensorProto.DOUBLE),
    (np.float32, TensorProto.INT32),
    (np.float64, TensorProto.INT64),
    (np.int64, TensorProto.FLOAT),
    (np.int32, TensorProto.BOOL),
    (np.float32, TensorProto.BOOL),
    (np.bool_, TensorProto.FLOAT),
    (np.uint8, TensorProto.INT8),
    (np.int64, TensorProto.UINT32),
    (np.float16, TensorProto.UINT8),
]


@pytest.mark.parametrize(("source", "target"), PAIRS)
@pytest.mark.parametrize("opset", [13, 19, 21])
def test_cast(rng: np.random.Generator, source: type, target: int, opset: int) -> None:
    x = (rng.standard_normal((3, 4)) * 50).astype(source)
    model, feeds = node_model("Cast", [("x", x, False)], opset=opset, output_type=target, to=target)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize(
    "target", [TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2, TensorProto.FLOAT8E4M3FNUZ, TensorProto.BFLOAT16]
)
@pytest.mark.parametrize("saturate", [0, 1])
def test_round_trip_through_narrow_floats(target: int, saturate: int) -> None:
    """Cast to float8/bfloat16 and back (ONNX Runtime's Python API cannot hand those types out)."""
    x = np.array([0.0, 1.1, -3.3, 300.0, -500.0, 1e5, -7e4, np.nan], dtype=np.float32)
    attrs = {"saturate": saturate} if target != TensorProto.BFLOAT16 else {}
    nodes = [
        helper.make_node("Cast", ["x"], ["narrow"], to=target, **attrs),
        helper.make_node("Cast", ["narrow"], ["y"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "round_trip",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    assert_matches_ort(model, [x], rtol=0, atol=0)


@pytest.mark.parametrize(("source", "like"), [(np.float32, np.float16), (np.float64, np.int32), (np.int8, np.float32)])
def test_cast_like(rng: np.random.Generator, source: type, like: type) -> None:
    x = (rng.standard_normal((2, 5)) * 10).astype(source)
    target = np.zeros((1,), like)
    out_type = helper.np_dtype_to_tensor_dtype(np.dtype(like))
    model, feeds = node_model("CastLike", [("x", x, False), ("like", target, False)], opset=21, output_type=out_type)
    assert_matches_ort(model, feeds)
