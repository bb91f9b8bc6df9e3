"""A model taking raw strings is refused at load (exit 2), naming the input and the layer reading it."""

from __future__ import annotations

import pytest

from pipeline.config import ConversionConfig
from pipeline.errors import UnsupportedError
from pipeline.sources import Source, SourceKind
from pipeline.stages.load import load_model


def test_string_input_names_the_lookup_reading_it() -> None:
    import keras

    words = keras.Input((4,), dtype="string", name="words")
    ids = keras.layers.StringLookup(vocabulary=["a", "b", "c"], name="vocab")(words)
    model = keras.Model(words, keras.layers.Embedding(5, 2)(ids))
    with pytest.raises(UnsupportedError) as raised:
        load_model(Source(SourceKind.OBJECT, "0"), ConversionConfig(), model)
    error = raised.value
    assert error.exit_code == 2 and "input 'words' holds strings" in error.message
    assert error.locations[0].layer == "vocab" and "integer ids" in (error.hint or "")
