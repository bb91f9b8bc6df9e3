"""ZeroPadding, Cropping and UpSampling against TensorFlow."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.ZeroPadding2D(((1, 2), (0, 3))), (4, 4, 2)),
        (lambda: L.ZeroPadding2D(1), (4, 4, 2)),
        (lambda: L.ZeroPadding1D((2, 1)), (5, 3)),
        (lambda: L.ZeroPadding3D(1), (2, 3, 3, 2)),
        (lambda: L.Cropping2D(((1, 0), (2, 1))), (6, 6, 2)),
        (lambda: L.Cropping1D((1, 2)), (6, 2)),
        (lambda: L.Cropping3D(1), (4, 4, 4, 2)),
        (lambda: L.UpSampling2D(2), (3, 4, 2)),
        (lambda: L.UpSampling2D((2, 3), interpolation="bilinear"), (3, 4, 2)),
        (lambda: L.UpSampling1D(3), (4, 2)),
        (lambda: L.UpSampling3D(2), (2, 2, 2, 2)),
    ],
)
def test_padding_cropping_upsampling_match_tensorflow(layer, shape, rng: np.random.Generator) -> None:
    check(one_layer(layer(), shape), rng)


@pytest.mark.parametrize(("pad", "symmetric"), [(3, True), (((1, 2), (1, 1)), False)])
def test_zero_padding_folds_into_the_next_convolution(pad, symmetric: bool, rng: np.random.Generator) -> None:
    inp = keras.Input((9, 9, 3), name="x")
    x = L.ZeroPadding2D(pad, name="pad")(inp)
    model = keras.Model(inp, L.Conv2D(4, 7, strides=2, name="conv")(x))
    source = check(model, rng).code.source
    assert ("padding=(3, 3)" in source) is symmetric
    assert ("F.pad(" in source) is not symmetric


@pytest.mark.parametrize("activation", ["relu", None])
def test_zero_padding_folds_into_max_pooling_only_after_a_relu(activation, rng: np.random.Generator) -> None:
    """Max pooling pads with -inf, ZeroPadding with zeros: the same maxima only over values >= 0."""
    inp = keras.Input((8, 8, 3), name="x")
    x = L.Conv2D(4, 3, name="conv")(inp)
    if activation:
        x = L.Activation(activation, name="relu")(x)
    x = L.ZeroPadding2D(1, name="pool_pad")(x)
    model = keras.Model(inp, L.MaxPooling2D(3, strides=2, name="pool")(x))
    source = check(model, rng).code.source
    assert ("nn.MaxPool2d(kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))" in source) is bool(activation)
    assert ("F.pad(" in source) is not bool(activation)
