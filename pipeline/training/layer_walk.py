"""The layers of a Keras model, nested ones included, and what makes them random in training.

The training check sets every dropout and noise rate to 0 for its one deterministic step
(:func:`make_deterministic`, undone by :func:`restore`) and names the first diverging weight in
the order its layer runs (:func:`graph_order`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

STOCHASTIC = {  # Keras class -> attributes that make it random in training
    "Dropout": ("rate",),
    "SpatialDropout1D": ("rate",),
    "SpatialDropout2D": ("rate",),
    "SpatialDropout3D": ("rate",),
    "AlphaDropout": ("rate",),
    "GaussianDropout": ("rate",),
    "GaussianNoise": ("stddev",),
}
RECURRENT_RATES = ("dropout", "recurrent_dropout")


def _layers(model: Any) -> list[Any]:
    """Every layer inside ``model`` in the order Keras lists them, then the layers held inside
    layers (RNN cells, wrapped layers, an attention layer's dropout), depth first, each once."""
    return [layer for _, layer in _named_layers(model)]


def _named_layers(model: Any, owner: str | None = None, seen: set[int] | None = None) -> list[tuple[str, Any]]:
    """:func:`_layers` with a name for each: a layer of the model's graph by its own name, a layer
    held in another layer's attribute as ``<owner>/<attribute>`` (``mha/dropout``). Keras numbers
    the names it makes up (``dropout_2``) by how many such layers the process built before, so
    those names would change from run to run; the attribute does not."""
    seen = set() if seen is None else seen
    out: list[tuple[str, Any]] = []
    inner = [(None, layer) for layer in getattr(model, "layers", []) or []]
    inner += [
        (attr, v)
        for attr, v in vars(model).items()
        if type(v).__module__.startswith(("keras.", "tf_keras.")) and hasattr(v, "call")
    ]
    for attr, layer in inner:
        if id(layer) in seen or layer is model:
            continue
        seen.add(id(layer))
        name = str(layer.name)
        if attr is not None and owner is not None:
            name = f"{owner}/{attr.strip('_').removesuffix('_layer') or attr}"
        out.append((name, layer))
        out += _named_layers(layer, name, seen)
    return out


def make_deterministic(model: Any) -> tuple[list[str], list[tuple[Any, str, Any]]]:
    """Set every dropout/noise rate of the model to 0; (report lines, what to restore)."""
    notes: list[str] = []
    saved: list[tuple[Any, str, Any]] = []
    for name, layer in _named_layers(model):
        kind = type(layer).__name__
        attrs = STOCHASTIC.get(kind, ()) + tuple(a for a in RECURRENT_RATES if "Cell" in kind or "RNN" in kind)
        attrs += ("dropout",) if kind in ("MultiHeadAttention", "Attention", "AdditiveAttention") else ()
        for attr in attrs:
            value = getattr(layer, attr, None)
            if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
                try:
                    setattr(layer, attr, 0.0)
                except AttributeError:  # a read-only property: the layer's own Dropout sublayer has it
                    continue
                saved.append((layer, attr, value))
                notes.append(f"{name} ({kind}): {attr} {value:g} -> 0")
    return notes, saved


def restore(saved: list[tuple[Any, str, Any]]) -> None:
    for layer, attr, value in saved:
        setattr(layer, attr, value)


def graph_order(model: Any, variable_path: Callable[[Any], str]) -> list[str]:
    """Variable paths in the order their layers run (for naming the first divergence)."""
    paths = [variable_path(v) for layer in _layers(model) for v in getattr(layer, "weights", [])]
    return list(dict.fromkeys(paths))
