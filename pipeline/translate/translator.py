"""Translate one Keras model object to model.py source and its state dict."""

from __future__ import annotations

from typing import Any

from pipeline.translate.base import Context, Decline, LayerCall, Translation
from pipeline.translate.codegen import ModelCode, assemble
from pipeline.translate.graph import Fallback, functional_of, walk_model


def keras_version(model: Any) -> int:
    return 2 if type(model).__module__.startswith("tf_keras") else 3


def no_fallback(call: LayerCall, ctx: Context, reason: str) -> Translation:
    """The fallback when none is available: the translation fails, naming the layer and the reason."""
    raise Decline(f"layer '{call.layer.name}' ({call.class_name}): {reason}")


def translate_model(
    model: Any,
    *,
    layout: str = "keras",
    input_names: list[str] | None = None,
    fallback: Fallback | None = None,
    registry: Any,
) -> ModelCode:
    """model.py source, state dict and weight map for a Keras ``model`` (Keras 3 or tf_keras).

    ``input_names`` name forward()'s arguments (default: the Keras input names); ``fallback``
    translates a call no entry takes (default: raise :class:`Decline`); ``registry`` maps Keras
    class names to entries (``pipeline.translate.LAYERS``, which ``pipeline.translate.translate_model``
    passes).
    """
    graph = functional_of(model)
    if graph is None:
        raise Decline(f"model '{model.name}' has no layer graph (a subclassed model or an unbuilt Sequential)")
    if input_names is None:
        tensors = graph.inputs if isinstance(graph.inputs, list | tuple) else [graph.inputs]
        input_names = [_input_name(t, i) for i, t in enumerate(tensors)]
    ctx = Context(layout=layout, keras_version=keras_version(model))
    walk = walk_model(model, ctx, registry, fallback or no_fallback, input_names)
    doc = f"{model.name}, translated from Keras to PyTorch by keras2torch."
    return assemble(walk, ctx, doc)


def _input_name(tensor: Any, index: int) -> str:
    history = getattr(tensor, "_keras_history", None)
    layer = history[0] if history is not None else None
    return str(getattr(layer, "name", None) or getattr(tensor, "name", None) or f"input_{index}")
