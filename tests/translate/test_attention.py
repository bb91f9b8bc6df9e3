"""MultiHeadAttention, Attention and AdditiveAttention against TensorFlow: projections, masks
(Keras masks of the inputs, attention_mask, causal), returned scores, score modes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.translate import harness

N, TQ, TV = 3, 5, 6


def _floats(*shape: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _two(body: Callable[[Any, Any, Any], Any], dq: int = 8, dv: int = 8, tf_keras: bool = False) -> Callable:
    """A model on a query (N, TQ, dq) and a value (N, TV, dv)."""

    def build() -> tuple[Any, list[np.ndarray]]:
        import keras

        k = keras
        if tf_keras:
            import tf_keras as k
        q, v = k.Input((TQ, dq)), k.Input((TV, dv))
        model = harness.randomize(k.Model([q, v], body(k.layers, q, v)), std=0.3)
        return model, [_floats(N, TQ, dq, seed=1), _floats(N, TV, dv, seed=2)]

    return build


def _self(body: Callable[[Any, Any], Any], masked: bool = False) -> Callable:
    """Self-attention on (N, TQ, 8); ``masked``: tokens through Embedding(mask_zero=True)."""

    def build() -> tuple[Any, list[np.ndarray]]:
        import keras

        if masked:
            inp = keras.Input((TQ,), dtype="int32")
            x = keras.layers.Embedding(20, 8, mask_zero=True)(inp)
            data = np.random.default_rng(3).integers(1, 20, size=(N, TQ)).astype("int32")
            data[0, 3:] = 0
            data[1, 1] = 0
        else:
            inp = keras.Input((TQ, 8))
            x, data = inp, _floats(N, TQ, 8, seed=4)
        return harness.randomize(keras.Model(inp, body(keras.layers, x)), std=0.3), [data]

    return build


def _attention_mask(tf_keras: bool = False) -> Callable:
    def build() -> tuple[Any, list[np.ndarray]]:
        import keras

        k = keras
        if tf_keras:
            import tf_keras as k
        q, m = k.Input((TQ, 8)), k.Input((TQ, TQ), dtype="bool")
        out = k.layers.MultiHeadAttention(2, 4)(q, q, attention_mask=m)
        mask = np.random.default_rng(5).random((N, TQ, TQ)) > 0.3
        mask[:, :, 0] = True
        mask[0, 2, :] = False  # a query that may attend nowhere
        return harness.randomize(k.Model([q, m], out), std=0.3), [_floats(N, TQ, 8, seed=6), mask]

    return build


def _cross_with_key() -> tuple[Any, list[np.ndarray]]:
    import keras

    q, v, k = keras.Input((TQ, 8)), keras.Input((TV, 6)), keras.Input((TV, 7))
    out = keras.layers.MultiHeadAttention(3, 4, value_dim=5, output_shape=9)(q, v, key=k)
    data = [_floats(N, TQ, 8, seed=7), _floats(N, TV, 6, seed=8), _floats(N, TV, 7, seed=9)]
    return harness.randomize(keras.Model([q, v, k], out), std=0.3), data


def _image_attention() -> tuple[Any, list[np.ndarray]]:
    import keras

    inp = keras.Input((4, 4, 8))
    out = keras.layers.MultiHeadAttention(2, 4, attention_axes=(1, 2))(inp, inp)
    return keras.Model(inp, out), [_floats(N, 4, 4, 8)]


def _text_model() -> tuple[Any, list[np.ndarray]]:
    """Embedding(mask_zero) -> Bidirectional LSTM -> self-attention with a residual -> LayerNorm -> GRU."""
    import keras

    inp = keras.Input((TQ,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(inp)
    x = keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True))(x)
    a = keras.layers.MultiHeadAttention(2, 4)(x, x)
    x = keras.layers.LayerNormalization()(a + x)
    out = keras.layers.Dense(2)(keras.layers.GRU(4)(x))
    data = np.random.default_rng(3).integers(1, 20, size=(N, TQ)).astype("int32")
    data[0, 3:] = 0
    data[1, 1] = 0
    return harness.randomize(keras.Model(inp, out), std=0.3), [data]


CASES = {
    "mha_self": _self(lambda L, x: L.MultiHeadAttention(2, 4)(x, x)),
    "mha_cross_key": _cross_with_key,
    "mha_cross_shapes": _two(lambda L, q, v: L.MultiHeadAttention(2, 3, output_shape=4)(q, v), dv=6),
    "mha_causal": _self(lambda L, x: L.MultiHeadAttention(2, 4)(x, x, use_causal_mask=True)),
    "mha_scores": _self(lambda L, x: L.MultiHeadAttention(2, 4)(x, x, return_attention_scores=True)),
    "mha_attention_mask": _attention_mask(),
    "mha_tf_keras_attention_mask": _attention_mask(tf_keras=True),
    "mha_embedding_mask": _self(lambda L, x: L.MultiHeadAttention(2, 4)(x, x), masked=True),
    "mha_dropout_no_bias": _self(lambda L, x: L.MultiHeadAttention(2, 4, dropout=0.1, use_bias=False)(x, x)),
    "mha_tf_keras": _two(lambda L, q, v: L.MultiHeadAttention(2, 4)(q, v), tf_keras=True),
    "attention_dot": _two(lambda L, q, v: L.Attention()([q, v])),
    "attention_scaled_key": _two(lambda L, q, v: L.Attention(use_scale=True)([q, v, v])),
    "attention_concat": _two(lambda L, q, v: L.Attention(score_mode="concat", use_scale=True)([q, v])),
    "attention_causal_scores": _self(
        lambda L, x: L.Attention(dropout=0.1)([x, x], use_causal_mask=True, return_attention_scores=True)
    ),
    "attention_masked": _self(lambda L, x: L.Attention()([x, x]), masked=True),
    "additive": _two(lambda L, q, v: L.AdditiveAttention()([q, v])),
    "additive_no_scale_masked": _self(lambda L, x: L.AdditiveAttention(use_scale=False)([x, x]), masked=True),
    "text_model": _text_model,
    "declined_axes": _image_attention,
    "attention_tf_keras": _two(lambda L, q, v: L.Attention(use_scale=True)([q, v]), tf_keras=True),
}


translated, test_attention = harness.family_tests(__name__, CASES)


def test_attention_over_several_axes_declines_with_the_reason(translated: dict[str, Any]) -> None:
    error = translated["declined_axes"]["tf"].get("error", "")
    assert "attention_axes" in error
