"""Models that build a causal mask from the run-time sequence length (Whisper's decoder, GPT-style
self-attention): ``Range`` over the length, compared or ``Trilu``'d into a square mask."""

from __future__ import annotations

from typing import Any

WIDTH = 8


def causal_attention(mask: str = "arange") -> Any:
    """Self-attention over a free-length sequence whose mask comes from ``ops.arange`` comparisons
    (``mask="arange"``), ``ops.tril`` or ``ops.triu`` of ones (``"tril"``, ``"triu"``)."""
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="tests")
    class CausalSelfAttention(keras.layers.Layer):
        def __init__(self, mask: str = "arange", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.mask = mask

        def build(self, input_shape: Any) -> None:
            self.qk = self.add_weight(shape=(WIDTH, WIDTH), initializer="glorot_uniform", name="qk")

        def call(self, x: Any) -> Any:
            n = ops.shape(x)[1]
            if self.mask == "arange":
                rows = ops.expand_dims(ops.arange(n), 1)
                keep = ops.cast(ops.greater_equal(rows, ops.expand_dims(ops.arange(n), 0)), x.dtype)
            elif self.mask == "tril":
                keep = ops.tril(ops.ones((n, n), dtype=x.dtype))
            else:
                keep = 1.0 - ops.triu(ops.ones((n, n), dtype=x.dtype), k=1)
            scores = ops.matmul(ops.matmul(x, self.qk), ops.transpose(x, (0, 2, 1))) / WIDTH**0.5
            scores = scores + (1.0 - keep) * -1e9
            return ops.matmul(ops.softmax(scores, axis=-1), x)

        def get_config(self) -> dict[str, Any]:
            return {**super().get_config(), "mask": self.mask}

    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, WIDTH), name="frames")
    hidden = keras.layers.Dense(WIDTH, name="embed")(inputs)
    attended = CausalSelfAttention(mask, name="causal_attention")(hidden)
    outputs = keras.layers.Dense(4, name="head")(attended)
    return keras.Model(inputs, outputs, name=f"causal_{mask}")


def whisper_backbone() -> Any:
    """keras-hub's Whisper encoder-decoder, two layers deep and 16 wide (random weights)."""
    import keras_hub

    return keras_hub.models.WhisperBackbone(
        vocabulary_size=100,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        num_mels=8,
        max_encoder_sequence_length=32,
        max_decoder_sequence_length=16,
    )
