"""Quantization ops against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("zero_type", [np.uint8, np.int8, None])
@pytest.mark.parametrize("per_axis", [False, True])
def test_quantize_dequantize(rng: np.random.Generator, zero_type: type | None, per_axis: bool) -> None:
    x = floats(rng, 2, 3, 4) * 20
    scale = np.array([0.5, 0.25, 0.1], np.float32) if per_axis else np.array(0.3, np.float32)
    zero = None if zero_type is None else np.full(scale.shape, 3, zero_type)
    model, feeds = node_model(
        "QuantizeLinear",
        [("x", x, False), ("s", scale, True), ("z", zero, True)],
        opset=13,
        output_type=TensorProto.UINT8 if zero_type in (None, np.uint8) else TensorProto.INT8,
    )
    q = assert_matches_ort(model, feeds).outputs[0]
    model, feeds = node_model(
        "DequantizeLinear",
        [("q", q, False), ("s", scale, True), ("z", zero, True)],
        opset=13,
        output_type=TensorProto.FLOAT,
    )
    assert_matches_ort(model, feeds)


def test_dynamic_quantize(rng: np.random.Generator) -> None:
    model, feeds = node_model(
        "DynamicQuantizeLinear",
        [("x", floats(rng, 3, 4) * 5, False)],
        outputs=[("y", TensorProto.UINT8), ("s", TensorProto.FLOAT), ("z", TensorProto.UINT8)],
    )
    assert_matches_ort(model, feeds)


def _q(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.integers(0, 255, shape).astype(np.uint8)


def test_qlinear_matmul_and_matmul_integer(rng: np.random.Generator) -> None:
    a, b = _q(rng, 2, 3), _q(rng, 3, 4)
    s = np.array(0.05, np.float32)
    z = np.array(100, np.uint8)
    model, feeds = node_model(
        "QLinearMatMul",
        [
            ("a", a, False),
            ("sa", s, True),
            ("za", z, True),
            ("b", b, False),
            ("sb", s, True),
            ("zb", z, True),
            ("sy", np.array(0.5, np.float32), True),
            ("zy", np.array(10, np.uint8), True),
        ],
        opset=10,
    )
    assert_matches_ort(model, feeds)
    model, feeds = node_model(
        "MatMulInteger",
        [("a", a, False), ("b", b, False), ("za", z, True), ("zb", z, True)],
        opset=10,
        output_type=TensorProto.INT32,
    )
    assert_matches_ort(model, feeds)


def test_qlinear_conv_and_conv_integer(rng: np.random.Generator) -> None:
    x, w = _q(rng, 1, 2, 5, 5), _q(rng, 3, 2, 3, 3)
    s, z = np.array(0.02, np.float32), np.array(120, np.uint8)
    model, feeds = node_model(
        "QLinearConv",
        [
            ("x", x, False),
            ("sx", s, True),
            ("zx", z, True),
            ("w", w, False),
            ("sw", s, True),
            ("zw", z, True),
            ("sy", np.array(0.4, np.float32), True),
            ("zy", np.array(5, np.uint8), True),
        ],
        opset=10,
        pads=[1, 1, 1, 1],
    )
    assert_matches_ort(model, feeds)
    model, feeds = node_model(
        "ConvInteger", [("x", x, False), ("w", w, False), ("zx", z, True)], opset=10, output_type=TensorProto.INT32
    )
    assert_matches_ort(model, feeds)
