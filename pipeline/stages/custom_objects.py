"""Custom objects a config names (``module:Class``), imported only when the config opts in.

Keras archives name the classes they need but not where their code lives; the config says so,
and importing that code runs it, so nothing is imported unless ``allow_custom_objects`` is set.
A module is looked up in the config file's folder, then the model file's folder, then on the
normal import path; a folder is put on ``sys.path`` only while its module is imported. When a
class the model needs is missing, :func:`missing_class_error` names it (and its module) from the
model's own config, read as data, and says which config lines would load it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.config import ConversionConfig
from pipeline.errors import UnsafeModelError, UserError
from pipeline.stages import archive_refs
from pipeline.stages.loaded import STAGE

LAYER_CONTAINERS = ("Functional", "Sequential", "Model")


def search_folders(config: ConversionConfig, model_path: str | None) -> list[Path]:
    """Folders a custom object's module is looked up in before the import path: the config's, the model's."""
    folders: list[Path] = []
    for folder in (config.base_dir, Path(model_path).parent if model_path else None):
        if folder is None:
            continue
        resolved = Path(folder).resolve()
        if resolved.is_dir() and resolved not in folders:
            folders.append(resolved)
    return folders


def custom_objects(config: ConversionConfig, model_path: str | None = None) -> dict[str, Any]:
    """Name -> class for every ``custom_objects`` entry of the config (the class's own name is the key)."""
    folders = search_folders(config, model_path)
    objects: dict[str, Any] = {}
    for ref in config.custom_objects:
        if ":" not in ref:
            raise UserError(f"custom_objects entry {ref!r} must be 'module:Class'", stage=STAGE)
        module_name, attr = ref.split(":", 1)
        module = _import(ref, module_name, folders)
        value: Any = module
        try:
            for part in attr.split("."):
                value = getattr(value, part)
        except AttributeError:
            raise UserError(
                f"custom_objects entry {ref!r}: module {module_name} ({getattr(module, '__file__', '?')}) "
                f"has no attribute {attr!r}",
                stage=STAGE,
            ) from None
        objects[attr.rsplit(".", 1)[-1]] = value
    return objects


def module_folder(top: str, folders: list[Path]) -> Path | None:
    """The first folder holding module or package ``top`` (``top.py`` or ``top/__init__.py``)."""
    for folder in folders:
        if (folder / f"{top}.py").is_file() or (folder / top / "__init__.py").is_file():
            return folder
    return None


def local_module_file(module_name: str, folders: list[Path]) -> Path | None:
    """The file a custom object's module would be imported from in ``folders``, without importing it.

    For fingerprints of batch results: editing ``my_layers.py`` beside the config makes a result stale.
    """
    folder = module_folder(module_name.split(".")[0], folders)
    if folder is None:
        return None
    base = folder.joinpath(*module_name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_files(config: ConversionConfig) -> dict[str, str | None]:
    """Entry -> the file beside the config or the model its module comes from (None: the import path's).

    What a batch result depends on besides the model file: editing ``my_layers.py`` makes it stale.
    """
    source = Path(config.source) if config.source else None
    if source is not None and not source.is_absolute() and config.base_dir:
        source = Path(config.base_dir) / source
    folders = search_folders(config, str(source) if source is not None and source.exists() else None)
    files: dict[str, str | None] = {}
    for ref in config.custom_objects:
        found = local_module_file(ref.split(":", 1)[0], folders)
        files[ref] = str(found) if found is not None else None
    return files


@contextmanager
def _first_on_path(folder: Path) -> Iterator[None]:
    saved = list(sys.path)
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path[:] = saved


def _import(ref: str, module_name: str, folders: list[Path]) -> Any:
    top = module_name.split(".")[0]
    folder = module_folder(top, folders)
    where = " or ".join(str(f) for f in folders) or "no folder (the config is not a file)"
    try:
        if folder is None:
            return importlib.import_module(module_name)
        loaded = sys.modules.get(top)
        origin = getattr(loaded, "__file__", None) if loaded is not None else None
        if origin is not None and folder not in Path(origin).resolve().parents:
            raise UserError(
                f"custom_objects entry {ref!r}: a module named {top} is already imported from {origin}, "
                f"not the one in {folder}",
                stage=STAGE,
                hint=f"rename {folder / top} so that it does not shadow an installed module",
            )
        with _first_on_path(folder):
            return importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(
            f"custom_objects entry {ref!r} cannot be imported: {exc} (looked in {where}, then the import path)",
            stage=STAGE,
            hint=f"put {top}.py (or the package {top}/) beside the config file or the model file",
        ) from None


def needed_classes(model_config: Any) -> list[tuple[str, str | None]]:
    """``(class name, module)`` of every non-Keras class the model's config names, in order.

    Keras 3 records each object's ``module``; tf.keras 2 ``.h5`` files record only the class
    name, so there a layer class that neither Keras has is taken to be custom.
    """
    found: list[tuple[str, str | None]] = []
    for obj in archive_refs.config_nodes(model_config, lambda d: isinstance(d.get("class_name"), str)):
        name, module = str(obj["class_name"]), obj.get("module")
        if module is not None:
            custom = str(module).split(".")[0] not in archive_refs.BUILTIN
        else:
            custom = "config" in obj and "name" in obj.get("config", {}) and not _keras_has(name)
        if custom and (name, module) not in found:
            found.append((name, None if module is None else str(module)))
    return found


def _keras_has(name: str) -> bool:
    if name in LAYER_CONTAINERS:
        return True
    import keras

    if hasattr(keras.layers, name):
        return True
    try:
        import tf_keras
    except ImportError:
        return False
    return hasattr(tf_keras.layers, name)


def suggested_entry(name: str, module: str | None) -> str:
    """The ``custom_objects`` entry that would load class ``name`` recorded with ``module``."""
    if module is None or module == "__main__":
        return f"my_layers:{name}"
    return f"{module}:{name}"


def _origin(module: str | None) -> str:
    if module is None:
        return "its module is not recorded in the file"
    if module == "__main__":
        return "defined in a script, not a module"
    return f"module {module}"


def missing_class_error(path: str, model_config: Any, config: ConversionConfig, detail: str) -> UserError:
    """The error for a model whose custom classes are not available, naming them and the config lines to add."""
    classes = needed_classes(model_config)
    named = {ref.split(":", 1)[1].rsplit(".", 1)[-1] for ref in config.custom_objects if ":" in ref}
    if config.allow_custom_objects:
        classes = [c for c in classes if c[0] not in named] or classes
    listed = ", ".join(f"{n} ({_origin(m)})" for n, m in classes[:5])
    entries = ", ".join(f'"{suggested_entry(n, m)}"' for n, m in classes[:5]) or '"module:Class"'
    script = any(m == "__main__" for _, m in classes)
    hint = (
        f"if you trust this code, add to the config `allow_custom_objects: true` and `custom_objects: [{entries}]`; "
        "each module is looked up beside the config file, then beside the model file, then on the import path"
    )
    if script:
        hint += " (a class defined in a script: move it into a module file such as my_layers.py there)"
    return UnsafeModelError(
        f"{path} needs custom classes that are not available"
        + (f": {listed}" if listed else f" ({detail})"),  # Keras' own text only when the config named none
        stage=STAGE,
        hint=hint,
    )
