"""A Keras model (Keras 3 or tf.keras 2) as a :class:`LoadedModel`.

Its call becomes a ``tf.function`` taking the inputs positionally (the form tf2onnx's
``from_function`` exports, which also works for Keras 3, unlike ``from_keras``). The layers stay
reachable, so later stages can name the Keras layer behind an ONNX node, and outputs behind a
softmax head also get a logits function.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pipeline.config import ConversionConfig
from pipeline.errors import InputSpecError
from pipeline.sources import Source
from pipeline.stages.id_ranges import keys_only, lookup_vocabulary
from pipeline.stages.loaded import STAGE, LoadedModel, dtype_name, input_spec
from pipeline.stages.string_inputs import refuse_string_input
from pipeline.stages.value_ranges import input_consumers, pad_value, spec_name, value_range


def is_keras_model(obj: Any) -> bool:
    """Whether ``obj`` is a Keras 3 or tf.keras model (it has layers and inputs)."""
    module = type(obj).__module__
    return hasattr(obj, "layers") and hasattr(obj, "inputs") and module.startswith(("keras", "tf_keras"))


def from_keras(model: Any, config: ConversionConfig, source: Source) -> LoadedModel:
    """The model's call as a positional ``tf.function``, with input specs and ranges, outputs, logits."""
    import tensorflow as tf

    try:
        model_inputs = list(model.inputs)
    except (AttributeError, ValueError) as exc:
        raise InputSpecError(
            f"model '{model.name}' has no defined inputs ({exc}); build it with an Input layer or input_shape",
            stage=STAGE,
        ) from None
    consumers = input_consumers(model)
    specs = []
    for tensor in model_inputs:
        name = spec_name(tensor)
        dtype = dtype_name(tensor.dtype)
        shape = [None if d is None else int(d) for d in tensor.shape]
        refuse_string_input(name, dtype, consumers.get(name, []), STAGE)  # torch has no strings
        low, high, reason = value_range(name, dtype, consumers.get(name, []), source, model)
        spec = input_spec(name, shape, dtype, low, high, reason)
        keys = lookup_vocabulary(consumers.get(name, []))  # ids drawn mostly from a lookup layer's keys
        only = bool(keys) and keys_only(consumers.get(name, []))
        specs.append(replace(spec, pad_value=pad_value(model, name), known_values=keys, known_only=only))
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

    def with_logits_call(*args: Any) -> list[Any]:
        heads = {i: layer.activation for i, layer in softmax_layers.items()}
        values = logits_call(*args)  # the heads' logits: one pass through the model
        logits = [values[i] for i in heads]
        for i, activation in heads.items():  # the head's own last step (Dense: activation(x @ kernel + bias))
            values[i] = activation(values[i])
        return values + logits

    return LoadedModel(
        name=str(model.name),
        function=function,
        inputs=specs,
        outputs=output_names,
        keras_model=model,
        logits_function=logits_call if softmax_layers else None,
        logits_outputs=logits_outputs,
        layers=[str(layer.name) for layer in model.layers],
        with_logits_function=with_logits_call if softmax_layers and _heads_are_leaves(softmax_layers) else None,
    )


def _heads_are_leaves(heads: dict[int, Any]) -> bool:
    """Whether every softmax head is called once and feeds no other layer: then a pass with its activation
    made linear changes nothing but its own output, and the outputs follow from the logits."""
    for layer in heads.values():
        inbound, outbound = getattr(layer, "_inbound_nodes", None), getattr(layer, "_outbound_nodes", None)
        if inbound is None or outbound is None or len(inbound) != 1 or len(outbound) != 0:
            return False
    return True


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
