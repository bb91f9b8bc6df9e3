"""Walk a Keras layer graph (Keras 3 or tf_keras) and translate each layer call in order.

Functional and Sequential models, models nested inside models (inlined: their layers become
attributes of the one module), shared layers (one attribute, several calls), several inputs and
outputs, dict outputs. The walk is a post-order depth-first search from the model's outputs, so
``forward()`` computes each value just before it is first needed, as a person would write it.

Keras 3 and tf_keras keep the same graph under different names (``node.operation`` /
``node.layer``, ``node.input_tensors`` / ``node.keras_inputs``, ``node.arguments`` /
``node.call_args``); the small accessors below hide that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipeline.translate.base import (
    RESERVED,
    Context,
    Decline,
    LayerCall,
    LayerEntry,
    Translation,
    Value,
    identifier,
)


@dataclass
class Step:
    """One translated layer call, and how it was translated."""

    call: LayerCall
    translation: Translation
    method: str  # "direct" | "onnx"
    reason: str = ""


@dataclass
class Walk:
    """The translated graph: forward() arguments, steps in order, and the returned values."""

    name: str
    inputs: list[Value]
    input_names: list[str]  # Keras input names (the pipeline's input specs)
    steps: list[Step]
    outputs: list[Value]
    output_keys: list[str] | None = None  # keys when the Keras model returns a dict
    attrs: dict[int, str] = field(default_factory=dict)  # id(layer) -> attribute


Fallback = Callable[[LayerCall, Context, str], Translation]


def is_model(op: Any) -> bool:
    """Whether ``op`` is a Keras model with a layer graph (Functional or built Sequential)."""
    return functional_of(op) is not None


def functional_of(model: Any) -> Any:
    """The functional graph of ``model``: Keras 3 Sequential keeps it in ``_functional``."""
    inner = getattr(model, "_functional", None)
    if inner is not None:
        return inner
    if getattr(model, "_nodes_by_depth", None) is not None and hasattr(model, "inputs"):
        try:
            return model if model.inputs else None
        except (AttributeError, ValueError):
            return None
    return None


def node_operation(node: Any) -> Any:
    return getattr(node, "operation", None) or node.layer


def node_inputs(node: Any) -> list[Any]:
    if hasattr(node, "keras_inputs"):
        return list(node.keras_inputs)
    return list(node.input_tensors)


def node_outputs(node: Any) -> list[Any]:
    outputs = node.outputs
    if isinstance(outputs, list | tuple):
        return list(outputs)
    if hasattr(node, "keras_inputs"):  # tf_keras: a nested structure
        import tensorflow as tf

        return list(tf.nest.flatten(outputs))
    return [outputs]


def node_call(node: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Positional and keyword call arguments of ``node``."""
    if hasattr(node, "call_args"):
        return tuple(node.call_args), dict(node.call_kwargs)
    return tuple(node.arguments.args), dict(node.arguments.kwargs)


def _history(tensor: Any) -> tuple[Any, int, int]:
    history = tensor._keras_history
    return history[0], int(history[1]), int(history[2])


def tensor_key(tensor: Any) -> tuple[int, int, int]:
    op, node_index, index = _history(tensor)
    return id(op), node_index, index


def producer(tensor: Any) -> Any:
    op, node_index, _ = _history(tensor)
    return op._inbound_nodes[node_index]


def dtype_name(dtype: Any) -> str:
    return str(getattr(dtype, "name", dtype)).replace("tf.", "")


def shape_of(tensor: Any) -> tuple[int | None, ...]:
    shape = tensor.shape
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return tuple(None if d is None else int(d) for d in dims)


def flat_outputs(model: Any) -> tuple[list[Any], list[str] | None]:
    """The model's output tensors in the pipeline's order, and the keys when they form a dict."""
    graph = functional_of(model)
    struct = getattr(graph, "_outputs_struct", None)
    if struct is None:
        struct = getattr(graph, "_nested_outputs", None)
    if isinstance(struct, dict):
        names = _output_names(model)
        keys = names if set(names) == set(struct) else list(struct)
        return [struct[k] for k in keys], keys
    outputs = graph.outputs
    return (list(outputs) if isinstance(outputs, list | tuple) else [outputs]), None


def _output_names(model: Any) -> list[str]:
    names = getattr(model, "output_names", None) or []
    return [str(n) for n in names]


class Walker:
    """Translates the calls of one model, in the order forward() needs them."""

    def __init__(self, ctx: Context, registry: Any, fallback: Fallback) -> None:
        self.ctx = ctx
        self.registry = registry
        self.fallback = fallback
        self.values: dict[tuple[int, int, int], Value] = {}
        self.steps: list[Step] = []
        self.attrs: dict[int, str] = {}
        self.calls: dict[int, int] = {}
        self.taken: set[str] = set()

    def attr_for(self, layer: Any) -> str:
        if id(layer) in self.attrs:
            return self.attrs[id(layer)]
        base = identifier(str(layer.name))
        base = f"{base}_layer" if base in RESERVED else base  # self.double would be nn.Module.double
        name, n = base, 1
        while name in self.taken or name in RESERVED:
            n += 1
            name = f"{base}_{n}"
        self.taken.add(name)
        self.attrs[id(layer)] = name
        return name

    def walk(self, model: Any, inputs: list[Value] | None = None) -> tuple[list[Value], list[str] | None]:
        """Translate ``model``'s graph; ``inputs`` bind its inputs (None: they are forward() arguments)."""
        graph = functional_of(model)
        model_inputs = list(graph.inputs) if isinstance(graph.inputs, list | tuple) else [graph.inputs]
        if inputs is not None:
            for tensor, value in zip(model_inputs, inputs, strict=True):
                self.values[tensor_key(tensor)] = value
        outputs, keys = flat_outputs(model)
        for tensor in outputs:
            self._compute(tensor)
        return [self.values[tensor_key(t)] for t in outputs], keys

    def _compute(self, tensor: Any) -> None:
        stack: list[tuple[Any, bool]] = [(producer(tensor), False)]
        while stack:
            node, ready = stack.pop()
            outs = node_outputs(node)
            if all(tensor_key(t) in self.values for t in outs):
                continue
            if node.is_input:
                name = getattr(node_operation(node), "name", "?")
                raise Decline(f"input '{name}' is not an input of the model being translated")
            missing = [t for t in node_inputs(node) if tensor_key(t) not in self.values]
            if ready or not missing:
                self._emit(node)
                continue
            stack.append((node, True))
            for t in reversed(missing):
                stack.append((producer(t), False))

    def _emit(self, node: Any) -> None:
        op = node_operation(node)
        inputs = [self.values[tensor_key(t)] for t in node_inputs(node)]
        outs = node_outputs(node)
        if is_model(op):  # a nested model: inline its layers (own scope: it may be called twice)
            saved, self.values = self.values, {}
            try:
                values, _ = self.walk(op, inputs)
            finally:
                self.values = saved
            for tensor, value in zip(outs, values, strict=True):
                self.values[tensor_key(tensor)] = value
            return
        attr = self.attr_for(op)
        index = self.calls.get(id(op), 0)
        self.calls[id(op)] = index + 1
        args, kwargs = node_call(node)
        by_id = {id(t): v for t, v in zip(node_inputs(node), inputs, strict=True)}
        call_kwargs = {k: _bind(v, by_id) for k, v in kwargs.items()}
        call_kwargs["_args"] = _bind(tuple(args), by_id)  # positional arguments, tensors as Values
        call = LayerCall(
            layer=op,
            attr=attr,
            inputs=inputs,
            output_shapes=[shape_of(t) for t in outs],
            output_dtypes=[dtype_name(t.dtype) for t in outs],
            call_index=index,
            kwargs=call_kwargs,
        )
        entry: LayerEntry | None = self.registry.get(registry_key(op))
        if entry is None:
            entry = self.registry.get(type(op).__name__)
        method, reason = "direct", ""
        translation: Translation | None = None
        if entry is None:
            reason = f"no translation entry for {type(op).__name__}"
        else:
            try:
                translation = entry.translate(call, self.ctx)
            except Decline as exc:
                reason = str(exc) or "declined"
        if translation is None:
            method = "onnx"
            translation = self.fallback(call, self.ctx, reason)
        if len(translation.outputs) != len(outs):
            raise Decline(f"{attr}: the translation gives {len(translation.outputs)} outputs, Keras {len(outs)}")
        for tensor, value in zip(outs, translation.outputs, strict=True):
            if value.mask is None and inputs and inputs[0].mask and getattr(op, "supports_masking", False):
                value.mask = inputs[0].mask
            self.values[tensor_key(tensor)] = value
        self.steps.append(Step(call, translation, method, reason))


def is_op(op: Any) -> bool:
    """Whether ``op`` is a ``keras.ops`` node of a functional graph (``x + 3``), not a layer."""
    return ".ops." in type(op).__module__ and ".layers." not in type(op).__module__


def registry_key(op: Any) -> str:
    """``ops.<Class>`` for keras.ops nodes (``ops.Add`` is not the Add layer), else the class name."""
    return f"ops.{type(op).__name__}" if is_op(op) else type(op).__name__


def _bind(value: Any, by_id: dict[int, Value]) -> Any:
    """Call keyword arguments with Keras tensors replaced by their Values."""
    if id(value) in by_id:
        return by_id[id(value)]
    if isinstance(value, list | tuple):
        return type(value)(_bind(v, by_id) for v in value)
    return value


def walk_model(model: Any, ctx: Context, registry: Any, fallback: Fallback, input_names: list[str]) -> Walk:
    """Translate ``model``: forward() arguments named after ``input_names`` (the Keras input names)."""
    graph = functional_of(model)
    if graph is None:
        raise Decline(f"model '{model.name}' has no layer graph (subclassed model or unbuilt Sequential)")
    tensors = list(graph.inputs) if isinstance(graph.inputs, list | tuple) else [graph.inputs]
    walker = Walker(ctx, registry, fallback)
    args: list[Value] = []
    for tensor, name in zip(tensors, input_names, strict=True):
        var = identifier(name) if identifier(name) in ("x", "y", "z") else ctx.var(identifier(name))
        value = Value(var, shape_of(tensor), dtype_name(tensor.dtype))
        args.append(value)
    bound = [_argument_layout(v, ctx) for v in args]
    prologue = [line for lines, _ in bound for line in lines]
    outputs, keys = walker.walk(model, [v for _, v in bound])
    if prologue:
        walker.steps.insert(0, Step(_input_call(), Translation({}, prologue, []), "direct"))
    return Walk(
        name=str(model.name),
        inputs=args,
        input_names=list(input_names),
        steps=walker.steps,
        outputs=outputs,
        output_keys=keys,
        attrs=walker.attrs,
    )


def _argument_layout(value: Value, ctx: Context) -> tuple[list[str], Value]:
    """How an input enters forward(): as it is, or marked channels-first (``layout: channels_first``)."""
    if ctx.layout == "channels_first" and value.rank >= 3 and value.dtype.startswith("float"):
        return [], Value(value.var, value.shape, value.dtype, True)
    return [], value


def _input_call() -> LayerCall:
    return LayerCall(layer=None, attr="", inputs=[], output_shapes=[], output_dtypes=[])
