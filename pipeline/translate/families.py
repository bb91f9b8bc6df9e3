"""The Keras layer families the translator knows, in the order of the support table.

One literal tuple, read by the registry (``pipeline.translate``) and by TimeDistributed
(``layers/wrappers.py``, which wraps a layer of any of them). The wrapper family itself is not
listed: the registry adds it last, and it would import itself here.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

from pipeline.translate.base import LayerEntry
from pipeline.translate.layers import (
    activations,
    applications,
    attention,
    batch_norm,
    conv,
    dense,
    dropout,
    embedding,
    lookup,
    merge,
    normalization,
    ops,
    padding,
    pooling,
    preprocessing,
    recurrent,
    reshape,
)

FAMILIES: tuple[ModuleType, ...] = (
    conv,
    dense,
    batch_norm,
    activations,
    pooling,
    dropout,
    merge,
    reshape,
    padding,
    preprocessing,
    lookup,
    applications,
    embedding,
    recurrent,
    ops,
    normalization,
    attention,
)


def entries_of(families: tuple[ModuleType, ...]) -> tuple[LayerEntry, ...]:
    """Every family's ``ENTRIES``, in order."""
    return tuple(entry for family in families for entry in family.ENTRIES)


def by_class(entries: tuple[LayerEntry, ...]) -> Iterator[tuple[str, LayerEntry]]:
    """(Keras class name (``ops.<Class>`` for keras.ops nodes), its entry) pairs, duplicates included
    (the registry refuses them)."""
    for entry in entries:
        for name in entry.classes:
            yield name, entry
