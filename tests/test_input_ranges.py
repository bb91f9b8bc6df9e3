"""Integer inputs: vocabulary found inside composite layers; inputs a model rejects are the user's error."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.context import TensorSpec
from pipeline.errors import InputSpecError
from pipeline.stages.id_ranges import integer_range
from pipeline.stages.input_fit import misfit


def _hub_like_model() -> object:
    """Token ids feed a composite layer holding the Embedding (as keras-hub's TokenAndPositionEmbedding)."""
    import keras

    class Tokens(keras.layers.Layer):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)
            self.table = keras.layers.Embedding(37, 4, name="token_table")

        def call(self, ids: object) -> object:
            return self.table(ids)

    ids = keras.Input((5,), dtype="int32", name="token_ids")
    mask = keras.Input((5,), dtype="int32", name="padding_mask")
    out = Tokens(name="tokens")(ids) * keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1)
    return keras.Model([ids, mask], out)


def test_vocabulary_inside_a_composite_layer_and_mask_inputs() -> None:
    model = _hub_like_model()
    tokens = next(layer for layer in model.layers if layer.name == "tokens")
    low, high, reason = integer_range("token_ids", [tokens], model) or (None, None, "")
    assert (low, high) == (0.0, 37.0) and "token_table" in reason and "inside 'tokens'" in reason
    assert integer_range("padding_mask", [], model)[:2] == (0.0, 2.0)
    # no consumer known: the model's only Embedding still bounds the ids
    assert integer_range("ids", [], model)[:2] == (0.0, 37.0)


def test_sequence_past_a_position_table_names_the_input_and_layer() -> None:
    import keras
    import tensorflow as tf

    ids = keras.Input((None,), dtype="int32", name="token_ids")
    positions = keras.layers.Embedding(6, 2, name="position_table")
    out = keras.layers.Lambda(lambda t: positions(tf.range(tf.shape(t)[1])), name="positions")(ids)
    model = keras.Model(ids, out)
    spec = TensorSpec(name="token_ids", shape=(None, 9), dtype="int32", low=0, high=5, batch_axis=0)
    function = tf.function(lambda x: model(x))
    with pytest.raises(tf.errors.InvalidArgumentError) as raised:
        function(np.zeros((1, 9), np.int32))
    error = misfit(raised.value, [spec], [layer.name for layer in model.layers])
    assert isinstance(error, InputSpecError) and error.exit_code == 2
    assert "'token_ids' [None, 9]" in error.message and "do not fit" in error.message
    assert error.hint and "shape" in error.hint
