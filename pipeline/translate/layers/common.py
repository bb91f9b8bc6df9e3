"""What several layer families share: argument spelling, TensorFlow's "same" padding, the
``activation=`` argument, weight records and the layout of spatial layers."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, Translation, Value
from pipeline.translate.init import layer_init


def spell(values: Any, rank: int) -> str:
    """``(3, 3)`` for 2D/3D arguments, ``3`` for 1D, as a person writes them."""
    items = tuple(int(v) for v in (values if isinstance(values, list | tuple) else [values] * rank))
    if rank == 1:
        return str(items[0])
    return "(" + ", ".join(map(str, items)) + ")"


def as_tuple(values: Any, rank: int) -> tuple[int, ...]:
    if values is None:
        return (1,) * rank
    if isinstance(values, list | tuple):
        return tuple(int(v) for v in values)
    return (int(values),) * rank


def same_padding(size: int | None, kernel: int, stride: int, dilation: int) -> tuple[int, int]:
    """TensorFlow's (before, after) padding for ``padding="same"``: the extra one goes after."""
    effective = (kernel - 1) * dilation + 1
    if stride == 1:
        total = effective - 1
    elif size is None:
        raise Decline("padding='same' with stride > 1 needs the spatial size, which is not fixed")
    else:
        total = max((math.ceil(size / stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def pad_arg(pads: list[tuple[int, int]]) -> str:
    """F.pad's argument for per-dimension (before, after) pads: last dimension first."""
    flat = [p for before_after in reversed(pads) for p in before_after]
    return "(" + ", ".join(map(str, flat)) + ")"


def spatial_input(call: LayerCall, ctx: Context, rank: int) -> tuple[list[str], Value, bool, tuple[int | None, ...]]:
    """The input of a spatial layer in the layout it computes in: lines, value, whether the
    output is channels-first (not when Keras itself works channels_first), spatial sizes."""
    value = call.inputs[0]
    if call.config.get("data_format") == "channels_first":
        lines, moved = ctx.keras_layout(value)
        return lines, moved, False, tuple(value.shape[2 : 2 + rank])
    lines, moved = ctx.channels_first(value)
    return lines, moved, True, tuple(value.shape[1 : 1 + rank])


def out_value(call: LayerCall, ctx: Context, var: str, channels_first: bool, index: int = 0) -> Value:
    rank = len(call.output_shapes[index])
    return Value(var, call.output_shapes[index], call.output_dtypes[index], channels_first and rank >= 3)


def record(
    t: Translation, ctx: Context, call: LayerCall, key: str, variable: Any, array: np.ndarray, init: str | None = None
) -> None:
    """Add one weight: its torch-layout array, its Keras path, trainability, and its init line."""
    t.weights[key] = np.asarray(array, dtype=np.asarray(array).dtype)
    t.weight_map[key] = ctx.path(variable)
    if not call.layer.trainable or not getattr(variable, "trainable", True):
        t.buffers.add(key)
    if init:
        t.init_lines += layer_init(call.layer, init, f"self.{key}", tuple(variable.shape), tuple(np.shape(array)))


# --------------------------------------------------------------------------- activations


def _softmax(x: str, dim: int) -> str:
    return f"torch.softmax({x}, dim={dim})"


def activation_name(fn: Any) -> str:
    """The Keras name of an activation function or object (``relu``, ``softmax``...)."""
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return {"silu": "swish", "hard_silu": "hard_swish"}.get(name, name)


def activation_expr(name: str, x: str, value: Value, ctx: Context) -> str:
    """``x`` with Keras activation ``name`` applied, as a torch expression."""
    dim = ctx.axis(value, -1)
    exprs = {
        "linear": x,
        "relu": f"F.relu({x})",
        "relu6": f"F.relu6({x})",
        "sigmoid": f"torch.sigmoid({x})",
        "tanh": f"torch.tanh({x})",
        "softmax": _softmax(x, dim),
        "log_softmax": f"torch.log_softmax({x}, dim={dim})",
        "elu": f"F.elu({x})",
        "selu": f"F.selu({x})",
        "softplus": f"F.softplus({x})",
        "softsign": f"F.softsign({x})",
        "swish": f"F.silu({x})",
        "gelu": f"F.gelu({x})",
        "exponential": f"torch.exp({x})",
        "hard_swish": f"F.hardswish({x})",
        "mish": f"F.mish({x})",
        "leaky_relu": f"F.leaky_relu({x}, negative_slope=0.2)",
        "tanh_shrink": f"F.tanhshrink({x})",
        "hard_tanh": f"F.hardtanh({x})",
    }
    if name == "hard_sigmoid":
        if ctx.keras_version >= 3:
            return f"F.hardsigmoid({x})"
        return f"torch.clamp(0.2 * {x} + 0.5, 0.0, 1.0)"  # tf_keras: 0.2 x + 0.5, not relu6(x + 3) / 6
    if name == "gelu" and ctx.keras_version < 3:
        return f'F.gelu({x}, approximate="none")'
    if name not in exprs:
        raise Decline(f"activation '{name}' has no translation")
    return exprs[name]


ACTIVATION_MODULES = {
    "relu": "nn.ReLU()",
    "relu6": "nn.ReLU6()",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "elu": "nn.ELU()",
    "selu": "nn.SELU()",
    "softplus": "nn.Softplus()",
    "softsign": "nn.Softsign()",
    "swish": "nn.SiLU()",
    "gelu": "nn.GELU()",
    "hard_swish": "nn.Hardswish()",
    "mish": "nn.Mish()",
    "tanh_shrink": "nn.Tanhshrink()",
    "hard_tanh": "nn.Hardtanh()",
}


def activation_module(name: str, value: Value, ctx: Context) -> str | None:
    """An ``nn`` module for activation ``name``, or None when only an expression fits."""
    if name == "softmax":
        return f"nn.Softmax(dim={ctx.axis(value, -1)})"
    if name == "hard_sigmoid" and ctx.keras_version >= 3:
        return "nn.Hardsigmoid()"
    return ACTIVATION_MODULES.get(name)
