"""A VAE Sampling layer (keras.random.normal at inference) is refused with the layer named; Dropout is not."""

from __future__ import annotations

from pathlib import Path

import pipeline
from pipeline.errors import UnsupportedError


def _vae_encoder(with_sampling: bool) -> object:
    import keras

    class Sampling(keras.layers.Layer):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(1337)

        def call(self, inputs: object) -> object:
            mean, log_var = inputs
            noise = keras.random.normal(keras.ops.shape(mean), seed=self.seed_generator)
            return mean + keras.ops.exp(0.5 * log_var) * noise

    inputs = keras.Input((6,))
    hidden = keras.layers.Dropout(0.2)(keras.layers.Dense(8, activation="relu")(inputs))
    mean = keras.layers.Dense(2, name="z_mean")(hidden)
    log_var = keras.layers.Dense(2, name="z_log_var")(hidden)
    outputs = Sampling(name="sampling")([mean, log_var]) if with_sampling else [mean, log_var]
    return keras.Model(inputs, outputs)


def test_sampling_layer_is_refused_by_name(tmp_path: Path) -> None:
    try:
        error = pipeline.convert(_vae_encoder(True), tmp_path / "out").report["error"]
        message, hint, kind = error["message"], error["hint"], error["kind"]
    except UnsupportedError as exc:
        message, hint, kind = exc.message, exc.hint, exc.kind
    assert kind == "user" and "'sampling'" in message and "random" in message and "dropout" not in message
    assert hint and "z_mean" in hint
