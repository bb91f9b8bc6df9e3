"""Reshape, Flatten, Permute, RepeatVector against TensorFlow, in and out of channels-first maps."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.Reshape((6, 2)), (3, 4)),
        (lambda: L.Reshape((1, 1, 6)), (6,)),
        (lambda: L.Flatten(), (3, 4, 2)),
        (lambda: L.Permute((2, 1)), (3, 4)),
        (lambda: L.Permute((3, 1, 2)), (2, 3, 4)),
        (lambda: L.RepeatVector(3), (5,)),
    ],
)
def test_shape_layers_match_tensorflow(layer, shape, rng: np.random.Generator) -> None:
    check(one_layer(layer(), shape), rng)


@pytest.mark.parametrize("after", [lambda: L.Reshape((-1,)), lambda: L.Permute((3, 1, 2)), lambda: L.Flatten()])
def test_shape_layers_after_a_feature_map(after, rng: np.random.Generator) -> None:
    inp = keras.Input((4, 3, 2), name="x")
    check(keras.Model(inp, after()(L.Conv2D(5, 1, name="c")(inp))), rng)


def test_squeeze_excite_reshape_stays_channels_first(rng: np.random.Generator) -> None:
    inp = keras.Input((6, 6, 4), name="x")
    x = L.Conv2D(4, 1, name="c")(inp)
    se = L.GlobalAveragePooling2D(name="gap")(x)
    se = L.Reshape((1, 1, 4), name="se")(se)
    se = L.Conv2D(4, 1, activation="sigmoid", name="se_conv")(se)
    model = keras.Model(inp, L.Multiply(name="scale")([x, se]))
    result = check(model, rng)
    assert result.code.source.split("def forward")[1].count(".permute(") == 2  # in and out only
