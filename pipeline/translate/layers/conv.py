"""Convolutions: Conv1D/2D/3D, their transposes, DepthwiseConv1D/2D, SeparableConv1D/2D."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation
from pipeline.translate.layers.common import (
    activation_expr,
    activation_name,
    as_tuple,
    out_value,
    pad_arg,
    record,
    same_padding,
    spatial_input,
    spell,
)


def _rank(call: LayerCall) -> int:
    found = re.search(r"([123])D", call.class_name)
    if found is None:
        raise Decline(f"{call.class_name}: no spatial rank in the class name")
    return int(found.group(1))


def torch_kernel(kernel: np.ndarray) -> np.ndarray:
    """Keras ``(*k, in, out)`` (transposes: ``(*k, out, in)``) -> torch ``(out, in, *k)`` (``(in, out, *k)``)."""
    n = kernel.ndim
    return np.ascontiguousarray(np.transpose(kernel, (n - 1, n - 2, *range(n - 2))))


def _padding(
    call: LayerCall, sizes: tuple, kernel: tuple, stride: tuple, dilation: tuple
) -> tuple[str, list[str], list[str]]:
    """Constructor padding argument, F.pad lines' argument (or empty), and a note."""
    padding = call.config.get("padding", "valid")
    if padding == "valid":
        return "", [], []
    if padding == "causal":
        left = (kernel[0] - 1) * dilation[0]
        return "", [f"({left}, 0)"], ["Keras 'causal' padding: pad the past only"]
    pads = [same_padding(sizes[i], kernel[i], stride[i], dilation[i]) for i in range(len(kernel))]
    if all(a == b for a, b in pads):
        if all(a == 0 for a, _ in pads):
            return "", [], []
        return f"padding={spell([a for a, _ in pads], len(pads))}", [], []
    return "", [pad_arg(pads)], ["TensorFlow pads 'same' more after than before; torch pads evenly"]


def _finish(call: LayerCall, ctx: Context, t: Translation, x: str, expr: str, channels_first: bool) -> None:
    out = ctx.var(call.attr)
    act = activation_name(getattr(call.layer, "activation", None))
    value = out_value(call, ctx, out, channels_first)
    t.lines.append(f"{out} = {activation_expr(act, expr, value, ctx)}")
    t.outputs.append(value)


def _prepare(
    call: LayerCall, ctx: Context, rank: int
) -> tuple[Translation, str, bool, tuple, tuple, tuple, tuple, str]:
    cfg = call.config
    lines, value, cf, sizes = spatial_input(call, ctx, rank)
    kernel = as_tuple(cfg["kernel_size"], rank)
    stride = as_tuple(cfg.get("strides", 1), rank)
    dilation = as_tuple(cfg.get("dilation_rate", 1), rank)
    t = Translation(modules={}, lines=list(lines), outputs=[])
    pad_ctor, pad_lines, notes = _padding(call, sizes, kernel, stride, dilation)
    x = value.var
    if pad_lines:
        padded = ctx.var(f"{call.attr}_pad")
        t.lines.append(f"{padded} = F.pad({x}, {pad_lines[0]})  # {notes[0]}")
        x = padded
    return t, x, cf, kernel, stride, dilation, sizes, pad_ctor


def _args(kernel: tuple, stride: tuple, dilation: tuple, pad_ctor: str, rank: int) -> list[str]:
    args = [f"kernel_size={spell(kernel, rank)}"]
    if any(s != 1 for s in stride):
        args.append(f"stride={spell(stride, rank)}")
    if pad_ctor:
        args.append(pad_ctor)
    if any(d != 1 for d in dilation):
        args.append(f"dilation={spell(dilation, rank)}")
    return args


def _module(
    t: Translation, ctx: Context, call: LayerCall, ctor: str, variable: Any, weight: np.ndarray, init: str
) -> None:
    """On the layer's first call: its module, its kernel as ``weight`` and its bias when it has one."""
    if call.call_index != 0:
        return
    t.modules[call.attr] = ctor
    record(t, ctx, call, f"{call.attr}.weight", variable, weight, init)
    layer = call.layer
    if layer.use_bias:
        record(t, ctx, call, f"{call.attr}.bias", layer.bias, ctx.array(layer.bias), "bias_initializer")


def translate_conv(call: LayerCall, ctx: Context) -> Translation:
    """Conv1D/2D/3D as ``nn.Conv{n}d``, kernel ``(*k, in, out)`` -> ``(out, in, *k)``.

    Keras convolves channels-last, torch channels-first: the input is held channels-first.
    TensorFlow's padding="same" with stride > 1 pads one more after than before, which torch's
    symmetric padding cannot express: an explicit ``F.pad`` goes before the convolution.
    """
    rank = _rank(call)
    layer = call.layer
    t, x, cf, kernel, stride, dilation, _, pad_ctor = _prepare(call, ctx, rank)
    k = ctx.array(layer.kernel)
    groups = int(call.config.get("groups", 1) or 1)
    in_channels, out_channels = k.shape[-2] * groups, k.shape[-1]
    args = [str(in_channels), str(out_channels), *_args(kernel, stride, dilation, pad_ctor, rank)]
    if groups != 1:
        args.append(f"groups={groups}")
    if not layer.use_bias:
        args.append("bias=False")
    _module(t, ctx, call, f"nn.Conv{rank}d({', '.join(args)})", layer.kernel, torch_kernel(k), "kernel_initializer")
    _finish(call, ctx, t, x, f"self.{call.attr}({x})", cf)
    return t


def translate_depthwise(call: LayerCall, ctx: Context) -> Translation:
    """DepthwiseConv1D/2D as ``nn.Conv{n}d`` with ``groups=in_channels``.

    Keras keeps the depthwise kernel as ``(*k, in, multiplier)``; torch as ``(in * multiplier, 1,
    *k)`` with output channel ``i * multiplier + m``, the order TensorFlow uses too.
    """
    rank = _rank(call)
    layer = call.layer
    t, x, cf, kernel, stride, dilation, _, pad_ctor = _prepare(call, ctx, rank)
    k = ctx.array(layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel)
    variable = layer.depthwise_kernel if hasattr(layer, "depthwise_kernel") else layer.kernel
    channels, mult = k.shape[-2], k.shape[-1]
    weight = np.transpose(k, (rank, rank + 1, *range(rank))).reshape(channels * mult, 1, *k.shape[:rank])
    args = [str(channels), str(channels * mult), *_args(kernel, stride, dilation, pad_ctor, rank)]
    args.append(f"groups={channels}")
    if not layer.use_bias:
        args.append("bias=False")
    _module(t, ctx, call, f"nn.Conv{rank}d({', '.join(args)})", variable, weight, "depthwise_initializer")
    _finish(call, ctx, t, x, f"self.{call.attr}({x})", cf)
    return t


def translate_separable(call: LayerCall, ctx: Context) -> Translation:
    """SeparableConv1D/2D as a depthwise ``nn.Conv{n}d`` then a pointwise one (``SeparableConv``).

    torch has no separable convolution module; Keras's two kernels become the two convolutions'
    weights (``<layer>.depthwise.weight``, ``<layer>.pointwise.weight``), the bias the pointwise one's.
    """
    rank = _rank(call)
    layer = call.layer
    t, x, cf, kernel, stride, dilation, _, pad_ctor = _prepare(call, ctx, rank)
    dk = ctx.array(layer.depthwise_kernel)
    pk = ctx.array(layer.pointwise_kernel)
    channels, mult = dk.shape[-2], dk.shape[-1]
    out_channels = pk.shape[-1]
    dw = np.transpose(dk, (rank, rank + 1, *range(rank))).reshape(channels * mult, 1, *dk.shape[:rank])
    args = [str(channels), str(channels * mult), *_args(kernel, stride, dilation, pad_ctor, rank)]
    args += [f"groups={channels}", "bias=False"]
    point = [str(channels * mult), str(out_channels), "kernel_size=1"]
    if not layer.use_bias:
        point.append("bias=False")
    if call.call_index == 0:
        t.modules[call.attr] = f"SeparableConv(nn.Conv{rank}d({', '.join(args)}), nn.Conv{rank}d({', '.join(point)}))"
        t.helpers.append("SeparableConv")
        record(t, ctx, call, f"{call.attr}.depthwise.weight", layer.depthwise_kernel, dw, "depthwise_initializer")
        record(
            t,
            ctx,
            call,
            f"{call.attr}.pointwise.weight",
            layer.pointwise_kernel,
            torch_kernel(pk),
            "pointwise_initializer",
        )
        if layer.use_bias:
            record(t, ctx, call, f"{call.attr}.pointwise.bias", layer.bias, ctx.array(layer.bias), "bias_initializer")
    _finish(call, ctx, t, x, f"self.{call.attr}({x})", cf)
    return t


def translate_transpose(call: LayerCall, ctx: Context) -> Translation:
    """Conv1D/2D/3DTranspose as ``nn.ConvTranspose{n}d``, kernel ``(*k, out, in)`` -> ``(in, out, *k)``.

    TensorFlow's padding="same" crops ``k - s`` from the full transposed output, the odd one from
    the end; torch crops evenly: an odd crop becomes a slice after the convolution.
    """
    rank = _rank(call)
    layer = call.layer
    cfg = call.config
    lines, value, cf, _ = spatial_input(call, ctx, rank)
    kernel = as_tuple(cfg["kernel_size"], rank)
    stride = as_tuple(cfg.get("strides", 1), rank)
    dilation = as_tuple(cfg.get("dilation_rate", 1), rank)
    if any(d != 1 for d in dilation) or cfg.get("output_padding") is not None:
        raise Decline("dilation or output_padding in a transposed convolution")
    k = ctx.array(layer.kernel)
    t = Translation(modules={}, lines=list(lines), outputs=[])
    args = [str(k.shape[-1]), str(k.shape[-2]), f"kernel_size={spell(kernel, rank)}"]
    if any(s != 1 for s in stride):
        args.append(f"stride={spell(stride, rank)}")
    crops: list[tuple[int, int]] = []
    if cfg.get("padding") == "same":
        pads, extra = [], []
        for kk, ss in zip(kernel, stride, strict=True):
            total = kk - ss
            if total < 0:
                pads.append(0)
                extra.append(ss - kk)
                crops.append((0, 0))
            elif total % 2 == 0:
                pads.append(total // 2)
                extra.append(0)
                crops.append((0, 0))
            else:
                pads.append(0)
                extra.append(0)
                crops.append((total // 2, total - total // 2))
        if any(pads):
            args.append(f"padding={spell(pads, rank)}")
        if any(extra):
            args.append(f"output_padding={spell(extra, rank)}")
    if not layer.use_bias:
        args.append("bias=False")
    ctor = f"nn.ConvTranspose{rank}d({', '.join(args)})"
    _module(t, ctx, call, ctor, layer.kernel, torch_kernel(k), "kernel_initializer")
    expr = f"self.{call.attr}({value.var})"
    if any(a or b for a, b in crops):
        first = 2 if cf else 1
        index = [":"] * first + [f"{a}:{'-' + str(b) if b else ''}" for a, b in crops]
        expr += "[" + ", ".join(index) + "]  # TensorFlow crops the odd 'same' row at the end"
        expr = expr.replace("  #", "", 0)
    _finish(call, ctx, t, value.var, expr.split("  #")[0], cf)
    return t


ENTRIES = (
    LayerEntry.of(("Conv1D", "Conv2D", "Conv3D"), translate_conv),
    LayerEntry.of(("DepthwiseConv1D", "DepthwiseConv2D"), translate_depthwise),
    LayerEntry.of(("SeparableConv1D", "SeparableConv2D"), translate_separable),
    LayerEntry.of(("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"), translate_transpose),
)
