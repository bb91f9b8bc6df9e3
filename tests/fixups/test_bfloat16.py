"""emulate_bfloat16: tf2onnx's float16 casts beside bfloat16 weights load in ONNX Runtime and round as bfloat16."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.fixups.bfloat16 import emulate_bfloat16
from tests.fixups.onnx_models import apply
from tests.onnx_checks import run_ort


def _bfloat16(values: np.ndarray) -> np.ndarray:
    """Round float32 values to bfloat16 (nearest even) and back, as TensorFlow's cast does."""
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    return rounded.astype(np.uint32).view(np.float32)


def _tf2onnx_like() -> tuple[onnx.ModelProto, np.ndarray]:
    """x -> Cast(to=FLOAT16) -> MatMul(bfloat16 weight) -> Relu -> Cast(to=FLOAT), as tf2onnx writes a bf16 Dense."""
    weight = _bfloat16(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
    w = helper.make_tensor("w", TensorProto.BFLOAT16, [8, 4], weight.reshape(-1).tolist())
    nodes = [
        helper.make_node("Cast", ["x"], ["x16"], to=TensorProto.FLOAT16),
        helper.make_node("MatMul", ["x16", "w"], ["y16"]),
        helper.make_node("Relu", ["y16"], ["r16"]),
        helper.make_node("Cast", ["r16"], ["out"], to=TensorProto.FLOAT),
    ]
    graph = helper.make_graph(
        nodes,
        "bf16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["batch", 4])],
        [w],
    )
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    made.ir_version = 8
    return made, weight


def test_fires_and_computes_as_bfloat16() -> None:
    before, weight = _tf2onnx_like()
    after, changes = apply(emulate_bfloat16, before)
    assert any("Cast(to=float16)" in c for c in changes) and any("rounded to bfloat16" in c for c in changes)
    assert all(i.data_type != TensorProto.BFLOAT16 for i in after.graph.initializer)
    assert numpy_helper.to_array(next(i for i in after.graph.initializer if i.name == "w")).dtype == np.float32
    x = np.random.default_rng(1).normal(size=(3, 8)).astype(np.float32)
    (got,) = run_ort(after, {"x": x})
    expected = np.maximum(_bfloat16(_bfloat16(x) @ weight), 0)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_declines_without_bfloat16() -> None:
    node = helper.make_node("Cast", ["x"], ["out"], to=TensorProto.FLOAT16)
    graph = helper.make_graph(
        [node],
        "f16",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT16, [2])],
    )
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    made.ir_version = 8
    after, changes = apply(emulate_bfloat16, made)
    assert changes == [] and after is made
