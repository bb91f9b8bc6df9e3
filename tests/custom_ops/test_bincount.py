"""TensorFlow DenseBincount (IntegerLookup / Discretization with output_mode multi_hot or count) through
our tf2onnx handler: standard ONNX ops only (no Unique/Compress); TF, ORT and torch agree."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.fixups.tracing import three_way

KEYS = [12, 3, 40, 7, 25]


def _model(layer: Any, shape: tuple[int, ...], dtype: str) -> Any:
    import keras

    x = keras.Input(shape, dtype=dtype, name="x")
    return keras.Model(x, layer(x))


@pytest.mark.parametrize(("mode", "kwargs"), [("multi_hot", {"mask_token": 0}), ("count", {"num_oov_indices": 2})])
def test_integer_lookup(mode: str, kwargs: dict[str, Any]) -> None:
    import keras

    layer = keras.layers.IntegerLookup(vocabulary=KEYS, output_mode=mode, **kwargs)
    x = np.array([[12, 3, 3, 0, 1, -4, 40, 99], [0, 0, 25, 25, 25, 7, 13, 12]], np.int64)
    onnx_model = three_way(_model(layer, (8,), "int64"), x, 17)
    ops = {n.op_type for n in onnx_model.graph.node}
    assert not ops & {"Unique", "Compress", "DenseBincount"}, ops
    assert all(n.domain in ("", "ai.onnx") for n in onnx_model.graph.node)


@pytest.mark.parametrize("mode", ["multi_hot", "count"])
def test_discretization(mode: str) -> None:
    import keras

    layer = keras.layers.Discretization(bin_boundaries=[0.0, 0.5, 2.0], output_mode=mode)
    x = np.array([[-1.0, 0.7, 0.7, 3.0], [0.1, 0.2, 0.3, 0.4]], np.float32)
    three_way(_model(layer, (4,), "float32"), x, 13)
