"""What a `.keras` archive's config refers to: the packages and classes it needs to load.

Keras 3 writes every object's ``module`` and ``class_name`` (and ``registered_name`` for
registered custom classes) into the archive's ``config.json``; loading imports those modules.
When loading fails, these name the missing package (keras-hub backbones need ``keras_hub``) or
the custom class the user must supply, instead of Keras' generic message.
"""

from __future__ import annotations

import importlib.util
import json
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

BUILTIN = ("keras", "builtins", "tensorflow", "numpy")
PACKAGE_NAMES = {"keras_hub": "keras-hub", "keras_nlp": "keras-nlp", "keras_cv": "keras-cv", "tf_keras": "tf-keras"}


def config_nodes(node: Any, keep: Callable[[dict[str, Any]], bool]) -> Iterator[dict[str, Any]]:
    """Every dict nested anywhere in a Keras config (``node``) for which ``keep`` is true."""
    if isinstance(node, dict):
        if keep(node):
            yield node
        for value in node.values():
            yield from config_nodes(value, keep)
    elif isinstance(node, list):
        for value in node:
            yield from config_nodes(value, keep)


def _objects(node: Any) -> Iterator[dict[str, Any]]:
    return config_nodes(node, lambda d: "class_name" in d and ("module" in d or "registered_name" in d))


def archive_config(path: str) -> Any:
    """The archive's ``config.json``, or None when it is not a readable `.keras` zip."""
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def missing_packages(config: Any) -> dict[str, list[str]]:
    """Top-level packages the config's objects come from that are not installed -> their class names."""
    missing: dict[str, list[str]] = {}
    for obj in _objects(config):
        module = str(obj.get("module") or "")
        top = module.split(".")[0]
        if not top or top in BUILTIN or top == "__main__":
            continue
        if importlib.util.find_spec(top) is None:
            missing.setdefault(top, [])
            if obj["class_name"] not in missing[top]:
                missing[top].append(str(obj["class_name"]))
    return missing


def custom_classes(config: Any) -> list[str]:
    """Custom (non-Keras) classes the config names, as ``registered_name`` or ``module.class_name``."""
    names: list[str] = []
    for obj in _objects(config):
        module = str(obj.get("module") or "")
        if module.split(".")[0] in BUILTIN and ">" not in str(obj.get("registered_name") or ""):
            continue
        name = str(obj.get("registered_name") or f"{module}.{obj['class_name']}")
        if name not in names:
            names.append(name)
    return names


def install_name(package: str) -> str:
    return PACKAGE_NAMES.get(package, package)
