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

# Layers whose output holds the same kind of values as their input (moved, resized, cropped,
# dropped out at training time only): preprocessing behind them still decides the input's range.
PASS_THROUGH = (
    "Resizing",
    "Reshape",
    "Flatten",
    "Permute",
    "CenterCrop",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
    "RandomCrop",
    "RandomContrast",
    "RandomBrightness",
    "Identity",
)


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


def reached_layers(model: Any, input_name: str) -> list[tuple[Any, list[str]]]:
    """Layers an input reaches through layers that keep its values' range, with the names of those between.

    A ``Resizing`` or ``Reshape`` before ``Rescaling`` does not change what range the pixels must
    be in, so the walk goes through :data:`PASS_THROUGH` layers and stops at any other layer.
    """
    readers: dict[int, list[tuple[Any, Any]]] = {}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            for tensor in _as_list(getattr(node, "input_tensors", None)):
                readers.setdefault(id(tensor), []).append((layer, node))
    start = [t for t in model.inputs if spec_name(t) == input_name]
    queue: list[tuple[Any, list[str]]] = [(t, []) for t in start]
    seen = {id(t) for t in start}
    reached: list[tuple[Any, list[str]]] = []
    while queue:
        tensor, path = queue.pop(0)
        for layer, node in readers.get(id(tensor), []):
            if not passes_through(layer):
                if all(layer is not known for known, _ in reached):
                    reached.append((layer, path))
                continue
            for out in _as_list(getattr(node, "outputs", None)):
                if id(out) not in seen:
                    seen.add(id(out))
                    queue.append((out, [*path, str(layer.name)]))
    return reached


def passes_through(layer: Any) -> bool:
    """Whether ``layer`` keeps its input's range: a :data:`PASS_THROUGH` layer, or a nested model of them only.

    The Keras tutorials' ``data_augmentation = Sequential([RandomFlip(), RandomRotation(0.1)])``
    in front of ``Rescaling`` is a nested model made of such layers.
    """
    if type(layer).__name__ in PASS_THROUGH:
        return True
    inner = [sub for sub in getattr(layer, "layers", None) or [] if type(sub).__name__ != "InputLayer"]
    return bool(inner) and hasattr(layer, "inputs") and all(passes_through(sub) for sub in inner)


def _as_list(tensors: Any) -> list[Any]:
    if tensors is None:
        return []
    return list(tensors) if isinstance(tensors, list | tuple) else [tensors]


def _after(layer: Any, path: list[str]) -> str:
    kind = type(layer).__name__
    if not path:
        return f"model starts with {kind}"
    return f"{kind} '{layer.name}' after {', '.join(repr(p) for p in path)}"


def value_range(
    spec_name: str, dtype: str, consumers: list[Any], source: Source, model: Any = None
) -> tuple[float, float, str]:
    """``(low, high, reason)`` for one model input, from the layers that read it (``high`` exclusive for ints).

    ``consumers`` are the layers that read the input directly; with ``model`` the walk of
    :func:`reached_layers` also finds preprocessing behind resizing and reshaping layers.
    """
    reached = reached_layers(model, spec_name) if model is not None else [(layer, []) for layer in consumers]
    readers = [layer for layer, _ in reached] or consumers
    if np.issubdtype(np.dtype(dtype), np.integer):
        return integer_range(spec_name, readers, model) or (0.0, 10.0, "guessed: default for integer inputs")
    if "mask" not in spec_name.lower():
        ids = integer_range(spec_name, readers, None)  # float ids into an Embedding, maybe inside a custom layer
        if ids is not None:
            return ids
    app = application_range(source.spec if source.kind is SourceKind.CALLABLE else None)
    if app:
        return app
    for layer, path in reached:
        kind = type(layer).__name__
        if kind == "Rescaling":
            scale = np.abs(np.asarray(layer.scale, dtype=np.float64)).max()
            if 0 < scale < 1:
                return 0.0, float(round(1.0 / scale)), f"{_after(layer, path)}: raw pixel values"
        if kind == "Normalization":
            mean = np.asarray(getattr(layer, "mean", 0.0), dtype=np.float64)
            var = np.asarray(getattr(layer, "variance", 1.0), dtype=np.float64)
            center, spread = float(mean.mean()), float(np.sqrt(var.mean()))
            where = "the model's Normalization layer" if not path else _after(layer, path)
            return center - 2 * spread, center + 2 * spread, f"mean ± 2 std of {where}"
    return -1.0, 1.0, "default for float inputs"


def pad_value(model: Any, input_name: str) -> float | None:
    """The value that marks padding in an input: a ``Masking`` layer's ``mask_value``, 0 for ``mask_zero`` ids.

    Found on the layers the input reaches (:func:`reached_layers`) and their sublayers, so an
    Embedding inside a custom layer counts; None when nothing masks the input.
    """
    for layer, _ in reached_layers(model, input_name):
        flatten = getattr(layer, "_flatten_layers", None)
        for sub in flatten(include_self=True, recursive=True) if flatten else [layer]:
            if type(sub).__name__ == "Masking":
                return float(sub.mask_value)
            if getattr(sub, "mask_zero", False) and getattr(sub, "input_dim", None):
                return 0.0
    return None
