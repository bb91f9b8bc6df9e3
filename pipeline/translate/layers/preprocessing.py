"""Preprocessing layers inside models: Rescaling, Normalization, Resizing (lookups: ``lookup.py``)."""

from __future__ import annotations

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value


def translate_rescaling(call: LayerCall, ctx: Context) -> Translation:
    """Rescaling(scale, offset) as ``x * scale + offset``.

    Element-wise with constants: the input keeps its layout; a per-channel scale (a list) is
    reshaped to the channel axis as held.
    """
    value = call.inputs[0]
    cfg = call.config
    scale, offset = cfg.get("scale", 1.0), cfg.get("offset", 0.0)
    if isinstance(scale, dict) or isinstance(offset, dict):
        raise Decline("Rescaling with tensor-valued scale/offset")

    def constant(v: float | list[float]) -> str:
        if isinstance(v, list | tuple):
            arr = np.asarray(v, np.float32).reshape(-1)
            shape = (
                f".view(-1, {', '.join(['1'] * (value.rank - 2))})" if value.channels_first and value.rank >= 3 else ""
            )
            return f"torch.tensor({arr.tolist()}){shape}"
        return f"{float(v)!r}"

    cast = "" if value.dtype.startswith("float") else ".float()"
    expr = value.var + cast
    if scale != 1.0:
        expr = f"{expr} * {constant(scale)}"
    if offset not in (0, 0.0):
        expr = f"{expr} + {constant(offset)}"
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], value.channels_first, flat_from=value.flat_from)
    return Translation(modules={}, lines=[f"{out} = {expr}"], outputs=[result])


def translate_normalization(call: LayerCall, ctx: Context) -> Translation:
    """Normalization (fixed mean and variance on the last axis) as a ``Normalization`` module with buffers.

    torch has no such module; Keras divides by ``max(sqrt(variance), epsilon)`` with Keras's
    epsilon 1e-7. The statistics are buffers shaped for the channel axis as held in forward().
    """
    layer = call.layer
    cfg = call.config
    if cfg.get("invert"):
        raise Decline("Normalization(invert=True)")
    axis = cfg.get("axis", -1)
    axis = tuple(axis) if isinstance(axis, list | tuple) else (axis,)
    value = call.inputs[0]
    if axis not in ((-1,), (value.rank - 1,)):
        raise Decline(f"Normalization over axis {axis}")
    mean = np.asarray(ctx.array(layer.mean), np.float32).reshape(-1)
    variance = np.asarray(ctx.array(layer.variance), np.float32).reshape(-1)
    channels = mean.size
    if value.channels_first and value.rank >= 3:
        shape = (channels,) + (1,) * (value.rank - 2)
    else:
        shape = (channels,)
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], value.channels_first)
    t = Translation(
        modules={}, lines=[f"{out} = self.{call.attr}({value.var})"], outputs=[result], helpers=["Normalization"]
    )
    if call.call_index == 0:
        t.modules[call.attr] = f"Normalization({shape})"
        t.weights[f"{call.attr}.mean"] = mean.reshape(shape)
        t.weights[f"{call.attr}.variance"] = variance.reshape(shape)
        t.buffers |= {f"{call.attr}.mean", f"{call.attr}.variance"}
        for key, name in (("mean", "adapt_mean"), ("variance", "adapt_variance")):
            variable = getattr(layer, name, None)
            if variable is not None:
                t.weight_map[f"{call.attr}.{key}"] = ctx.path(variable)
    return t


def translate_resizing(call: LayerCall, ctx: Context) -> Translation:
    """Resizing(height, width, interpolation) as ``F.interpolate(size=..., mode=...)``.

    TensorFlow resizes with half-pixel centres (torch's ``align_corners=False``, and
    ``nearest-exact`` rather than torch's ``nearest``) and no antialiasing by default; bicubic
    (a=-0.5 in TensorFlow, -0.75 in torch), cropping or padding to the aspect ratio decline.
    """
    cfg = call.config
    if cfg.get("crop_to_aspect_ratio") or cfg.get("pad_to_aspect_ratio") or cfg.get("antialias"):
        raise Decline("Resizing with crop/pad to aspect ratio or antialias")
    mode = cfg.get("interpolation", "bilinear")
    if mode not in ("nearest", "bilinear"):
        raise Decline(f"Resizing interpolation '{mode}'")
    lines, value = ctx.channels_first(call.inputs[0])
    size = (int(cfg["height"]), int(cfg["width"]))
    extra = ", align_corners=False" if mode == "bilinear" else ""
    torch_mode = "nearest-exact" if mode == "nearest" else mode  # TensorFlow's nearest uses half-pixel centres
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], True)
    line = f'{out} = F.interpolate({value.var}, size={size}, mode="{torch_mode}"{extra})'
    return Translation(modules={}, lines=[*lines, line], outputs=[result])


ENTRIES = (
    LayerEntry.of(("Rescaling",), translate_rescaling),
    LayerEntry.of(("Normalization",), translate_normalization),
    LayerEntry.of(("Resizing",), translate_resizing),
)
