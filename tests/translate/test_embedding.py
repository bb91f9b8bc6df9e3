"""Embedding against TensorFlow: index dtypes, ranks, mask_zero feeding a recurrent layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.translate import harness


def _tokens(shape: tuple[int, ...], dtype: str = "int32") -> np.ndarray:
    x = np.random.default_rng(2).integers(0, 30, size=shape)
    x[0, -2:] = 0
    return x.astype(dtype)


def _model(shape: tuple[int, ...], dtype: str, body: Callable[[Any, Any], Any], tf_keras: bool = False) -> Callable:
    def build() -> tuple[Any, list[np.ndarray]]:
        import keras

        k = keras
        if tf_keras:
            import tf_keras as k
        inp = k.Input(shape[1:], dtype=dtype)
        return harness.randomize(k.Model(inp, body(k.layers, inp))), [_tokens(shape, dtype)]

    return build


CASES = {
    "plain": _model((4, 6), "int32", lambda L, x: L.Embedding(30, 5)(x)),
    "float_indices": _model((4, 6), "float32", lambda L, x: L.Embedding(30, 5)(x)),
    "rank3_indices": _model((4, 3, 2), "int32", lambda L, x: L.Embedding(30, 5)(x)),
    "mask_zero_lstm_dense": _model(
        (4, 6), "int32", lambda L, x: L.Dense(2)(L.LSTM(4)(L.Embedding(30, 5, mask_zero=True)(x)))
    ),
    "tf_keras_mask_zero_gru": _model(
        (4, 6), "int32", lambda L, x: L.GRU(4)(L.Embedding(30, 5, mask_zero=True)(x)), tf_keras=True
    ),
}


translated, test_embedding = harness.family_tests(__name__, CASES)
