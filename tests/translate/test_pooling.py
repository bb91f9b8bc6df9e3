"""Pooling and global pooling against TensorFlow, with TensorFlow's uneven 'same' padding."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.MaxPooling2D(2), (8, 9, 3)),
        (lambda: L.MaxPooling2D(3, strides=2, padding="same"), (8, 8, 3)),  # uneven: -inf pad
        (lambda: L.MaxPooling2D(3, strides=1, padding="same"), (6, 6, 2)),
        (lambda: L.AveragePooling2D(3, strides=1, padding="same"), (6, 6, 2)),  # even: not counted
        (lambda: L.AveragePooling2D(3, strides=2, padding="same"), (8, 8, 2)),  # uneven: avg_pool_same
        (lambda: L.AveragePooling2D(2), (8, 8, 2)),
        (lambda: L.MaxPooling1D(2, padding="same"), (7, 3)),
        (lambda: L.AveragePooling1D(3, strides=2, padding="same"), (8, 3)),
        (lambda: L.MaxPooling3D(2), (4, 4, 4, 2)),
        (lambda: L.AveragePooling3D(2, padding="same"), (5, 4, 4, 2)),
        (lambda: L.GlobalAveragePooling2D(), (5, 5, 3)),
        (lambda: L.GlobalMaxPooling2D(keepdims=True), (5, 5, 3)),
        (lambda: L.GlobalAveragePooling1D(), (6, 3)),
        (lambda: L.GlobalMaxPooling3D(), (3, 3, 3, 2)),
    ],
)
def test_pooling_matches_tensorflow(layer, shape, rng: np.random.Generator) -> None:
    check(one_layer(layer(), shape), rng)


def test_global_pooling_after_conv_reduces_spatial_axes(rng: np.random.Generator) -> None:
    inp = keras.Input((6, 6, 2), name="x")
    model = keras.Model(inp, L.GlobalAveragePooling2D(name="gap")(L.Conv2D(3, 3, name="c")(inp)))
    assert ".mean(dim=(2, 3))" in check(model, rng).code.source
