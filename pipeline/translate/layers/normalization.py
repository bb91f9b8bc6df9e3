"""LayerNormalization, GroupNormalization, UnitNormalization."""

from __future__ import annotations

from typing import Any

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers.common import record


def _axes(axis: Any, rank: int) -> list[int]:
    items = axis if isinstance(axis, list | tuple) else [axis]
    return sorted(int(a) % rank for a in items)


def _affine(t: Translation, ctx: Context, call: LayerCall, scale: bool, center: bool) -> None:
    layer = call.layer
    if scale:
        record(t, ctx, call, f"{call.attr}.weight", layer.gamma, ctx.array(layer.gamma), "gamma_initializer")
    if center:
        record(t, ctx, call, f"{call.attr}.bias", layer.beta, ctx.array(layer.beta), "beta_initializer")


def translate_layer_norm(call: LayerCall, ctx: Context) -> Translation:
    """LayerNormalization as ``nn.LayerNorm(shape, eps=...)`` over the trailing normalised axes.

    Keras's epsilon defaults to 1e-3 (torch's to 1e-5) and is spelled out; both add it to the
    population variance before the square root. ``center=False`` is ``bias=False``; axes that
    are not trailing are normalised with the same arithmetic spelled out (mean / variance over
    those axes, gamma and beta broadcast to them), as are scale=False with center=True.
    """
    layer = call.layer
    if getattr(layer, "rms_scaling", False):
        raise Decline("rms_scaling=True")
    lines, value = ctx.keras_layout(call.inputs[0])
    rank = value.rank
    axes = _axes(layer.axis, rank)
    if 0 in axes:
        raise Decline("normalisation over the batch axis")
    eps = float(layer.epsilon)
    scale, center = bool(layer.scale), bool(layer.center)
    shape = tuple(int(value.shape[a]) for a in axes)
    t = Translation(modules={}, lines=list(lines), outputs=[])
    out = ctx.var(call.attr)
    trailing = axes == list(range(rank - len(axes), rank))
    spelled = shape[0] if len(shape) == 1 else shape
    if trailing and (scale or not center):
        args = [str(spelled), f"eps={eps!r}"]
        if not scale:
            args.append("elementwise_affine=False")
        elif not center:
            args.append("bias=False")
        if call.call_index == 0:
            t.modules[call.attr] = f"nn.LayerNorm({', '.join(args)})"
            _affine(t, ctx, call, scale, center)
        t.lines.append(f"{out} = self.{call.attr}({value.var})")
    else:
        params = []
        if scale:
            params.append(f'"weight": nn.Parameter(torch.ones({shape}))')
        if center:
            params.append(f'"bias": nn.Parameter(torch.zeros({shape}))')
        if call.call_index == 0:
            t.modules[call.attr] = "nn.ParameterDict({" + ", ".join(params) + "})"
            _affine(t, ctx, call, scale, center)
        dims = tuple(axes)
        view = tuple(int(value.shape[i]) if i in axes else 1 for i in range(rank))
        mean, var = ctx.var(f"{call.attr}_mean"), ctx.var(f"{call.attr}_var")
        t.lines += [
            f"{mean} = {value.var}.mean(dim={dims}, keepdim=True)",
            f"{var} = {value.var}.var(dim={dims}, correction=0, keepdim=True)",
        ]
        expr = f"({value.var} - {mean}) * torch.rsqrt({var} + {eps!r})"
        if scale:
            expr += f" * self.{call.attr}['weight'].reshape{view}"
        if center:
            expr += f" + self.{call.attr}['bias'].reshape{view}"
        t.lines.append(f"{out} = {expr}")
        t.notes.append(f"layer normalisation over Keras axes {dims}, which torch's LayerNorm cannot take")
    t.outputs.append(Value(out, call.output_shapes[0], call.output_dtypes[0]))
    return t


def translate_group_norm(call: LayerCall, ctx: Context) -> Translation:
    """GroupNormalization as ``nn.GroupNorm(groups, channels, eps=...)``.

    torch normalises groups of the channel axis 1, Keras of its ``axis`` (-1 by default): the
    input is held channels-first, and the groups are the same contiguous channel blocks in both.
    Keras's epsilon (1e-3) is spelled out; ``groups=-1`` means one group per channel.
    """
    layer = call.layer
    value = call.inputs[0]
    rank = value.rank
    axis = int(layer.axis) % rank
    if axis == rank - 1:
        lines, value = ctx.channels_first(value)
        first = rank >= 3
    elif axis == 1:
        lines, value = ctx.keras_layout(value)
        first = False
    else:
        raise Decline(f"GroupNormalization over axis {layer.axis}")
    scale, center = bool(layer.scale), bool(layer.center)
    if scale != center:
        raise Decline("GroupNormalization with only one of center / scale")
    channels = int(call.inputs[0].shape[axis])
    groups = int(layer.groups) if int(layer.groups) > 0 else channels
    t = Translation(modules={}, lines=list(lines), outputs=[])
    if call.call_index == 0:
        args = [str(groups), str(channels), f"eps={float(layer.epsilon)!r}"]
        if not scale:
            args.append("affine=False")
        t.modules[call.attr] = f"nn.GroupNorm({', '.join(args)})"
        _affine(t, ctx, call, scale, center)
    out = ctx.var(call.attr)
    t.lines.append(f"{out} = self.{call.attr}({value.var})")
    t.outputs.append(Value(out, call.output_shapes[0], call.output_dtypes[0], first))
    return t


def translate_unit_norm(call: LayerCall, ctx: Context) -> Translation:
    """UnitNormalization as ``F.normalize(x, dim=..., eps=1e-6)``.

    Keras divides by sqrt(max(sum(x^2), 1e-12)), torch by max(norm, eps): the same with
    eps = 1e-6. Several axes are spelled out with ``torch.rsqrt``. Element-wise along the axis,
    so a channels-first input stays so.
    """
    value = call.inputs[0]
    axis = call.layer.axis
    out = ctx.var(call.attr)
    lines: list[str] = []
    if isinstance(axis, list | tuple) and len(axis) > 1:
        lines, value = ctx.keras_layout(value)
        dims = tuple(_axes(axis, value.rank))
        sq = f"{value.var}.square().sum(dim={dims}, keepdim=True)"
        lines.append(f"{out} = {value.var} * torch.rsqrt(torch.clamp({sq}, min=1e-12))")
    else:
        single = axis[0] if isinstance(axis, list | tuple) else axis
        lines.append(f"{out} = F.normalize({value.var}, dim={ctx.axis(value, int(single))}, eps=1e-6)")
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], value.channels_first, value.mask)
    return Translation(modules={}, lines=lines, outputs=[result])


ENTRIES = (
    LayerEntry.of(("LayerNormalization",), translate_layer_norm),
    LayerEntry.of(("GroupNormalization",), translate_group_norm),
    LayerEntry.of(("UnitNormalization",), translate_unit_norm),
)
