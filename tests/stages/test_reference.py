"""The TensorFlow reference: outputs and logits from one compiled pass equal the two-pass results."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.config import ConversionConfig
from pipeline.inputs import make_input_sets, resolve_specs
from pipeline.sources import Source, SourceKind
from pipeline.stages.load import load_model
from pipeline.stages.reference import tf_outputs


def _sets(loaded, config):
    return make_input_sets(resolve_specs(loaded.inputs, config), config)


def test_one_pass_gives_the_outputs_and_logits_of_two_passes() -> None:
    from tests import models

    config = ConversionConfig()
    loaded = load_model(Source(SourceKind.OBJECT, "0"), config, models.two_io())
    assert loaded.with_logits_function is not None
    sets = _sets(loaded, config)
    one = tf_outputs(loaded, sets, config)
    two = tf_outputs(replace(loaded, with_logits_function=None), sets, config)
    assert sorted(one) == sorted(two) and any(k.endswith("probs:logits") for k in one)
    for key, value in two.items():
        np.testing.assert_allclose(one[key], value, rtol=1e-6, atol=1e-7, err_msg=key)
    random = one["random/probs:logits"]
    np.testing.assert_allclose(one["random/probs"], np.exp(random) / np.exp(random).sum(-1, keepdims=True), 1e-5)


def test_a_softmax_head_that_feeds_another_layer_keeps_two_passes() -> None:
    import keras

    x = keras.Input((4,), name="x")
    probs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    score = keras.layers.Dense(1, name="score")(probs)  # downstream of the head: a linear head would change it
    model = keras.Model(x, [probs, score], name="fed_head")
    config = ConversionConfig()
    loaded = load_model(Source(SourceKind.OBJECT, "0"), config, model)
    assert loaded.logits_function is not None and loaded.with_logits_function is None
    sets = _sets(loaded, config)
    out = tf_outputs(loaded, sets, config)
    direct = model(sets["random"]["x"], training=False)
    np.testing.assert_allclose(out["random/score"], np.asarray(direct[1]), rtol=1e-6)
