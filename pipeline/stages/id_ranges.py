"""Value ranges for integer model inputs: token ids within a vocabulary found anywhere in the model.

Seeded inputs only prove something when they are valid: ids past an embedding table fail (or,
on some runtimes, read garbage), and ids 0..9 of a 30 000-word vocabulary exercise ten rows. A
keras-hub backbone's Embedding sits inside a composite layer (``TokenAndPositionEmbedding``,
``ReversibleEmbedding``), so the layers an input feeds are searched with their sublayers, and
failing that the whole model; the reason string says which.
"""

from __future__ import annotations

from typing import Any


def _embeddings(layer: Any) -> list[Any]:
    """``layer`` and its sublayers that are Embeddings (subclasses too), outermost first."""
    import keras

    found = []
    flatten = getattr(layer, "_flatten_layers", None)
    for sub in flatten(include_self=True, recursive=True) if flatten else [layer]:
        if isinstance(sub, keras.layers.Embedding) and getattr(sub, "input_dim", None):
            found.append(sub)
    return found


def integer_range(name: str, consumers: list[Any], model: Any) -> tuple[float, float, str] | None:
    """``(low, high, reason)`` for an integer input (``high`` exclusive), or None to use the default."""
    if "mask" in name.lower():
        return 0.0, 2.0, "a mask input: 0 or 1"
    for layer in consumers:
        tables = _embeddings(layer)
        if tables:
            table = tables[0]
            where = "" if table is layer else f" inside '{layer.name}'"
            return 0.0, float(table.input_dim), f"token ids within the vocabulary of Embedding '{table.name}'{where}"
    tables = [t for t in _embeddings(model) if t is not model] if model is not None else []
    if tables:
        table = max(tables, key=lambda t: int(t.input_dim))
        vocabulary = int(table.input_dim)
        if len({int(t.input_dim) for t in tables}) > 1:  # the largest table: the token vocabulary
            return 0.0, float(vocabulary), f"guessed: ids within the largest Embedding '{table.name}' in the model"
        return 0.0, float(vocabulary), f"token ids within the vocabulary of Embedding '{table.name}' in the model"
    return None
