"""Convolution entries against TensorFlow: padding (same with stride > 1 is uneven), dilation,
groups, depthwise multipliers, separable and transposed convolutions, 1D/2D/3D."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.Conv2D(4, 3, activation="relu"), (9, 9, 3)),
        (lambda: L.Conv2D(4, 3, strides=2, padding="same"), (9, 10, 3)),  # uneven: F.pad
        (lambda: L.Conv2D(4, (3, 5), strides=(2, 1), padding="same", use_bias=False), (8, 8, 3)),
        (lambda: L.Conv2D(4, 3, dilation_rate=2, padding="same"), (9, 9, 2)),
        (lambda: L.Conv2D(6, 3, groups=3, padding="same"), (7, 7, 6)),
        (lambda: L.Conv1D(5, 3, padding="causal", dilation_rate=2), (11, 3)),
        (lambda: L.Conv1D(5, 4, strides=2, padding="same"), (11, 3)),
        (lambda: L.Conv3D(3, 2, strides=2, padding="same"), (5, 6, 5, 2)),
        (lambda: L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2), (9, 9, 3)),
        (lambda: L.DepthwiseConv1D(3, padding="same"), (10, 4)),
        (lambda: L.SeparableConv2D(5, 3, strides=2, padding="same", depth_multiplier=2), (8, 9, 3)),
        (lambda: L.SeparableConv1D(5, 3, activation="tanh"), (10, 3)),
        (lambda: L.Conv2DTranspose(4, 3, strides=2, padding="same"), (5, 5, 3)),  # odd crop
        (lambda: L.Conv2DTranspose(4, 4, strides=2, padding="same"), (5, 5, 3)),  # even crop
        (lambda: L.Conv2DTranspose(4, 3, strides=2), (5, 5, 3)),
        (lambda: L.Conv1DTranspose(2, 2, strides=3, padding="same"), (5, 3)),  # kernel < stride
    ],
)
def test_convolutions_match_tensorflow(layer, shape, rng: np.random.Generator) -> None:
    result = check(one_layer(layer(), shape), rng, atol=2e-5)
    assert "nn.Conv" in result.code.source


def test_same_padding_with_stride_is_an_explicit_uneven_pad(rng: np.random.Generator) -> None:
    result = check(one_layer(L.Conv2D(4, 3, strides=2, padding="same", name="c"), (8, 8, 3)), rng)
    assert "F.pad(x, (0, 1, 0, 1))" in result.code.source
    assert "nn.Conv2d(3, 4, kernel_size=(3, 3), stride=(2, 2))" in result.code.source


def test_kernel_is_transposed_to_torch_layout(rng: np.random.Generator) -> None:
    model = one_layer(L.Conv2D(4, (3, 2), name="c"), (6, 6, 3))
    result = check(model, rng)
    kernel = model.get_layer("c").kernel.numpy()
    np.testing.assert_array_equal(result.code.weights["c.weight"], kernel.transpose(3, 2, 0, 1))
    assert result.code.weight_map["c.weight"].endswith("c/kernel")
