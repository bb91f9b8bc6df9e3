"""What loading produces, whatever the source: a positional ``tf.function``, input specs, output names.

Shared by the readers of each source kind (:mod:`pipeline.stages.keras_model`,
:mod:`pipeline.stages.tf_modules`) and by the stages after loading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.context import TensorSpec

STAGE = "load"


@dataclass
class LoadedModel:
    """A model ready to trace: positional ``function``, its input specs and output names."""

    name: str
    function: Any  # tf.function(*inputs) -> list of tensors, in ``outputs`` order
    inputs: list[TensorSpec]
    outputs: list[str]
    keras_model: Any = None  # keras.Model (Keras 3) or tf_keras.Model, when there is one
    logits_function: Callable[..., list[Any]] | None = None  # outputs with softmax heads removed
    logits_outputs: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)
    # outputs (softmax heads' from their logits) followed by the heads' logits, from one pass; None: two passes
    with_logits_function: Callable[..., list[Any]] | None = None


def input_spec(name: str, shape: list[int | None], dtype: str, low: float, high: float, reason: str) -> TensorSpec:
    """An input spec whose batch axis is the first one when that one is free."""
    batch_axis = 0 if shape and shape[0] is None else None
    return TensorSpec(name, shape, dtype, low=low, high=high, range_reason=reason, batch_axis=batch_axis)


def dtype_name(dtype: Any) -> str:
    """A TensorFlow or Keras dtype's name (``float32``)."""
    return str(getattr(dtype, "name", dtype))
