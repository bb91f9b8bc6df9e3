"""Reading Keras model files and building models from ``module:callable`` sources.

Model files are data: Keras archives load with ``safe_mode`` (no Lambda bytecode) and no custom
objects unless the config opts in; legacy ``.h5`` files are checked for Lambda layers before they
are deserialised. A file that fails to load says why in the user's terms: the package its config
names that is not installed, the custom class it needs (:mod:`pipeline.stages.custom_objects`).
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from pipeline.config import ConversionConfig
from pipeline.errors import NotAModelError, UnsafeModelError, UserError
from pipeline.helpers import first_line
from pipeline.stages import archive_refs
from pipeline.stages.custom_objects import custom_objects, missing_class_error, module_folder, search_folders
from pipeline.stages.loaded import STAGE


def load_keras_archive(path: str, config: ConversionConfig) -> Any:
    """A Keras 3 ``.keras`` archive, in safe mode unless the config allows custom objects."""
    import keras

    objects = custom_objects(config, path) if config.allow_custom_objects else {}
    try:
        return keras.saving.load_model(
            path, compile=False, safe_mode=not config.allow_custom_objects, custom_objects=objects or None
        )
    except Exception as exc:  # keras raises ValueError/TypeError with long messages
        raise _keras_load_error(path, exc, config, archive_refs.archive_config(path)) from None


def _keras_load_error(path: str, exc: Exception, config: ConversionConfig, model_config: Any) -> UserError:
    text = str(exc)
    first = first_line(exc)
    folders = search_folders(config, path)
    missing = {
        package: classes
        for package, classes in archive_refs.missing_packages(model_config).items()
        if module_folder(package, folders) is None  # the user's own module beside the config or model
    }
    if missing:
        needs = "; ".join(f"{archive_refs.install_name(p)} (for {', '.join(c[:3])})" for p, c in missing.items())
        hint = f"install them into the environment (pip install {' '.join(map(archive_refs.install_name, missing))})"
        own = [p for p in missing if p not in archive_refs.PACKAGE_NAMES]
        if own:
            hint += (
                f"; if {', '.join(own)} is your own code, put it beside the config file or the model file and "
                "list its classes under `custom_objects` (with `allow_custom_objects: true`)"
            )
        return NotAModelError(f"{path} needs packages that are not installed: {needs}", stage=STAGE, hint=hint)
    if "safe_mode" in text or "Lambda" in text:
        return UnsafeModelError(
            f"{path} contains a Lambda layer or other serialized code, which is not run by default",
            stage=STAGE,
            hint="if you trust this file, set `allow_custom_objects: true` in the config",
        )
    if "Unknown layer" in text or "Could not locate" in text or "custom_objects" in text:
        return missing_class_error(path, model_config, config, first)
    return NotAModelError(f"{path} could not be read as a Keras model: {first}", stage=STAGE)


def _h5_model_config(path: str) -> dict[str, Any] | None:
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            raw = handle.attrs.get("model_config")
            version = handle.attrs.get("keras_version")
    except OSError as exc:
        raise NotAModelError(f"{path} could not be opened as HDF5: {exc}", stage=STAGE) from None
    if raw is None:
        raise NotAModelError(
            f"{path} holds no model config (a weights-only .h5 file?); save the whole model", stage=STAGE
        )
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    if isinstance(version, bytes):
        version = version.decode("utf-8")
    return {"config": json.loads(raw), "keras_version": str(version or "")}


def _class_names(config: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(config, dict):
        if "class_name" in config:
            names.add(str(config["class_name"]))
        for value in config.values():
            names |= _class_names(value)
    elif isinstance(config, list):
        for value in config:
            names |= _class_names(value)
    return names


def load_h5(path: str, config: ConversionConfig) -> Any:
    """A whole model saved as ``.h5`` by Keras 3 or tf.keras 2, refused when it holds a Lambda layer."""
    meta = _h5_model_config(path)
    assert meta is not None
    if "Lambda" in _class_names(meta["config"]) and not config.allow_custom_objects:
        raise UnsafeModelError(
            f"{path} contains a Lambda layer, whose Python bytecode would run on load",
            stage=STAGE,
            hint="if you trust this file, set `allow_custom_objects: true` in the config",
        )
    objects = custom_objects(config, path) if config.allow_custom_objects else None
    try:
        if meta["keras_version"].startswith("3."):
            import keras

            return keras.saving.load_model(path, compile=False, custom_objects=objects)
        import tf_keras

        return tf_keras.models.load_model(path, compile=False, custom_objects=objects)
    except Exception as exc:
        raise _keras_load_error(path, exc, config, meta["config"]) from None


def build_callable(spec: str, config: ConversionConfig) -> Any:
    """The model a ``module:callable`` source builds with the config's ``kwargs`` (no weights downloaded)."""
    module_name, attr = spec.split(":", 1)
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise UserError(f"cannot import {spec}: {exc}", stage=STAGE) from None
    if not callable(target):
        raise UserError(f"{spec} is not callable", stage=STAGE)
    kwargs = dict(config.kwargs)
    if module_name.endswith("keras.applications") and "weights" not in kwargs:
        kwargs["weights"] = None  # random weights: nothing is downloaded unless the config asks for it
    try:
        return target(**kwargs)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{spec}(**{kwargs}) failed: {exc}", stage=STAGE) from None
    except Exception as exc:
        if "URL fetch failure" in str(exc) or "HTTP" in type(exc).__name__:
            raise UserError(
                f"{spec}(**{kwargs}) tried to download weights and failed: {first_line(exc, 300)}",
                stage=STAGE,
                hint="set `kwargs: {weights: null}` in the config",
            ) from None
        raise
