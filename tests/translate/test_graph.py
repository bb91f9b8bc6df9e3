"""Graph walks against TensorFlow: several inputs and outputs, dict outputs, shared layers,
nested models (functional and Sequential), tf_keras models, and the channels_first layout."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tf_keras

from tests.translate.helpers import check

L = keras.layers


def test_multi_input_multi_output(rng: np.random.Generator) -> None:
    image = keras.Input((8, 8, 3), name="image")
    extra = keras.Input((4,), name="extra")
    x = L.Conv2D(4, 3, activation="relu", name="conv")(image)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    h = L.Concatenate(name="cat")([x, extra])
    probs = L.Dense(3, activation="softmax", name="probs")(h)
    score = L.Dense(1, name="score")(h)
    result = check(keras.Model([image, extra], [probs, score], name="two_heads"), rng)
    assert "def forward(self, image, extra):" in result.code.source
    assert result.code.source.rstrip().count("return") >= 1


def test_dict_outputs(rng: np.random.Generator) -> None:
    inp = keras.Input((5,), name="x")
    h = L.Dense(4, name="h")(inp)
    model = keras.Model(inp, {"a": L.Dense(2, name="a")(h), "b": L.Dense(3, name="b")(h)})
    result = check(model, rng)
    assert result.code.output_keys is not None and set(result.code.output_keys) == {"a", "b"}


def test_shared_layer_is_one_attribute(rng: np.random.Generator) -> None:
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    shared = L.Dense(4, activation="relu", name="shared")
    model = keras.Model([a, b], L.Add(name="sum")([shared(a), shared(b)]))
    result = check(model, rng)
    assert result.code.source.count("self.shared = nn.Linear(6, 4)") == 1
    assert result.code.source.count("self.shared(") == 2


def test_nested_models_are_inlined(rng: np.random.Generator) -> None:
    block = keras.Sequential(
        [
            keras.Input((6, 6, 4)),
            L.Conv2D(4, 3, padding="same", name="inner_conv"),
            L.BatchNormalization(name="inner_bn"),
        ],
        name="block",
    )
    inner_in = keras.Input((6, 6, 4))
    inner = keras.Model(inner_in, L.ReLU(name="inner_relu")(block(inner_in)), name="inner")
    inp = keras.Input((6, 6, 3), name="x")
    x = L.Conv2D(4, 1, name="stem")(inp)
    x = inner(x)
    x = inner(x)  # a nested model called twice shares its layers
    model = keras.Model(inp, L.GlobalMaxPooling2D(name="pool")(x), name="outer")
    result = check(model, rng)
    assert result.code.source.count("self.inner_conv = ") == 1
    assert result.code.source.count("self.inner_conv(") == 2


def test_tf_keras_seed_cnn(rng: np.random.Generator) -> None:
    from pipeline.examples import seed_cnn

    result = check(seed_cnn(tf_keras), rng)
    assert result.code.weight_map["conv1.weight"] == "conv1/kernel"


@pytest.mark.parametrize("library", [keras, tf_keras])
def test_channels_first_layout_takes_and_returns_nchw(library, rng: np.random.Generator) -> None:
    inp = library.Input((8, 8, 3), name="image")
    x = library.layers.Conv2D(4, 3, padding="same", name="conv")(inp)
    model = library.Model(inp, library.layers.UpSampling2D(name="up")(x), name="fcn")
    model_nchw = check(model, rng, layout="channels_first")
    forward = model_nchw.code.source.split("def forward")[1]
    assert ".permute(" not in forward
