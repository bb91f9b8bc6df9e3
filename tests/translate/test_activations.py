"""Activation layers and activation= arguments against TensorFlow (Keras 3 and tf_keras)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tf_keras

from tests.translate.helpers import check, one_layer

L = keras.layers
NAMES = [
    "relu",
    "relu6",
    "sigmoid",
    "tanh",
    "softmax",
    "elu",
    "selu",
    "softplus",
    "softsign",
    "swish",
    "gelu",
    "hard_sigmoid",
    "hard_swish",
    "mish",
    "exponential",
    "linear",
    "leaky_relu",
    "log_softmax",
]


@pytest.mark.parametrize("name", NAMES)
def test_activation_layer(name: str, rng: np.random.Generator) -> None:
    check(one_layer(L.Activation(name), (3, 4, 5)), rng, atol=2e-5)


@pytest.mark.parametrize(
    "layer",
    [
        lambda: L.ReLU(),
        lambda: L.ReLU(max_value=6.0),
        lambda: L.ReLU(max_value=2.0),
        lambda: L.ReLU(negative_slope=0.1),
        lambda: L.ReLU(negative_slope=0.1, threshold=0.5, max_value=3.0),
        lambda: L.LeakyReLU(negative_slope=0.2),
        lambda: L.ELU(alpha=0.5),
        lambda: L.Softmax(axis=1),
        lambda: L.PReLU(shared_axes=[1, 2]),
        lambda: L.PReLU(alpha_initializer="ones", shared_axes=[1, 2, 3]),
    ],
)
def test_advanced_activations(layer, rng: np.random.Generator) -> None:
    check(one_layer(layer(), (4, 5, 3)), rng)


def test_softmax_after_conv_uses_the_channel_axis(rng: np.random.Generator) -> None:
    inp = keras.Input((5, 5, 2), name="x")
    model = keras.Model(inp, L.Softmax(name="sm")(L.Conv2D(3, 1, name="c")(inp)))
    assert "nn.Softmax(dim=1)" in check(model, rng).code.source


@pytest.mark.parametrize("name", ["hard_sigmoid", "gelu", "relu"])
def test_tf_keras_activations(name: str, rng: np.random.Generator) -> None:
    layer = tf_keras.layers.Dense(4, activation=name)
    check(one_layer(layer, (6,), library=tf_keras), rng)


def test_softmax_after_flattening_a_feature_map(rng: np.random.Generator) -> None:
    inp = keras.Input((3, 3, 2), name="x")
    x = L.Flatten(name="flat")(L.Conv2D(2, 1, name="c")(inp))
    check(keras.Model(inp, L.Activation("softmax", name="sm")(x)), rng)
