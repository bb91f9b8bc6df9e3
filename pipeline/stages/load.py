"""Stage 1 (TensorFlow process): load a model from any source into one callable shape.

Every source kind becomes a :class:`LoadedModel` (:mod:`pipeline.stages.loaded`): Keras files and
``module:callable`` sources are read by :mod:`pipeline.stages.keras_files` and wrapped by
:mod:`pipeline.stages.keras_model`; SavedModels and ``tf.Module`` objects by
:mod:`pipeline.stages.tf_modules`.
"""

from __future__ import annotations

from typing import Any

from pipeline.config import ConversionConfig
from pipeline.errors import NotAModelError
from pipeline.sources import Source, SourceKind
from pipeline.stages.keras_files import build_callable, load_h5, load_keras_archive
from pipeline.stages.keras_model import from_keras, is_keras_model
from pipeline.stages.loaded import STAGE, LoadedModel
from pipeline.stages.tf_modules import from_module, from_saved_model

__all__ = ["STAGE", "LoadedModel", "load_model"]


def load_model(source: Source, config: ConversionConfig, obj: Any = None) -> LoadedModel:
    """Load ``source`` (or wrap ``obj``, a model object from the Python API)."""
    import tensorflow as tf

    if source.kind is SourceKind.SAVED_MODEL:
        return from_saved_model(source.spec, config)
    if source.kind is SourceKind.KERAS:
        model = load_keras_archive(source.spec, config)
    elif source.kind is SourceKind.H5:
        model = load_h5(source.spec, config)
    elif source.kind is SourceKind.CALLABLE:
        model = build_callable(source.spec, config)
    elif source.kind is SourceKind.EXAMPLE:
        from pipeline.examples import EXAMPLES

        model = EXAMPLES[source.spec.split(":", 1)[1]].build()
    elif source.kind is SourceKind.OBJECT:
        model = obj
    else:  # pragma: no cover - ONNX sources never reach the TensorFlow side
        raise AssertionError(source.kind)

    if is_keras_model(model):
        return from_keras(model, config, source)
    if isinstance(model, tf.Module):
        return from_module(model, config)
    raise NotAModelError(
        f"{source.spec} gave a {type(model).__module__}.{type(model).__name__}, "
        "not a Keras model or a tf.Module with a traced __call__",
        stage=STAGE,
    )
