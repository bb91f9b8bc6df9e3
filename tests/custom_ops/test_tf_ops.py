"""TensorFlow ops tf2onnx cannot convert, through our handlers: Erfc (custom domain + ONNX function)
and EuclideanNorm (standard ReduceL2); TensorFlow, ONNX Runtime and torch agree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from custom_ops.base import DOMAIN
from pipeline.stages.importer import import_model
from tests.fixups.tracing import export, run_onnx, three_way


def _model(shape: tuple[int, ...], fn: Any) -> Any:
    import keras

    class Apply(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return fn(x)

    x = keras.Input(shape, name="x")
    return keras.Model(x, Apply(name="apply")(x))


@pytest.mark.parametrize("shape,opset", [((5,), 13), ((3, 4), 17), ((2, 3, 2), 18)])
def test_erfc(shape: tuple[int, ...], opset: int) -> None:
    import tensorflow as tf

    x = np.random.default_rng(0).normal(0, 2, (2, *shape)).astype(np.float32)
    onnx_model = three_way(_model(shape, tf.math.erfc), x, opset, rtol=1e-5, atol=1e-6)
    erfc = [n for n in onnx_model.graph.node if n.op_type == "Erfc"]
    assert erfc and erfc[0].domain == DOMAIN
    assert [(f.domain, f.name) for f in onnx_model.functions] == [(DOMAIN, "Erfc")]


@pytest.mark.parametrize("axes,keepdims,opset", [([1, 2, 3], True, 17), ([-1], False, 18), ([1, 3], True, 13)])
def test_euclidean_norm(axes: list[int], keepdims: bool, opset: int) -> None:
    import tensorflow as tf

    x = np.random.default_rng(1).normal(size=(2, 3, 4, 5)).astype(np.float32)
    model = _model((3, 4, 5), lambda t: tf.math.reduce_euclidean_norm(t, axis=axes, keepdims=keepdims))
    if opset == 18:  # onnx2torch has no ReduceL2-18: ours (or the opset planning fixup) must import it
        from pipeline.fixups import FixupContext
        from pipeline.fixups.opset import plan_opset
        from pipeline.stages.importer import find_converter

        onnx_model = export(model, opset)
        onnx_model, changes = plan_opset(onnx_model, FixupContext())
        expected = np.asarray(model(x))
        np.testing.assert_allclose(run_onnx(onnx_model, {"x": x})[0], expected, rtol=1e-5, atol=1e-6)
        with torch.no_grad():
            got = import_model(onnx_model).module(torch.from_numpy(x)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
        # onnx2torch has no ReduceL2-18; custom_ops does, so the opset stays and our converter imports it
        assert changes == [] and find_converter("", "ReduceL2", 18)[1] == "custom_ops"
        assert [n.op_type for n in onnx_model.graph.node if n.op_type.startswith("Reduce")] == ["ReduceL2"]
        return
    onnx_model = three_way(model, x, opset, rtol=1e-5, atol=1e-6)
    assert [n.op_type for n in onnx_model.graph.node if n.op_type.startswith("Reduce")] == ["ReduceL2"]
