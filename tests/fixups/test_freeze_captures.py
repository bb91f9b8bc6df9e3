"""freeze_captured_tensors: Keras 3 Normalization statistics stop being ONNX graph inputs."""

from __future__ import annotations

import numpy as np

from pipeline.fixups.freeze_captures import freeze_captured_tensors
from tests.fixups.tracing import export, run_onnx, run_traced, trace


def _normalized(keras: object) -> object:
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((4, 4, 3), name="x")
    y = keras.layers.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 2.0, 4.0], name="norm")(x)
    y = keras.layers.Dense(2, name="dense")(y)
    return keras.Model(x, y)


def test_fires_on_captured_tensors_and_keeps_outputs() -> None:
    import keras

    model = _normalized(keras)
    function = trace(model)
    frozen, changes = freeze_captured_tensors(function)
    assert len(changes) == 2 and all("-> constant" in c for c in changes)
    assert len(frozen.inputs) == 1  # only the real input is left
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(run_traced(frozen, x), run_traced(function, x), rtol=1e-6, atol=1e-6)


def test_declines_without_captured_tensors() -> None:
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((3,), name="x")
    model = keras.Model(x, keras.layers.Dense(2)(x))  # variables only: tf2onnx freezes those itself
    function = trace(model)
    same, changes = freeze_captured_tensors(function)
    assert changes == [] and same is function


def test_exported_graph_has_no_extra_inputs_and_matches_tensorflow() -> None:
    import keras

    model = _normalized(keras)
    onnx_model = export(model)
    assert [i.name for i in onnx_model.graph.input] == ["x"]
    x = np.random.default_rng(1).normal(size=(3, 4, 4, 3)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(onnx_model, {"x": x})[0], model(x).numpy(), rtol=1e-5, atol=1e-6)
