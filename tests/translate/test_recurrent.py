"""Recurrent entries (LSTM, GRU, SimpleRNN, Bidirectional, Masking) against TensorFlow.

Each case is a small Keras model with random weights (biases included, so that a misplaced gate
or bias shows); masked cases pad some sequences at the end and in the middle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.translate import harness

T, FEATURES, BATCH = 6, 3, 4


def _randomize(model: Any) -> Any:
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def _float_inputs() -> np.ndarray:
    x = np.random.default_rng(3).normal(size=(BATCH, T, FEATURES)).astype("float32")
    x[1, 4:] = 0.0  # padded at the end
    x[2, 2] = 0.0  # a masked step in the middle
    x[3, :] = 0.0  # all masked
    return x


def _tokens() -> np.ndarray:
    x = np.random.default_rng(4).integers(1, 20, size=(BATCH, T)).astype("int32")
    x[1, 3:] = 0
    x[2, 1] = 0
    return x


def _seq(layer_fn: Callable[[Any], Any], masking: str | None = None, tf_keras: bool = False) -> Callable:
    def build() -> tuple[Any, list[np.ndarray]]:
        import keras as k3

        k = k3
        if tf_keras:
            import tf_keras as k
        if masking == "embedding":
            inp = k.Input((T,), dtype="int32")
            x = k.layers.Embedding(20, FEATURES, mask_zero=True)(inp)
            data = _tokens()
        else:
            inp = k.Input((T, FEATURES))
            x = k.layers.Masking(0.0)(inp) if masking == "masking" else inp
            data = _float_inputs()
        out = layer_fn(k.layers)(x)
        return _randomize(k.Model(inp, out)), [data]

    return build


def _encoder_decoder() -> tuple[Any, list[np.ndarray]]:
    import keras

    enc_in, dec_in = keras.Input((T, FEATURES)), keras.Input((T, 2))
    _, h, c = keras.layers.LSTM(5, return_state=True)(enc_in)
    out = keras.layers.LSTM(5, return_sequences=True)(dec_in, initial_state=[h, c])
    rng = np.random.default_rng(5)
    data = [rng.normal(size=(BATCH, T, FEATURES)).astype("float32"), rng.normal(size=(BATCH, T, 2)).astype("float32")]
    return _randomize(keras.Model([enc_in, dec_in], out)), data


def _stateful() -> tuple[Any, list[np.ndarray]]:
    import keras

    inp = keras.Input((T, FEATURES), batch_size=BATCH)
    return keras.Model(inp, keras.layers.LSTM(5, stateful=True)(inp)), [_float_inputs()]


def _conv_lstm() -> tuple[Any, list[np.ndarray]]:
    import keras

    inp = keras.Input((T, FEATURES))
    x = keras.layers.Conv1D(4, 3, padding="same")(inp)
    out = keras.layers.GRU(5)(x)
    return _randomize(keras.Model(inp, out)), [_float_inputs()]


CASES: dict[str, Callable[[], tuple[Any, list[np.ndarray]]]] = {
    "lstm_sequences": _seq(lambda L: L.LSTM(5, return_sequences=True)),
    "lstm_last_state": _seq(lambda L: L.LSTM(5, return_state=True)),
    "lstm_backwards": _seq(lambda L: L.LSTM(5, return_sequences=True, go_backwards=True)),
    "lstm_activations": _seq(lambda L: L.LSTM(5, activation="relu", recurrent_activation="hard_sigmoid")),
    "lstm_no_bias_dropout": _seq(lambda L: L.LSTM(5, use_bias=False, dropout=0.2, recurrent_dropout=0.1)),
    "lstm_embedding_mask": _seq(lambda L: L.LSTM(5, return_sequences=True), "embedding"),
    "lstm_masking_last": _seq(lambda L: L.LSTM(5, return_state=True), "masking"),
    "lstm_masked_backwards": _seq(lambda L: L.LSTM(5, return_sequences=True, go_backwards=True), "masking"),
    "gru_reset_after": _seq(lambda L: L.GRU(5, return_sequences=True)),
    "gru_reset_before": _seq(lambda L: L.GRU(5, reset_after=False, return_state=True)),
    "gru_masked": _seq(lambda L: L.GRU(5, return_sequences=True), "embedding"),
    "gru_masked_reset_before": _seq(lambda L: L.GRU(5, reset_after=False), "masking"),
    "rnn_of_lstm_cell": _seq(lambda L: L.RNN(L.LSTMCell(5), return_sequences=True)),
    "rnn_tanh": _seq(lambda L: L.SimpleRNN(5, return_sequences=True)),
    "rnn_relu_state": _seq(lambda L: L.SimpleRNN(5, activation="relu", return_state=True)),
    "rnn_sigmoid_masked": _seq(lambda L: L.SimpleRNN(5, activation="sigmoid"), "masking"),
    "bi_lstm_concat": _seq(lambda L: L.Bidirectional(L.LSTM(5, return_sequences=True))),
    "bi_lstm_sum_last": _seq(lambda L: L.Bidirectional(L.LSTM(5), merge_mode="sum")),
    "bi_gru_mul": _seq(lambda L: L.Bidirectional(L.GRU(5, return_sequences=True), merge_mode="mul")),
    "bi_rnn_ave": _seq(lambda L: L.Bidirectional(L.SimpleRNN(5), merge_mode="ave")),
    "bi_lstm_none": _seq(lambda L: L.Bidirectional(L.LSTM(5, return_sequences=True), merge_mode=None)),
    "bi_lstm_state": _seq(lambda L: L.Bidirectional(L.LSTM(5, return_state=True))),
    "bi_lstm_masked_seq": _seq(lambda L: L.Bidirectional(L.LSTM(5, return_sequences=True)), "masking"),
    "bi_gru_masked_last": _seq(lambda L: L.Bidirectional(L.GRU(5)), "embedding"),
    "encoder_decoder": _encoder_decoder,
    "declined_stateful": _stateful,
    "conv_then_gru": _conv_lstm,
    "tf_keras_lstm_masked": _seq(lambda L: L.LSTM(5, return_sequences=True), "embedding", tf_keras=True),
    "tf_keras_gru_reset_before": _seq(lambda L: L.GRU(5, reset_after=False), None, tf_keras=True),
    "tf_keras_bi_lstm": _seq(lambda L: L.Bidirectional(L.LSTM(5, return_sequences=True)), "masking", tf_keras=True),
}


translated, test_recurrent = harness.family_tests(__name__, CASES)


def test_masked_recurrent_uses_the_loop_and_plain_lstm_the_torch_module(translated: dict[str, Any]) -> None:
    from pathlib import Path

    masked = (Path(translated["lstm_embedding_mask"]["folder"]) / "model.py").read_text()
    plain = (Path(translated["lstm_sequences"]["folder"]) / "model.py").read_text()
    assert "KerasLSTM(" in masked and "mask=" in masked
    assert "nn.LSTM(3, 5, batch_first=True)" in plain and "KerasLSTM" not in plain


def test_stateful_recurrent_declines_with_the_reason(translated: dict[str, Any]) -> None:
    error = translated["declined_stateful"]["tf"].get("error", "")
    assert "stateful=True" in error and "'lstm" in error
