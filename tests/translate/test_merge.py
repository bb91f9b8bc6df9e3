"""Merge layers against TensorFlow, on feature maps (channels-first inside) and vectors."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.translate.helpers import check

L = keras.layers


def two_inputs(merge, shape, conv: bool) -> keras.Model:
    a, b = keras.Input(shape, name="a"), keras.Input(shape, name="b")
    x, y = a, b
    if conv:
        x = L.Conv2D(shape[-1], 1, name="ca")(a)
        y = L.Conv2D(shape[-1], 1, name="cb")(b)
    return keras.Model([a, b], merge([x, y]), name="merge")


@pytest.mark.parametrize(
    "merge",
    [
        lambda: L.Add(),
        lambda: L.Subtract(),
        lambda: L.Multiply(),
        lambda: L.Average(),
        lambda: L.Maximum(),
        lambda: L.Minimum(),
        lambda: L.Concatenate(),
        lambda: L.Concatenate(axis=1),
    ],
)
@pytest.mark.parametrize("conv", [True, False])
def test_merges_match_tensorflow(merge, conv: bool, rng: np.random.Generator) -> None:
    check(two_inputs(merge(), (4, 5, 3), conv), rng)


@pytest.mark.parametrize("kwargs", [{"axes": 1}, {"axes": 1, "normalize": True}])
def test_dot_of_vectors(kwargs, rng: np.random.Generator) -> None:
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    check(keras.Model([a, b], L.Dot(**kwargs)([a, b])), rng)


@pytest.mark.parametrize("axes", [(2, 2), (1, 1), (2, 1)])
def test_dot_of_sequences(axes, rng: np.random.Generator) -> None:
    a, b = keras.Input((4, 4), name="a"), keras.Input((4, 4), name="b")
    check(keras.Model([a, b], L.Dot(axes=axes)([a, b])), rng)


def test_keras_ops_arithmetic_nodes(rng: np.random.Generator) -> None:
    inp = keras.Input((5, 5, 2), name="x")
    x = L.Conv2D(3, 1, name="c")(inp)
    y = (x + 3.0) * (1.0 / 6.0)
    model = keras.Model(inp, x - y)
    check(model, rng)
