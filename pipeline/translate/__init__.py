"""Direct translation of a Keras layer graph to a standalone PyTorch ``model.py``.

``LAYERS`` maps a Keras class name to its :class:`~pipeline.translate.base.LayerEntry`
(``ops.<Class>`` for keras.ops nodes of functional graphs). Entries are registered here
explicitly, from the literal tuple ``ENTRIES`` (one module per Keras layer family in
``pipeline/translate/layers/``), never as an import side effect.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pipeline.registry import Registry
from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers import (
    activations,
    applications,
    attention,
    batch_norm,
    conv,
    dense,
    dropout,
    embedding,
    merge,
    normalization,
    ops,
    padding,
    pooling,
    preprocessing,
    recurrent,
    reshape,
    wrappers,
)

ENTRIES: tuple[LayerEntry, ...] = (
    *conv.ENTRIES,
    *dense.ENTRIES,
    *batch_norm.ENTRIES,
    *activations.ENTRIES,
    *pooling.ENTRIES,
    *dropout.ENTRIES,
    *merge.ENTRIES,
    *reshape.ENTRIES,
    *padding.ENTRIES,
    *preprocessing.ENTRIES,
    *applications.ENTRIES,
    *embedding.ENTRIES,
    *recurrent.ENTRIES,
    *ops.ENTRIES,
    *normalization.ENTRIES,
    *attention.ENTRIES,
    *wrappers.ENTRIES,
)


def _by_class(entries: Iterable[LayerEntry]) -> Iterable[tuple[str, LayerEntry]]:
    for entry in entries:
        for name in entry.classes:
            yield name, entry


LAYERS: Registry[str, LayerEntry] = Registry("translation entry", _by_class(ENTRIES))


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
