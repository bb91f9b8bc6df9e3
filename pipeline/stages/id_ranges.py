"""Value ranges for integer model inputs: token ids within a vocabulary found anywhere in the model.

Seeded inputs only prove something when they are valid: ids past an embedding table fail (or,
on some runtimes, read garbage), and ids 0..9 of a 30 000-word vocabulary exercise ten rows. A
keras-hub backbone's Embedding sits inside a composite layer (``TokenAndPositionEmbedding``,
``ReversibleEmbedding``), so the layers an input feeds are searched with their sublayers, and
failing that the whole model; the reason string says which. An input read by a lookup layer
takes its range from the layer: around a Discretization's boundaries (every bucket and both ends),
around an IntegerLookup's vocabulary, whose keys :func:`lookup_vocabulary` also hands to the input
generator (uniform ids would rarely hit a sparse vocabulary).
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


def _lookups(consumers: list[Any]) -> list[Any]:
    return [layer for layer in consumers if type(layer).__name__ in ("Discretization", "IntegerLookup")]


def lookup_range(consumers: list[Any]) -> tuple[float, float, str] | None:
    """``(low, high, reason)`` for an input read by a Discretization or IntegerLookup layer, else None.

    Discretization: the boundaries' span widened by one mean bucket width on each side, so that
    values land in every bucket, the first and the last. IntegerLookup: the smallest key minus 2
    (not below 0 when no key is) to the largest plus 3, which holds ids outside the vocabulary
    (with ``num_oov_indices=0``, where Keras raises on those, the keys' own span); with
    ``invert=True`` the indices it maps back, 0 to its vocabulary size.
    """
    for layer in _lookups(consumers):
        kind = type(layer).__name__
        if kind == "Discretization":
            bounds = [float(b) for b in (getattr(layer, "bin_boundaries", None) or [])]
            if not bounds:
                continue
            width = (bounds[-1] - bounds[0]) / len(bounds) if len(bounds) > 1 else 0.0
            margin = width or max(abs(bounds[0]), 1.0) / 2
            reason = f"around the {len(bounds)} bucket boundaries of Discretization '{layer.name}'"
            return bounds[0] - margin, bounds[-1] + margin, reason
        if getattr(layer, "invert", False):
            size = int(layer.vocabulary_size())
            return 0.0, float(size), f"indices into the vocabulary of IntegerLookup '{layer.name}' (invert)"
        keys = lookup_vocabulary([layer])
        if keys and keys_only([layer]):
            reason = f"keys of IntegerLookup '{layer.name}' ({len(keys)}), which has no OOV index for other ids"
            return float(min(keys)), float(max(keys) + 1), reason
        if keys:
            low = min(keys) - 2 if min(keys) < 0 else max(0, min(keys) - 2)
            reason = f"keys of IntegerLookup '{layer.name}' ({len(keys)}) and ids outside its vocabulary"
            return float(low), float(max(keys) + 3), reason
    return None


def lookup_vocabulary(consumers: list[Any]) -> list[int] | None:
    """The keys (and mask token) of the first IntegerLookup among ``consumers`` that maps keys to indices."""
    for layer in _lookups(consumers):
        if type(layer).__name__ != "IntegerLookup" or getattr(layer, "invert", False):
            continue
        keys = [int(k) for k in layer.get_vocabulary(include_special_tokens=False)]
        if getattr(layer, "mask_token", None) is not None:
            keys.append(int(layer.mask_token))
        if keys:
            return sorted(set(keys))
    return None


def keys_only(consumers: list[Any]) -> bool:
    """Whether the layer :func:`lookup_vocabulary` reads keys from accepts nothing else (``num_oov_indices=0``).

    Keras asserts that every id of such an IntegerLookup is in its vocabulary (or is the mask
    token), so an input set must hold only those.
    """
    for layer in _lookups(consumers):
        if type(layer).__name__ == "IntegerLookup" and not getattr(layer, "invert", False):
            return int(getattr(layer, "num_oov_indices", 1)) == 0
    return False


def integer_range(name: str, consumers: list[Any], model: Any) -> tuple[float, float, str] | None:
    """``(low, high, reason)`` for an integer input (``high`` exclusive), or None to use the default."""
    lookup = lookup_range(consumers)
    if lookup is not None:
        return lookup
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
