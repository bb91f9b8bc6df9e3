"""SavedModel directories and plain ``tf.Module`` objects as a :class:`LoadedModel`.

A SavedModel is called through its ``serving_default`` signature (inputs by name, sorted), a
``tf.Module`` through a ``__call__`` traced with an ``input_signature``; neither has Keras layers,
so input ranges are the defaults for their dtype.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import ConversionConfig
from pipeline.context import TensorSpec
from pipeline.errors import NotAModelError
from pipeline.helpers import first_line
from pipeline.stages.loaded import STAGE, LoadedModel, dtype_name, input_spec


def _signature_specs(structured: Any) -> list[TensorSpec]:
    specs = []
    for name in sorted(structured):
        spec = structured[name]
        shape = [None if d is None else int(d) for d in spec.shape]
        dtype = dtype_name(spec.dtype)
        low, high, reason = (
            (0.0, 10.0, "default for integer inputs")
            if np.issubdtype(np.dtype(dtype), np.integer)
            else (-1.0, 1.0, "default for float inputs")
        )
        specs.append(input_spec(name, shape, dtype, low, high, reason))
    return specs


def from_saved_model(path: str, config: ConversionConfig) -> LoadedModel:
    """A SavedModel directory, called through its ``serving_default`` signature."""
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


def from_module(module: Any, config: ConversionConfig) -> LoadedModel:
    """A ``tf.Module`` whose ``__call__`` is a ``tf.function`` with an input signature."""
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
    return Path(path).name or "saved_model"
