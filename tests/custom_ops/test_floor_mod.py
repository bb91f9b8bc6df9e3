"""TensorFlow FloorMod through our tf2onnx handler: floored remainders for negative integers (ONNX
Mod, fmod=0) and floats; TensorFlow, ONNX Runtime and torch agree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from pipeline.stages.importer import import_model
from tests.fixups.tracing import export, run_onnx


def _model(dtype: str, divisor: Any) -> Any:
    import keras
    import tensorflow as tf

    class FloorMod(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return tf.math.floormod(x, tf.constant(divisor, dtype))

    x = keras.Input((6,), dtype=dtype, name="x")
    return keras.Model(x, FloorMod()(x))


@pytest.mark.parametrize(("dtype", "divisor"), [("int64", 3), ("int32", -4), ("float32", 2.5)])
def test_floor_mod(dtype: str, divisor: Any) -> None:
    model = _model(dtype, divisor)
    x = np.array([[-7, -4, -1, 0, 5, 9], [1, -2, 3, -10, 11, -12]]).astype(dtype)
    onnx_model = export(model, 17)
    expected = np.asarray(model(x))
    np.testing.assert_allclose(run_onnx(onnx_model, {"x": x})[0], expected, rtol=0, atol=1e-6)
    with torch.no_grad():
        got = import_model(onnx_model).module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    if dtype.startswith("int"):
        assert "Mod" in {n.op_type for n in onnx_model.graph.node}
