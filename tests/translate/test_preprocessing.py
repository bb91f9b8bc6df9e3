"""Rescaling, Normalization, Resizing and keras.applications' own layers against TensorFlow."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.Rescaling(1 / 255.0, offset=-0.5), (4, 4, 3)),
        (lambda: L.Normalization(mean=[0.1, 0.2, 0.3], variance=[1.0, 4.0, 0.25]), (4, 4, 3)),
        (lambda: L.Resizing(6, 5), (3, 4, 2)),
        (lambda: L.Resizing(2, 3, interpolation="nearest"), (4, 6, 2)),
    ],
)
def test_preprocessing_matches_tensorflow(layer, shape, rng: np.random.Generator) -> None:
    check(one_layer(layer(), shape), rng, randomize=False)


def test_adapted_normalization_statistics_are_buffers(rng: np.random.Generator) -> None:
    norm = L.Normalization(name="norm")
    norm.adapt(rng.normal(2.0, 3.0, (50, 4, 4, 3)).astype("float32"))
    result = check(one_layer(norm, (4, 4, 3)), rng, randomize=False)
    assert {"norm.mean", "norm.variance"} <= result.code.buffers
    assert not list(result.module.parameters())
