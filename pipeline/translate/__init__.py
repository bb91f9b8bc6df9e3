"""Direct translation of a Keras layer graph to a standalone PyTorch ``model.py``.

``LAYERS`` maps a Keras class name to its :class:`~pipeline.translate.base.LayerEntry`
(``ops.<Class>`` for keras.ops nodes of functional graphs). Entries are registered here
explicitly, from the literal tuple ``FAMILIES`` (``pipeline/translate/families.py``: one module
per Keras layer family in ``pipeline/translate/layers/``) and TimeDistributed, never as an import
side effect.
"""

from __future__ import annotations

from typing import Any

from pipeline.registry import Registry
from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.families import FAMILIES, by_class, entries_of
from pipeline.translate.layers import wrappers

ENTRIES: tuple[LayerEntry, ...] = (*entries_of(FAMILIES), *wrappers.ENTRIES)
LAYERS: Registry[str, LayerEntry] = Registry("translation entry", by_class(ENTRIES))


def translate_model(model: Any, **kwargs: Any) -> Any:
    """model.py source and state dict for a Keras model (see :func:`pipeline.translate.translator.translate_model`)."""
    from pipeline.translate.translator import translate_model as run

    return run(model, registry=LAYERS, **kwargs)


__all__ = [
    "ENTRIES",
    "LAYERS",
    "Context",
    "Decline",
    "LayerCall",
    "LayerEntry",
    "Translation",
    "Value",
    "translate_model",
]
