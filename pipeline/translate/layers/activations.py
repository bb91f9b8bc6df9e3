"""Activation layers: Activation, ReLU, LeakyReLU, PReLU, ELU, Softmax, ThresholdedReLU."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers.common import activation_expr, activation_module, activation_name, record


def _module_call(call: LayerCall, ctx: Context, ctor: str | None, expr: str | None = None) -> Translation:
    value = call.inputs[0]
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], value.channels_first, flat_from=value.flat_from)
    t = Translation(modules={}, lines=[], outputs=[result])
    if ctor is not None:
        if call.call_index == 0:
            t.modules[call.attr] = ctor
        t.lines.append(f"{out} = self.{call.attr}({value.var})")
    else:
        t.lines.append(f"{out} = {expr}")
    return t


def translate_activation(call: LayerCall, ctx: Context) -> Translation:
    """Activation(name) as the ``nn`` module of that activation (``nn.ReLU()``), else an expression.

    Keras's softmax works on the last axis, which is torch's axis 1 for a channels-first tensor;
    tf_keras's hard_sigmoid is ``0.2 x + 0.5`` clipped, not torch's ``relu6(x + 3) / 6``.
    """
    name = activation_name(call.layer.activation)
    value = call.inputs[0]
    lines: list[str] = []
    if name in ("softmax", "log_softmax") and value.flat_from is not None:
        lines, value = ctx.keras_layout(value)
        call = LayerCall(call.layer, call.attr, [value], call.output_shapes, call.output_dtypes, call.call_index)
    ctor = activation_module(name, value, ctx)
    if name == "linear":
        t = _module_call(call, ctx, None, value.var)
    else:
        t = _module_call(call, ctx, ctor, None if ctor else activation_expr(name, value.var, value, ctx))
    t.lines[:0] = lines
    return t


def translate_relu(call: LayerCall, ctx: Context) -> Translation:
    """ReLU(max_value, negative_slope, threshold) as ``nn.ReLU()`` / ``nn.ReLU6()``, else an expression.

    torch's ReLU has no slope, threshold or cap; Keras's general form is
    ``x >= threshold ? min(x, max_value) : negative_slope * (x - threshold)``.
    """
    cfg = call.config
    cap = cfg.get("max_value")
    slope = float(cfg.get("negative_slope", 0.0) or 0.0)
    threshold = float(cfg.get("threshold", 0.0) or 0.0)
    x = call.inputs[0].var
    if threshold == 0.0 and slope == 0.0:
        if cap is None:
            return _module_call(call, ctx, "nn.ReLU()")
        if float(cap) == 6.0:
            return _module_call(call, ctx, "nn.ReLU6()")
        return _module_call(call, ctx, f"nn.Hardtanh(0.0, {float(cap):g})")
    if threshold == 0.0 and cap is None:
        return _module_call(call, ctx, f"nn.LeakyReLU(negative_slope={slope:g})")
    expr = f"torch.where({x} >= {threshold:g}, {x}, {slope:g} * ({x} - {threshold:g}))"
    if cap is not None:
        expr = f"torch.clamp({expr}, max={float(cap):g})"
    return _module_call(call, ctx, None, expr)


def translate_leaky_relu(call: LayerCall, ctx: Context) -> Translation:
    """LeakyReLU as ``nn.LeakyReLU(negative_slope=...)``.

    Keras 3 calls the slope ``negative_slope`` (default 0.3), tf_keras ``alpha``; torch's default is 0.01.
    """
    cfg = call.config
    slope = cfg.get("negative_slope", cfg.get("alpha", 0.3))
    return _module_call(call, ctx, f"nn.LeakyReLU(negative_slope={float(slope):g})")


def translate_elu(call: LayerCall, ctx: Context) -> Translation:
    """ELU(alpha) as ``nn.ELU(alpha=...)``.

    Same formula; Keras's default alpha is 1.0 as torch's.
    """
    alpha = float(call.config.get("alpha", 1.0))
    return _module_call(call, ctx, "nn.ELU()" if alpha == 1.0 else f"nn.ELU(alpha={alpha:g})")


def translate_softmax(call: LayerCall, ctx: Context) -> Translation:
    """Softmax(axis) as ``nn.Softmax(dim=...)`` on the axis as held in forward().

    Keras's axis counts in its own (channels-last) layout; a channels-first tensor's channel axis
    is torch's 1. A mask argument is not translated.
    """
    value = call.inputs[0]
    if call.kwargs.get("mask") is not None or value.flat_from is not None:
        raise Decline("Softmax with a mask or over a flattened channels-first map")
    axis = call.config.get("axis", -1)
    if isinstance(axis, list | tuple):
        if len(axis) != 1:
            raise Decline("Softmax over several axes")
        axis = axis[0]
    return _module_call(call, ctx, f"nn.Softmax(dim={ctx.axis(value, int(axis))})")


def translate_thresholded_relu(call: LayerCall, ctx: Context) -> Translation:
    """ThresholdedReLU(theta) as ``nn.Threshold(theta, 0.0)``.

    Keras keeps x where x > theta, torch's Threshold the same (strictly greater).
    """
    theta = float(call.config.get("theta", 1.0))
    return _module_call(call, ctx, f"nn.Threshold({theta:g}, 0.0)")


def translate_prelu(call: LayerCall, ctx: Context) -> Translation:
    """PReLU with one slope per channel (shared over the spatial axes) as ``nn.PReLU(num_parameters=C)``.

    Keras keeps a slope per element of the input (``alpha`` of shape input[1:]) unless
    ``shared_axes`` says otherwise; torch's PReLU has one per channel (axis 1) or a single one. Other
    sharings decline.
    """
    layer = call.layer
    alpha = ctx.array(layer.alpha)
    value = call.inputs[0]
    t_value = value
    lines: list[str] = []
    channels = alpha.shape[-1]
    if alpha.size == 1:
        ctor = "nn.PReLU()"
    elif alpha.size == channels and value.rank >= 2:
        if value.rank >= 3:
            lines, t_value = ctx.channels_first(value)
        ctor = f"nn.PReLU(num_parameters={channels})"
    else:
        raise Decline("PReLU with a slope per position (shared_axes not covering the spatial axes)")
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], t_value.channels_first)
    t = Translation(modules={}, lines=[*lines, f"{out} = self.{call.attr}({t_value.var})"], outputs=[result])
    if call.call_index == 0:
        t.modules[call.attr] = ctor
        record(t, ctx, call, f"{call.attr}.weight", layer.alpha, alpha.reshape(-1), "alpha_initializer")
    return t


ENTRIES = (
    LayerEntry.of(("Activation",), translate_activation),
    LayerEntry.of(("ReLU",), translate_relu),
    LayerEntry.of(("LeakyReLU",), translate_leaky_relu),
    LayerEntry.of(("ELU",), translate_elu),
    LayerEntry.of(("Softmax",), translate_softmax),
    LayerEntry.of(("ThresholdedReLU",), translate_thresholded_relu),
    LayerEntry.of(("PReLU",), translate_prelu),
)
