"""TensorFlow Bucketize (Discretization, keras.ops.digitize) through our tf2onnx handler: standard
ONNX ops only; TensorFlow, ONNX Runtime and torch agree on every bucket, both ends and NaN."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.fixups.tracing import three_way

BOUNDS = [-0.5, 0.0, 0.25, 0.5]


def _model(layer: Any, width: int, dtype: str) -> Any:
    import keras

    x = keras.Input((width,), dtype=dtype, name="x")
    return keras.Model(x, layer(x))


@pytest.mark.parametrize(("dtype", "opset"), [("float32", 17), ("float64", 13), ("int32", 18)])
def test_discretization(dtype: str, opset: int) -> None:
    import keras

    x = np.array([[-2.0, -0.5, -0.1, 0.0, 0.25, 0.3, 0.5, 9.0], [0.4, -0.6, 0.1, -1, 2, 0.5, 0.0, -0.5]])
    if dtype == "float32":
        x[0, -1] = np.nan  # past every boundary in TensorFlow's upper-bound search
    if dtype == "int32":
        x = np.round(x * 4)
    x = x.astype(dtype)
    bounds = [-2.0, 0.0, 1.5, 3.0] if dtype == "int32" else BOUNDS
    onnx_model = three_way(_model(keras.layers.Discretization(bin_boundaries=bounds), 8, dtype), x, opset)
    assert not {n.op_type for n in onnx_model.graph.node} & {"Bucketize"}
    assert all(n.domain in ("", "ai.onnx") for n in onnx_model.graph.node)


def test_digitize_without_boundaries_is_bucket_zero() -> None:
    import keras

    class Digitize(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return keras.ops.digitize(x, [])

    x = np.array([[-1.0, 0.0, 3.0]], np.float32)
    three_way(_model(Digitize(), 3, "float32"), x, 17)
