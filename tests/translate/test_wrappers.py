"""TimeDistributed against TensorFlow, around dense, convolutional and normalisation layers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.translate import harness


def _model(shape: tuple[int, ...], body: Callable[[Any, Any], Any], tf_keras: bool = False) -> Callable:
    def build() -> tuple[Any, list[np.ndarray]]:
        import keras

        k = keras
        if tf_keras:
            import tf_keras as k
        inp = k.Input(shape[1:])
        data = np.random.default_rng(1).normal(size=shape).astype("float32")
        return harness.randomize(k.Model(inp, body(k.layers, inp))), [data]

    return build


CASES = {
    "dense": _model((2, 5, 3), lambda L, x: L.TimeDistributed(L.Dense(4, activation="relu"))(x)),
    "conv_pool": _model(
        (2, 3, 8, 8, 2),
        lambda L, x: L.TimeDistributed(L.MaxPooling2D())(L.TimeDistributed(L.Conv2D(4, 3, padding="same"))(x)),
    ),
    "conv_flatten_lstm": _model(
        (2, 3, 6, 6, 2),
        lambda L, x: L.LSTM(4)(L.TimeDistributed(L.Flatten())(L.TimeDistributed(L.Conv2D(3, 3))(x))),
    ),
    "layer_norm": _model((2, 5, 4, 3), lambda L, x: L.TimeDistributed(L.LayerNormalization())(x)),
    "tf_keras_dense": _model((2, 5, 3), lambda L, x: L.TimeDistributed(L.Dense(4))(x), tf_keras=True),
}


translated, test_time_distributed = harness.family_tests(__name__, CASES)
