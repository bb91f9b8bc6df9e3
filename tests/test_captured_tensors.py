"""Tensors a model captures by value (Keras 3 Normalization statistics, EfficientNet's) are frozen by
the export: the ONNX graph asks only for the model's own inputs and computes what TensorFlow does."""

from __future__ import annotations

import numpy as np

from tests.fixups.tracing import export, run_onnx


def test_normalization_statistics_are_constants_not_inputs() -> None:
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((4, 4, 3), name="x")
    y = keras.layers.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 4.0], name="norm")(x)
    model = keras.Model(x, keras.layers.Dense(2, name="dense")(y))
    onnx_model = export(model)
    assert [i.name for i in onnx_model.graph.input] == ["x"]
    value = np.random.default_rng(1).normal(size=(3, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(onnx_model, {"x": value})[0], model(value).numpy(), rtol=1e-5, atol=1e-6)
