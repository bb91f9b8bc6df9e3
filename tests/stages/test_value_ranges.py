"""Input ranges from preprocessing behind other layers, float ids into a custom layer's Embedding, pad values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pipeline.sources import Source, SourceKind
from pipeline.stages.value_ranges import pad_value, reached_layers, value_range

SOURCE = Source(SourceKind.OBJECT, "0")


def _range(model: Any, name: str, dtype: str = "float32") -> tuple[float, float, str]:
    return value_range(name, dtype, [], SOURCE, model)


@pytest.fixture(scope="module")
def keras() -> Any:
    import keras

    return keras


def test_rescaling_after_resizing_still_means_raw_pixels(keras: Any) -> None:
    image = keras.Input((32, 32, 3), name="image")
    x = keras.layers.Resizing(16, 16, name="resize")(image)
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(x)
    model = keras.Model(image, keras.layers.Conv2D(2, 3, name="conv")(x))
    low, high, reason = _range(model, "image")
    assert (low, high) == (0.0, 255.0) and "'rescale' after 'resize'" in reason
    assert [layer.name for layer, _ in reached_layers(model, "image")] == ["rescale"]
    # the tutorials' augmentation block, a nested Sequential, in front of Rescaling
    augment = keras.Sequential([keras.layers.RandomFlip(), keras.layers.RandomRotation(0.1)], name="augment")
    tutorial = keras.Model(image, keras.layers.Rescaling(1 / 255.0, name="rescale")(augment(image)))
    assert _range(tutorial, "image")[:2] == (0.0, 255.0)


def test_normalization_after_a_reshape_gives_its_spread(keras: Any) -> None:
    features = keras.Input((12,), name="features")
    norm = keras.layers.Normalization(axis=-1, name="norm")
    norm.adapt(np.random.default_rng(0).normal(50.0, 10.0, size=(256, 4)).astype("float32"))
    x = norm(keras.layers.Reshape((3, 4), name="rows")(features))
    model = keras.Model(features, keras.layers.Dense(1, name="head")(x))
    low, high, reason = _range(model, "features")
    assert 25.0 < low < 35.0 and 65.0 < high < 75.0 and "'norm' after 'rows'" in reason
    # a layer that changes values stops the walk: its input is not the Normalization's
    dense_first = keras.Model(features, norm(keras.layers.Reshape((3, 4))(keras.layers.Dense(12)(features))))
    assert _range(dense_first, "features")[:2] == (-1.0, 1.0)


class _Tokens:
    """A custom layer holding its Embedding (keras-hub's TokenAndPositionEmbedding in small)."""

    @staticmethod
    def build(keras: Any, vocabulary: int, mask_zero: bool = False) -> Any:
        class Tokens(keras.layers.Layer):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.table = keras.layers.Embedding(vocabulary, 4, mask_zero=mask_zero, name="table")

            def call(self, ids: Any) -> Any:
                return self.table(ids)

        return Tokens(name="tokens")


def test_float_ids_into_a_custom_layers_embedding_use_its_vocabulary(keras: Any) -> None:
    ids = keras.Input((5,), name="ids")  # float32, as Keras' default Input is
    model = keras.Model(ids, _Tokens.build(keras, 23)(ids))
    low, high, reason = _range(model, "ids")
    assert (low, high) == (0.0, 23.0) and "'table' inside 'tokens'" in reason
    ints = keras.Input((5,), dtype="int32", name="ints")
    plain = keras.Model(ints, keras.layers.Dense(2)(keras.ops.cast(ints, "float32")))
    assert _range(plain, "ints", "int32") == (0.0, 10.0, "guessed: default for integer inputs")


def test_pad_values_of_masking_and_mask_zero_layers(keras: Any) -> None:
    frames = keras.Input((6, 3), name="frames")
    masked = keras.Model(frames, keras.layers.LSTM(2)(keras.layers.Masking(-1.0, name="mask")(frames)))
    assert pad_value(masked, "frames") == -1.0
    ids = keras.Input((6,), dtype="int32", name="ids")
    assert pad_value(keras.Model(ids, _Tokens.build(keras, 9, mask_zero=True)(ids)), "ids") == 0.0
    assert pad_value(keras.Model(ids, _Tokens.build(keras, 9)(ids)), "ids") is None


@pytest.mark.slow
def test_a_conversion_feeds_raw_pixels_to_rescaling_behind_resizing(keras: Any, tmp_path: Any) -> None:
    import pipeline
    from tests.checks import assert_converted

    image = keras.Input((24, 24, 3), name="image")
    x = keras.layers.Rescaling(1 / 255.0, name="rescale")(keras.layers.Resizing(12, 12, name="resize")(image))
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3, name="conv")(x))
    result = pipeline.convert(keras.Model(image, keras.layers.Dense(3, name="head")(x)), tmp_path / "out")
    assert_converted(result)
    random = next(s for s in result.report["input_sets"] if s["name"] == "random")["inputs"]["image"]
    assert random["max"] > 200.0 and random["min"] >= 0.0
