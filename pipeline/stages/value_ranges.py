"""Value ranges for a Keras model's inputs, from the layers that read them.

Seeded inputs prove something only inside the range the model expects: token ids within the
Embedding vocabulary, raw pixels for a model that rescales them itself, the spread a
Normalization layer was adapted to, a ``keras.applications`` model's preprocessing mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.inputs import application_range
from pipeline.sources import Source, SourceKind
from pipeline.stages.id_ranges import integer_range


def spec_name(tensor: Any) -> str:
    """The input name of a Keras input tensor (without a ``:0`` suffix)."""
    name = getattr(tensor, "name", None) or "input"
    return str(name).split(":")[0]


def input_consumers(model: Any) -> dict[str, list[Any]]:
    """Layers that read each model input directly (to guess value ranges)."""
    names = {id(t): spec_name(t) for t in model.inputs}
    consumers: dict[str, list[Any]] = {n: [] for n in names.values()}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            tensors = getattr(node, "input_tensors", None)
            if tensors is None:
                tensors = []
            elif not isinstance(tensors, list | tuple):
                tensors = [tensors]
            for t in tensors:
                if id(t) in names:
                    consumers[names[id(t)]].append(layer)
    return consumers


def value_range(
    spec_name: str, dtype: str, consumers: list[Any], source: Source, model: Any = None
) -> tuple[float, float, str]:
    """``(low, high, reason)`` for one model input, from the layers that read it (``high`` exclusive for ints)."""
    kinds = {type(layer).__name__: layer for layer in consumers}
    if np.issubdtype(np.dtype(dtype), np.integer):
        return integer_range(spec_name, consumers, model) or (0.0, 10.0, "guessed: default for integer inputs")
    if "Embedding" in kinds:
        return 0.0, float(kinds["Embedding"].input_dim), "token ids within the Embedding vocabulary"
    app = application_range(source.spec if source.kind is SourceKind.CALLABLE else None)
    if app:
        return app
    if "Rescaling" in kinds:
        scale = np.abs(np.asarray(kinds["Rescaling"].scale, dtype=np.float64)).max()
        if 0 < scale < 1:
            return 0.0, float(round(1.0 / scale)), "model starts with Rescaling: raw pixel values"
    if "Normalization" in kinds:
        layer = kinds["Normalization"]
        mean = np.asarray(getattr(layer, "mean", 0.0), dtype=np.float64)
        var = np.asarray(getattr(layer, "variance", 1.0), dtype=np.float64)
        center, spread = float(mean.mean()), float(np.sqrt(var.mean()))
        return center - 2 * spread, center + 2 * spread, "mean ± 2 std of the model's Normalization layer"
    return -1.0, 1.0, "default for float inputs"
