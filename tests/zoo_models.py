"""Small Keras models for the layer, recurrent and custom-layer tests (tiny sizes, seeded weights).

Each builder returns a Keras model with random non-trivial weights; sources like
``tests.zoo_models:lstm_stack`` also work from the CLI.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.models import _randomize

STEPS, FEATURES, UNITS, VOCAB = 6, 4, 5, 20


def _keras() -> Any:
    import keras

    keras.utils.set_random_seed(7)
    return keras


# --------------------------------------------------------------------------- recurrent


def _sequence_input(keras: Any) -> Any:
    return keras.Input((STEPS, FEATURES), name="x")


RECURRENT = ("lstm", "gru", "simple_rnn")


def _layer(keras: Any, kind: str) -> Any:
    return {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[kind]


def recurrent_layers() -> Any:
    """LSTM, GRU and SimpleRNN on one float sequence, each with return_sequences True and False.

    Six outputs named ``<layer>_seq`` / ``<layer>_last``, so a failure names the layer.
    """
    keras = _keras()
    x = _sequence_input(keras)
    outputs = []
    for kind in RECURRENT:
        for sequences in (True, False):
            name = f"{kind}_{'seq' if sequences else 'last'}"
            outputs.append(_layer(keras, kind)(UNITS, return_sequences=sequences, name=name)(x))
    return _randomize(keras.Model(x, outputs, name="recurrent_layers"))


def bidirectional() -> Any:
    """Bidirectional LSTM (concat) returning sequences, then a Bidirectional GRU (sum) returning its last state."""
    keras = _keras()
    x = _sequence_input(keras)
    y = keras.layers.Bidirectional(keras.layers.LSTM(UNITS, return_sequences=True), name="bi_lstm")(x)
    y = keras.layers.Bidirectional(keras.layers.GRU(UNITS), merge_mode="sum", name="bi_gru")(y)
    return _randomize(keras.Model(x, y, name="bidirectional"))


def stacked() -> Any:
    """LSTM -> GRU -> SimpleRNN, each feeding its sequence to the next."""
    keras = _keras()
    x = _sequence_input(keras)
    y = keras.layers.LSTM(UNITS, return_sequences=True, name="lstm")(x)
    y = keras.layers.GRU(UNITS, return_sequences=True, name="gru")(y)
    y = keras.layers.SimpleRNN(UNITS, name="simple_rnn")(y)
    return _randomize(keras.Model(x, y, name="stacked"))


def embedding_recurrent(mask_zero: bool) -> Any:
    """Token ids -> Embedding (``mask_zero`` or not) -> LSTM, GRU and SimpleRNN, one output each."""
    keras = _keras()
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    embedded = keras.layers.Embedding(VOCAB, FEATURES, mask_zero=mask_zero, name="embed")(tokens)
    outputs = [_layer(keras, kind)(UNITS, name=kind)(embedded) for kind in RECURRENT]
    return _randomize(keras.Model(tokens, outputs, name=f"embedding_{'masked' if mask_zero else 'plain'}"))


def masked_tokens(batch: int, seed: int = 0) -> np.ndarray:
    """Token ids with trailing and interior zeros (what ``mask_zero`` masks), at least one real token."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, VOCAB, size=(batch, STEPS)).astype(np.int32)
    for row in range(batch):
        tokens[row, rng.integers(1, STEPS + 1) :] = 0
        tokens[row, rng.integers(1, STEPS)] = 0
    return tokens


# --------------------------------------------------------------------------- custom layers (seed articles)


def custom_layers() -> Any:
    """Three custom layers from the seed articles, each feeding its own output.

    ``SpatialNormalization`` divides by the Euclidean norm over axes 1-3 (the article writes
    ``tf.norm(x, axis=[1, 2, 3], keepdims=True)``, which TensorFlow refuses: ``tf.norm`` takes at
    most two axes; ``tf.math.reduce_euclidean_norm`` computes what it means), ``AddVector`` adds
    a learned vector made with ``add_weight``, ``Sine`` applies ``tf.math.sin``.
    """
    import tensorflow as tf

    keras = _keras()

    class SpatialNormalization(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return x / tf.math.reduce_euclidean_norm(x, axis=[1, 2, 3], keepdims=True)

    class AddVector(keras.layers.Layer):
        def __init__(self, units: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.w = self.add_weight(shape=(units,), initializer="random_normal", name="w")

        def call(self, x: Any) -> Any:
            return x + self.w

    class Sine(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return tf.math.sin(x)

    image = keras.Input((6, 6, 3), name="image")
    features = keras.Input((4,), name="features")
    normalized = SpatialNormalization(name="spatial_norm")(keras.layers.Conv2D(4, 3, name="conv")(image))
    shifted = AddVector(4, name="add_vector")(features)
    sine = Sine(name="sine")(keras.layers.Dense(4, name="dense")(features))
    return _randomize(keras.Model([image, features], [normalized, shifted, sine], name="custom_layers"))


def conditional() -> Any:
    """A branch chosen by ``tf.cond`` on an input: 3x3 conv when ``flag[0, 0] > 0``, else 5x5 conv.

    As in the seed article, but both branches pad "same" so their outputs have one shape.
    """
    import tensorflow as tf

    keras = _keras()

    class ConditionalConv(keras.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.conv3 = keras.layers.Conv2D(4, 3, padding="same", name="conv3")
            self.conv5 = keras.layers.Conv2D(4, 5, padding="same", name="conv5")

        def build(self, input_shape: Any) -> None:
            self.conv3.build(input_shape[0])
            self.conv5.build(input_shape[0])

        def call(self, inputs: Any) -> Any:
            x, flag = inputs
            return tf.cond(flag[0, 0] > 0, lambda: self.conv3(x), lambda: tf.nn.relu(self.conv5(x)))

    image = keras.Input((8, 8, 3), name="image")
    flag = keras.Input((1,), name="flag")
    y = ConditionalConv(name="cond_conv")([image, flag])
    return _randomize(keras.Model([image, flag], y, name="conditional"))


# --------------------------------------------------------------------------- layers


def conv_layers() -> Any:
    """SeparableConv2D, DepthwiseConv2D, Conv2DTranspose (same, stride 2), Layer- and GroupNormalization.

    One output per layer, so a failure names the layer.
    """
    keras = _keras()
    x = keras.Input((8, 8, 6), name="image")
    separable = keras.layers.SeparableConv2D(8, 3, padding="same", name="separable")(x)
    depthwise = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same", name="depthwise")(x)
    transposed = keras.layers.Conv2DTranspose(5, 3, strides=2, padding="same", name="transposed")(x)
    layer_norm = keras.layers.LayerNormalization(name="layer_norm")(separable)
    group_norm = keras.layers.GroupNormalization(groups=4, name="group_norm")(depthwise)
    return _randomize(keras.Model(x, [separable, depthwise, transposed, layer_norm, group_norm], name="conv_layers"))


def image_ops() -> Any:
    """GELU (exact and tanh), ``tf.nn.depth_to_space``, ``tf.image.resize`` bilinear and nearest."""
    import tensorflow as tf

    keras = _keras()

    class DepthToSpace(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return tf.nn.depth_to_space(x, 2)

    class Resize(keras.layers.Layer):
        def __init__(self, size: tuple[int, int], method: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.size, self.method = size, method

        def call(self, x: Any) -> Any:
            return tf.image.resize(x, self.size, method=self.method)

    x = keras.Input((6, 6, 8), name="image")
    conv = keras.layers.Conv2D(8, 3, padding="same", name="conv")(x)
    gelu = keras.layers.Activation("gelu", name="gelu")(conv)
    gelu_tanh = keras.layers.Lambda(lambda t: keras.activations.gelu(t, approximate=True), name="gelu_tanh")(conv)
    d2s = DepthToSpace(name="depth_to_space")(conv)
    bilinear = Resize((9, 11), "bilinear", name="resize_bilinear")(x)
    nearest = Resize((12, 9), "nearest", name="resize_nearest")(x)
    return _randomize(keras.Model(x, [gelu, gelu_tanh, d2s, bilinear, nearest], name="image_ops"))


def sequence_layers() -> Any:
    """Embedding -> causal Conv1D -> MultiHeadAttention with a causal mask -> LayerNormalization -> GELU Dense."""
    keras = _keras()
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    embedded = keras.layers.Embedding(VOCAB, 8, name="embed")(tokens)
    conv = keras.layers.Conv1D(8, 3, padding="causal", name="causal_conv")(embedded)
    attention = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="attention")(
        conv, conv, use_causal_mask=True
    )
    normed = keras.layers.LayerNormalization(name="layer_norm")(conv + attention)
    out = keras.layers.Dense(6, activation="gelu", name="dense_gelu")(normed)
    return _randomize(keras.Model(tokens, [embedded, conv, attention, out], name="sequence_layers"))
