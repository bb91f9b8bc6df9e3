"""The load stage's dispatch: every source kind becomes a LoadedModel, anything else is refused by name."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import ConversionConfig
from pipeline.errors import NotAModelError, UserError
from pipeline.sources import Source, SourceKind
from pipeline.stages.load import load_model


def test_keras_model_object_keeps_names_ranges_and_a_logits_function() -> None:
    from tests import models

    loaded = load_model(Source(SourceKind.OBJECT, "0"), ConversionConfig(), models.two_io())
    specs = {s.name: s for s in loaded.inputs}
    assert specs["tokens"].high > 10 and "Embedding" in specs["tokens"].range_reason
    assert loaded.outputs and loaded.logits_function is not None and loaded.layers
    outputs = loaded.function(*[np.zeros(s.concrete_shape(2), s.dtype) for s in loaded.inputs])
    assert [int(o.shape[0]) for o in outputs] == [2] * len(loaded.outputs)


def test_objects_that_are_not_models_and_bad_callables_are_the_users_error() -> None:
    with pytest.raises(NotAModelError, match=r"not a Keras model or a tf\.Module"):
        load_model(Source(SourceKind.OBJECT, "0"), ConversionConfig(), object())
    with pytest.raises(UserError, match="cannot import"):
        load_model(Source(SourceKind.CALLABLE, "k2t_no_such_module:build"), ConversionConfig())
