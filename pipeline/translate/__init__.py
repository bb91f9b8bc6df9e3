"""Direct translation of a Keras layer graph to a standalone PyTorch ``model.py``.

``LAYERS`` maps a Keras class name to its :class:`~pipeline.translate.base.LayerEntry`. Entries
are registered here explicitly, from the literal tuple ``ENTRIES`` (one module per Keras layer
family in ``pipeline/translate/layers/``), never as an import side effect.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.registry import Registry
from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value

ENTRIES: tuple[LayerEntry, ...] = ()


def _by_class(entries: Iterable[LayerEntry]) -> Iterable[tuple[str, LayerEntry]]:
    for entry in entries:
        for name in entry.classes:
            yield name, entry


LAYERS: Registry[str, LayerEntry] = Registry("translation entry", _by_class(ENTRIES))

__all__ = ["ENTRIES", "LAYERS", "Context", "Decline", "LayerCall", "LayerEntry", "Translation", "Value"]
