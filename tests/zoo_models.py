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


def recurrent(kind: str, return_sequences: bool) -> Any:
    """One recurrent layer (``lstm``, ``gru``, ``simple_rnn``) on a float sequence, then a Dense head."""
    keras = _keras()
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[kind]
    x = _sequence_input(keras)
    y = layer(UNITS, return_sequences=return_sequences, name=kind)(x)
    y = keras.layers.Dense(3, name="head")(y)
    return _randomize(keras.Model(x, y, name=f"{kind}_{'seq' if return_sequences else 'last'}"))


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


def embedding_rnn(mask_zero: bool, kind: str = "lstm") -> Any:
    """Token ids -> Embedding (optionally ``mask_zero``) -> recurrent layer -> Dense."""
    keras = _keras()
    tokens = keras.Input((STEPS,), dtype="int32", name="tokens")
    y = keras.layers.Embedding(VOCAB, FEATURES, mask_zero=mask_zero, name="embed")(tokens)
    layer = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[kind]
    y = layer(UNITS, name=kind)(y)
    y = keras.layers.Dense(3, name="head")(y)
    return _randomize(keras.Model(tokens, y, name=f"embedding_{kind}_{'masked' if mask_zero else 'plain'}"))


def masked_tokens(batch: int, seed: int = 0) -> np.ndarray:
    """Token ids with trailing and interior zeros (what ``mask_zero`` masks), at least one real token."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(1, VOCAB, size=(batch, STEPS)).astype(np.int32)
    for row in range(batch):
        tokens[row, rng.integers(1, STEPS + 1) :] = 0
        tokens[row, rng.integers(1, STEPS)] = 0
    return tokens
