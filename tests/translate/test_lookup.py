"""Discretization and IntegerLookup as helper modules in model.py, against TensorFlow.

The inputs are chosen to hit every bucket, both ends and NaN (Discretization), and known keys,
ids outside the vocabulary and the mask token (IntegerLookup).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import pytest
import torch

from pipeline.translate import translate_model
from tests.translate.helpers import check_weights, module_from, one_layer

L = keras.layers
KEYS = [12, 3, 40, 7, 25]


def _run(model: Any, x: np.ndarray) -> tuple[Any, np.ndarray, np.ndarray]:
    code = translate_model(model)
    module = module_from(code)
    check_weights(model, code, module)
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    return code, got, np.asarray(model(x, training=False))


def test_discretization_buckets_match_tensorflow() -> None:
    bounds = [-0.5, 0.0, 0.25, 0.5]
    x = np.array([[-2.0, -0.5, -0.1, 0.0, 0.25, 0.3, 0.5, 9.0, np.nan]], np.float32)
    code, got, expected = _run(one_layer(L.Discretization(bin_boundaries=bounds, name="disc"), (9,)), x)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype and set(got[0].tolist()) == {0, 1, 2, 3, 4}
    assert "torch.bucketize" in code.source and "disc.boundaries" in code.buffers


def test_adapted_discretization_on_integers() -> None:
    layer = L.Discretization(num_bins=4, name="disc")
    layer.adapt(np.arange(100, dtype=np.float32))
    x = np.arange(-5, 110, 5, dtype=np.int32).reshape(1, -1)
    _, got, expected = _run(one_layer(layer, (x.shape[1],), dtype="int32"), x)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"mask_token": 0}, {"num_oov_indices": 3}, {"mask_token": 0, "num_oov_indices": 2}, {"invert": True}],
)
def test_integer_lookup_matches_tensorflow(kwargs: dict[str, Any]) -> None:
    layer = L.IntegerLookup(vocabulary=KEYS, name="lookup", **kwargs)
    if kwargs.get("invert"):
        x = np.array([[0, 1, 2, 3, 4, 5, 6, 9]], np.int64)
    else:
        x = np.array([[12, 3, 40, 7, 25, 0, 1, 13, 41, -4, 100, 7]], np.int64)
    code, got, expected = _run(one_layer(layer, (x.shape[1],), dtype="int64"), x)
    np.testing.assert_array_equal(got, expected)
    assert "torch.searchsorted" in code.source and {"lookup.keys", "lookup.values"} <= code.buffers


def test_lookup_output_modes_other_than_int_decline() -> None:
    from pipeline.translate.base import Decline
    from pipeline.translate.layers.preprocessing import translate_integer_lookup

    model = one_layer(L.IntegerLookup(vocabulary=KEYS, output_mode="multi_hot"), (4,), dtype="int64")
    with pytest.raises(Decline, match="multi_hot"):
        translate_integer_lookup(_call(model), None)  # type: ignore[arg-type]


def _call(model: Any) -> Any:
    from pipeline.translate.base import LayerCall

    return LayerCall(layer=model.layers[-1], attr="lookup", inputs=[], output_shapes=[], output_dtypes=[])
