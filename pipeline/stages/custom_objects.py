"""Custom objects a config names (``module:Class``), imported only when the config opts in.

Keras archives name the classes they need but not where their code lives; the config says so,
and importing that code runs it, so nothing is imported unless ``allow_custom_objects`` is set.
"""

from __future__ import annotations

import importlib
from typing import Any

from pipeline.config import ConversionConfig
from pipeline.errors import UserError
from pipeline.stages.loaded import STAGE


def custom_objects(config: ConversionConfig) -> dict[str, Any]:
    """Name -> class for every ``custom_objects`` entry of the config."""
    objects: dict[str, Any] = {}
    for ref in config.custom_objects:
        if ":" not in ref:
            raise UserError(f"custom_objects entry {ref!r} must be 'module:attribute'", stage=STAGE)
        module_name, attr = ref.split(":", 1)
        try:
            value = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise UserError(f"custom_objects entry {ref!r} cannot be imported: {exc}", stage=STAGE) from None
        objects[attr.rsplit(".", 1)[-1]] = value
    return objects
