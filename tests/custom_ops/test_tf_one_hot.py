"""TensorFlow OneHot with int64 values (IntegerLookup one_hot) through our tf2onnx handler, on a batch
of id sequences; float OneHot (Discretization one_hot) as tf2onnx converts it. TF, ORT, torch agree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from pipeline.stages.importer import import_model
from tests.fixups.tracing import export, run_onnx, three_way


def _model(layer: Any, shape: tuple[int, ...], dtype: str) -> Any:
    import keras

    x = keras.Input(shape, dtype=dtype, name="x")
    return keras.Model(x, layer(x))


@pytest.mark.parametrize("kind", ["lookup", "discretization"])
def test_one_hot_outputs(kind: str) -> None:
    import keras

    if kind == "lookup":
        model = _model(keras.layers.IntegerLookup(vocabulary=[3, 9, 27], output_mode="one_hot"), (3,), "int64")
        x = np.array([[3, 9, 5], [27, 27, 0]], np.int64)
    else:
        model = _model(keras.layers.Discretization(bin_boundaries=[0.0, 0.5], output_mode="one_hot"), (1,), "float32")
        x = np.array([[-1.0], [0.7]], np.float32)
    onnx_model = export(model, 17)
    expected = np.asarray(model(x))
    ort = run_onnx(onnx_model, {"x": x})[0]
    np.testing.assert_array_equal(ort, expected)
    assert ort.dtype == expected.dtype
    with torch.no_grad():
        np.testing.assert_array_equal(import_model(onnx_model).module(torch.from_numpy(x)).numpy(), expected)
    assert "OneHot" in {n.op_type for n in onnx_model.graph.node}


@pytest.mark.parametrize("dtype", ["float32", "int64"])
def test_negative_ids_give_a_row_of_off_values(dtype: str) -> None:
    import keras

    class OneHot(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return keras.ops.one_hot(x, 4, dtype=dtype)

    x = np.array([[-1, 0, 3, -4, -5, 4]], np.int64)
    onnx_model = three_way(_model(OneHot(), (6,), "int64"), x, 17)
    assert "OneHot" in {n.op_type for n in onnx_model.graph.node}
