"""Stage 1 (TensorFlow process): load a model from any source into one callable shape.

Every source kind becomes a :class:`LoadedModel`: a ``tf.function`` taking the inputs positionally
(the form tf2onnx's ``from_function`` exports, which also works for Keras 3, unlike
``from_keras``), the input specs from its signature, and output names. Keras models also expose
their layers, so later stages can name the Keras layer behind an ONNX node and compute logits
behind a softmax head.

Model files are data: Keras archives load with ``safe_mode`` (no Lambda bytecode) and no custom
objects unless the config opts in; legacy ``.h5`` files are checked for Lambda layers before they
are deserialised.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.config import ConversionConfig
from pipeline.context import TensorSpec
from pipeline.errors import InputSpecError, NotAModelError, UnsafeModelError, UserError
from pipeline.helpers import first_line
from pipeline.inputs import application_range
from pipeline.sources import Source, SourceKind
from pipeline.stages import archive_refs
from pipeline.stages.id_ranges import integer_range, lookup_range, lookup_vocabulary

STAGE = "load"


@dataclass
class LoadedModel:
    """A model ready to trace: positional ``function``, its input specs and output names."""

    name: str
    function: Any  # tf.function(*inputs) -> list of tensors, in ``outputs`` order
    inputs: list[TensorSpec]
    outputs: list[str]
    keras_model: Any = None  # keras.Model (Keras 3) or tf_keras.Model, when there is one
    logits_function: Callable[..., list[Any]] | None = None  # outputs with softmax heads removed
    logits_outputs: list[str] = field(default_factory=list)
    layers: list[str] = field(default_factory=list)


def load_model(source: Source, config: ConversionConfig, obj: Any = None) -> LoadedModel:
    """Load ``source`` (or wrap ``obj``, a model object from the Python API)."""
    import tensorflow as tf

    if source.kind is SourceKind.SAVED_MODEL:
        return _from_saved_model(source.spec, config)
    if source.kind is SourceKind.KERAS:
        model = _load_keras3(source.spec, config)
    elif source.kind is SourceKind.H5:
        model = _load_h5(source.spec, config)
    elif source.kind is SourceKind.CALLABLE:
        model = _build_callable(source.spec, config)
    elif source.kind is SourceKind.EXAMPLE:
        from pipeline.examples import EXAMPLES

        model = EXAMPLES[source.spec.split(":", 1)[1]].build()
    elif source.kind is SourceKind.OBJECT:
        model = obj
    else:  # pragma: no cover - ONNX sources never reach the TensorFlow side
        raise AssertionError(source.kind)

    if _is_keras_model(model):
        return _from_keras(model, config, source)
    if isinstance(model, tf.Module):
        return _from_module(model, config)
    raise NotAModelError(
        f"{source.spec} gave a {type(model).__module__}.{type(model).__name__}, "
        "not a Keras model or a tf.Module with a traced __call__",
        stage=STAGE,
    )


# --------------------------------------------------------------------------- readers


def _custom_objects(config: ConversionConfig) -> dict[str, Any]:
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


def _load_keras3(path: str, config: ConversionConfig) -> Any:
    import keras

    objects = _custom_objects(config) if config.allow_custom_objects else {}
    try:
        return keras.saving.load_model(
            path, compile=False, safe_mode=not config.allow_custom_objects, custom_objects=objects or None
        )
    except Exception as exc:  # keras raises ValueError/TypeError with long messages
        raise _keras_load_error(path, exc) from None


def _keras_load_error(path: str, exc: Exception) -> UserError:
    text = str(exc)
    first = first_line(exc)
    archive = archive_refs.archive_config(path)
    missing = archive_refs.missing_packages(archive)
    if missing:
        needs = "; ".join(f"{archive_refs.install_name(p)} (for {', '.join(c[:3])})" for p, c in missing.items())
        return NotAModelError(
            f"{path} needs packages that are not installed: {needs}",
            stage=STAGE,
            hint=f"install them into the environment (pip install {' '.join(map(archive_refs.install_name, missing))})",
        )
    if "safe_mode" in text or "Lambda" in text:
        return UnsafeModelError(
            f"{path} contains a Lambda layer or other serialized code, which is not run by default",
            stage=STAGE,
            hint="if you trust this file, set `allow_custom_objects: true` in the config",
        )
    if "Unknown layer" in text or "Could not locate" in text or "custom_objects" in text:
        named = archive_refs.custom_classes(archive)
        return UnsafeModelError(
            f"{path} uses a custom layer or object that is not registered"
            + (f" ({', '.join(named[:5])})" if named else "")
            + f": {first}",
            stage=STAGE,
            hint="set `allow_custom_objects: true` and list it under `custom_objects: [module:Class]`",
        )
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


def _load_h5(path: str, config: ConversionConfig) -> Any:
    meta = _h5_model_config(path)
    assert meta is not None
    if "Lambda" in _class_names(meta["config"]) and not config.allow_custom_objects:
        raise UnsafeModelError(
            f"{path} contains a Lambda layer, whose Python bytecode would run on load",
            stage=STAGE,
            hint="if you trust this file, set `allow_custom_objects: true` in the config",
        )
    objects = _custom_objects(config) if config.allow_custom_objects else None
    try:
        if meta["keras_version"].startswith("3."):
            import keras

            return keras.saving.load_model(path, compile=False, custom_objects=objects)
        import tf_keras

        return tf_keras.models.load_model(path, compile=False, custom_objects=objects)
    except Exception as exc:
        raise _keras_load_error(path, exc) from None


def _build_callable(spec: str, config: ConversionConfig) -> Any:
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


# --------------------------------------------------------------------------- Keras models


def _is_keras_model(obj: Any) -> bool:
    module = type(obj).__module__
    return hasattr(obj, "layers") and hasattr(obj, "inputs") and module.startswith(("keras", "tf_keras"))


def _spec_name(tensor: Any) -> str:
    name = getattr(tensor, "name", None) or "input"
    return str(name).split(":")[0]


def _dtype_name(dtype: Any) -> str:
    return str(getattr(dtype, "name", dtype))


def _input_consumers(model: Any) -> dict[str, list[Any]]:
    """Layers that read each model input directly (to guess value ranges)."""
    names = {id(t): _spec_name(t) for t in model.inputs}
    consumers: dict[str, list[Any]] = {n: [] for n in names.values()}
    for layer in model.layers:
        for node in getattr(layer, "_inbound_nodes", []):
            tensors = getattr(node, "input_tensors", None)
            if tensors is None:
                tensors = []
            elif not isinstance(tensors, list | tuple):
                tensors = [tensors]
            for t in tensors:
                if id(t) in names:
                    consumers[names[id(t)]].append(layer)
    return consumers


def _range_for(
    spec_name: str, dtype: str, consumers: list[Any], source: Source, model: Any = None
) -> tuple[float, float, str]:
    kinds = {type(layer).__name__: layer for layer in consumers}
    if np.issubdtype(np.dtype(dtype), np.integer):
        return integer_range(spec_name, consumers, model) or (0.0, 10.0, "guessed: default for integer inputs")
    lookup = lookup_range(consumers)  # a float input into Discretization
    if lookup is not None:
        return lookup
    if "Embedding" in kinds:
        return 0.0, float(kinds["Embedding"].input_dim), "token ids within the Embedding vocabulary"
    app = application_range(source.spec if source.kind is SourceKind.CALLABLE else None)
    if app:
        return app
    if "Rescaling" in kinds:
        scale = np.abs(np.asarray(kinds["Rescaling"].scale, dtype=np.float64)).max()
        if 0 < scale < 1:
            return 0.0, float(round(1.0 / scale)), "model starts with Rescaling: raw pixel values"
    if "Normalization" in kinds:
        layer = kinds["Normalization"]
        mean = np.asarray(getattr(layer, "mean", 0.0), dtype=np.float64)
        var = np.asarray(getattr(layer, "variance", 1.0), dtype=np.float64)
        center, spread = float(mean.mean()), float(np.sqrt(var.mean()))
        return center - 2 * spread, center + 2 * spread, "mean ± 2 std of the model's Normalization layer"
    return -1.0, 1.0, "default for float inputs"


def _from_keras(model: Any, config: ConversionConfig, source: Source) -> LoadedModel:
    import tensorflow as tf

    try:
        model_inputs = list(model.inputs)
    except (AttributeError, ValueError) as exc:
        raise InputSpecError(
            f"model '{model.name}' has no defined inputs ({exc}); build it with an Input layer or input_shape",
            stage=STAGE,
        ) from None
    consumers = _input_consumers(model)
    specs = []
    for tensor in model_inputs:
        name = _spec_name(tensor)
        dtype = _dtype_name(tensor.dtype)
        shape = [None if d is None else int(d) for d in tensor.shape]
        low, high, reason = _range_for(name, dtype, consumers.get(name, []), source, model)
        specs.append(_spec(name, shape, dtype, low, high, reason))
        specs[-1].known_values = lookup_vocabulary(consumers.get(name, []))  # ids drawn from a lookup's keys
    output_names = _output_names(model)
    dict_inputs = isinstance(getattr(model, "input", None), dict)
    names = [s.name for s in specs]

    def call(*args: Any) -> list[Any]:
        if dict_inputs:
            feed: Any = dict(zip(names, args, strict=True))
        else:
            feed = list(args) if len(args) > 1 else args[0]
        result = model(feed, training=False)
        return _flatten(result, output_names)

    signature = [
        tf.TensorSpec(
            [None if i == s.batch_axis else d for i, d in enumerate(s.shape)],
            tf.as_dtype(s.dtype),
            name=s.name,
        )
        for s in specs
    ]
    function = tf.function(call, input_signature=signature, autograph=False)

    softmax_layers = _softmax_heads(model)
    logits_outputs = [output_names[i] for i in softmax_layers]

    def logits_call(*args: Any) -> list[Any]:
        linear = _linear_activation(model)
        saved = {}
        for i, layer in softmax_layers.items():
            saved[i] = layer.activation
            layer.activation = linear
        try:
            return call(*[tf.convert_to_tensor(a) for a in args])
        finally:
            for i, layer in softmax_layers.items():
                layer.activation = saved[i]

    return LoadedModel(
        name=str(model.name),
        function=function,
        inputs=specs,
        outputs=output_names,
        keras_model=model,
        logits_function=logits_call if softmax_layers else None,
        logits_outputs=logits_outputs,
        layers=[str(layer.name) for layer in model.layers],
    )


def _output_names(model: Any) -> list[str]:
    structure = getattr(model, "output", None)
    if isinstance(structure, dict):  # keras-hub backbones: named outputs, flattened in key order
        return sorted(str(k) for k in structure)
    names = getattr(model, "output_names", None)
    outputs = model.outputs if isinstance(model.outputs, list | tuple) else [model.outputs]
    if not names:
        names = [getattr(_output_layer(t), "name", None) or f"output_{i}" for i, t in enumerate(outputs)]
    names = [str(n) for n in names]
    if len(set(names)) != len(names):  # one layer producing several outputs
        names = [f"{n}_{i}" for i, n in enumerate(names)]
    return names


def _flatten(result: Any, output_names: list[str]) -> list[Any]:
    if isinstance(result, dict):
        return [result[name] for name in output_names]
    if isinstance(result, list | tuple):
        return list(result)
    return [result]


def _output_layer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    if history is None:
        return None
    return getattr(history, "operation", None) or getattr(history, "layer", None) or history[0]


def _softmax_heads(model: Any) -> dict[int, Any]:
    """Outputs produced by a layer whose own activation is softmax (Dense(..., activation='softmax'))."""
    heads = {}
    outputs = model.outputs if isinstance(model.outputs, list | tuple) else [model.outputs]
    for i, tensor in enumerate(outputs):
        layer = _output_layer(tensor)
        activation = getattr(layer, "activation", None)
        if activation is not None and getattr(activation, "__name__", "") == "softmax":
            heads[i] = layer
    return heads


def _linear_activation(model: Any) -> Any:
    if type(model).__module__.startswith("tf_keras"):
        import tf_keras

        return tf_keras.activations.linear
    import keras

    return keras.activations.linear


# --------------------------------------------------------------------------- SavedModel / tf.Module


def _spec(name: str, shape: list[int | None], dtype: str, low: float, high: float, reason: str) -> TensorSpec:
    """An input spec whose batch axis is the first one when that one is free."""
    batch_axis = 0 if shape and shape[0] is None else None
    return TensorSpec(name, shape, dtype, low=low, high=high, range_reason=reason, batch_axis=batch_axis)


def _signature_specs(structured: Any) -> list[TensorSpec]:
    specs = []
    for name in sorted(structured):
        spec = structured[name]
        shape = [None if d is None else int(d) for d in spec.shape]
        dtype = _dtype_name(spec.dtype)
        low, high, reason = (
            (0.0, 10.0, "default for integer inputs")
            if np.issubdtype(np.dtype(dtype), np.integer)
            else (-1.0, 1.0, "default for float inputs")
        )
        specs.append(_spec(name, shape, dtype, low, high, reason))
    return specs


def _from_saved_model(path: str, config: ConversionConfig) -> LoadedModel:
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(path)
    except Exception as exc:
        first = first_line(exc)
        raise NotAModelError(f"{path} could not be loaded as a SavedModel: {first}", stage=STAGE) from None
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    if "serving_default" not in signatures:
        raise NotAModelError(
            f"{path} has no 'serving_default' signature (signatures: {sorted(signatures) or 'none'})",
            stage=STAGE,
            hint="save it with tf.saved_model.save(obj, path, signatures=obj.__call__.get_concrete_function(...))",
        )
    signature = signatures["serving_default"]
    _, kwargs_spec = signature.structured_input_signature
    specs = _signature_specs(kwargs_spec)
    output_names = sorted(signature.structured_outputs)
    names = [s.name for s in specs]

    def call(*args: Any) -> list[Any]:
        result = signature(**dict(zip(names, args, strict=True)))
        return [result[name] for name in output_names]

    tf_signature = [tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=s.name) for s in specs]
    function = tf.function(call, input_signature=tf_signature, autograph=False)
    # keep the loaded object alive as long as the function is
    function._pipeline_keepalive = loaded  # type: ignore[attr-defined]
    return LoadedModel(name=_folder_name(path), function=function, inputs=specs, outputs=output_names)


def _from_module(module: Any, config: ConversionConfig) -> LoadedModel:
    import tensorflow as tf

    try:
        call = module.__call__  # the traced tf.function itself, bound to the module
    except AttributeError:
        call = None
    concrete = None
    if isinstance(call, tf.types.experimental.GenericFunction) and call.input_signature is not None:
        concrete = call.get_concrete_function()
    if concrete is None:
        raise NotAModelError(
            f"tf.Module {type(module).__name__} has no __call__ traced with an input_signature",
            stage=STAGE,
            hint="decorate __call__ with @tf.function(input_signature=[tf.TensorSpec(...)])",
        )
    args = concrete.structured_input_signature[0]
    specs = _signature_specs({f"input_{i}" if not s.name else s.name: s for i, s in enumerate(args)})
    outputs = concrete.structured_outputs
    if isinstance(outputs, dict):
        output_names = sorted(outputs)
    elif isinstance(outputs, list | tuple):
        output_names = [f"output_{i}" for i in range(len(outputs))]
    else:
        output_names = ["output_0"]
    order = [s.name for s in specs]
    arg_names = [s.name or f"input_{i}" for i, s in enumerate(args)]

    def run(*xs: Any) -> list[Any]:
        by_name = dict(zip(order, xs, strict=True))
        result = call(*[by_name[n] for n in arg_names])
        if isinstance(result, dict):
            return [result[n] for n in output_names]
        return list(result) if isinstance(result, list | tuple) else [result]

    tf_signature = [tf.TensorSpec(s.shape, tf.as_dtype(s.dtype), name=s.name) for s in specs]
    function = tf.function(run, input_signature=tf_signature, autograph=False)
    return LoadedModel(name=type(module).__name__, function=function, inputs=specs, outputs=output_names)


def _folder_name(path: str) -> str:
    from pathlib import Path

    return Path(path).name or "saved_model"
