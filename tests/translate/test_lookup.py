"""Discretization and IntegerLookup as helper modules in model.py, in every dense output mode, against TensorFlow.

The inputs are chosen to hit every bucket, both ends and NaN (Discretization), and known keys,
ids outside the vocabulary, repeated ids and the mask token (IntegerLookup).
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
    """model.py's output and Keras' on ``x`` (the same values; Keras' dtype is checked by callers)."""
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


IDS = np.array([[12, 3, 3, 40, 0, 1, 13, -4, 25, 12], [7, 7, 7, 0, 0, 100, 25, 3, 41, 12]], np.int64)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
@pytest.mark.parametrize("kwargs", [{}, {"mask_token": 0, "num_oov_indices": 2}, {"pad_to_max_tokens": True}])
def test_integer_lookup_encodings_match_tensorflow(mode: str, kwargs: dict[str, Any]) -> None:
    if kwargs.get("pad_to_max_tokens"):
        kwargs = {**kwargs, "max_tokens": len(KEYS) + 4}
    layer = L.IntegerLookup(vocabulary=KEYS, output_mode=mode, name="lookup", **kwargs)
    code, got, expected = _run(one_layer(layer, (IDS.shape[1],), dtype="int64"), IDS)
    np.testing.assert_array_equal(got, expected)  # TensorFlow computes int64, Keras declares float32
    assert got.dtype == np.float32 and expected.max() >= (2 if mode == "count" else 1)
    assert "encode_categories" in code.source and "torch.searchsorted" in code.source


def test_integer_lookup_without_oov_indices() -> None:
    """num_oov_indices=0: Keras raises on ids outside the vocabulary, so only keys are compared."""
    x = np.array([[12, 3, 3, 40, 25, 7]], np.int64)
    for mode in ("int", "one_hot", "count"):
        layer = L.IntegerLookup(vocabulary=KEYS, num_oov_indices=0, output_mode=mode, name="lookup")
        _, got, expected = _run(one_layer(layer, (x.shape[1],), dtype="int64"), x)
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("mode", ["one_hot", "multi_hot", "count"])
def test_discretization_encodings_match_tensorflow(mode: str) -> None:
    x = np.array([[-1.0, 0.0, 0.3, 0.3, 9.0], [0.1, 0.2, 0.6, -3.0, np.nan]], np.float32)
    layer = L.Discretization(bin_boundaries=[0.0, 0.25, 0.5], output_mode=mode, name="disc")
    _, got, expected = _run(one_layer(layer, (5,)), x)
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == expected.dtype


def test_one_hot_of_a_single_id_drops_its_axis() -> None:
    x = np.array([[3], [5], [25]], np.int64)
    layer = L.IntegerLookup(vocabulary=KEYS, output_mode="one_hot", name="lookup")
    _, got, expected = _run(one_layer(layer, (1,), dtype="int64"), x)
    assert got.shape == expected.shape == (3, len(KEYS) + 1)
    np.testing.assert_array_equal(got, expected)


def test_encodings_follow_the_module_dtype() -> None:
    """``module.double()`` (the training check's float64 replay) gives float64 encodings a Dense then reads."""
    import keras

    x = keras.Input((IDS.shape[1],), dtype="int64")
    counts = L.IntegerLookup(vocabulary=KEYS, output_mode="count")(x)
    model = keras.Model(x, L.Dense(2)(counts))
    module = module_from(translate_model(model)).double()
    with torch.no_grad():
        got = module(torch.from_numpy(IDS))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), np.asarray(model(IDS)), rtol=1e-6, atol=1e-6)


def test_counts_of_rank_three_inputs_decline() -> None:
    from pipeline.translate.base import Decline, LayerCall, Value
    from pipeline.translate.layers.lookup import translate_integer_lookup

    model = one_layer(L.IntegerLookup(vocabulary=KEYS, output_mode="count"), (2, 4), dtype="int64")
    value = Value("x", (None, 2, 4), "int64")
    call = LayerCall(layer=model.layers[-1], attr="lookup", inputs=[value], output_shapes=[], output_dtypes=[])
    with pytest.raises(Decline, match="rank-3"):
        translate_integer_lookup(call, None)  # type: ignore[arg-type]
