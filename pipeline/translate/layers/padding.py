"""ZeroPadding1D/2D/3D, Cropping1D/2D/3D, UpSampling1D/2D/3D."""

from __future__ import annotations

from typing import Any

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation
from pipeline.translate.layers.common import out_value, pad_arg, spatial_input


def _pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    if isinstance(value, int):
        return [(value, value)] * rank
    pairs = []
    for item in value:
        pairs.append((int(item), int(item)) if isinstance(item, int) else (int(item[0]), int(item[1])))
    if len(pairs) == 2 and rank == 1:  # Keras 1D: (left, right)
        return [(pairs[0][0], pairs[1][0])]
    return pairs


def translate_zero_padding(call: LayerCall, ctx: Context) -> Translation:
    """ZeroPadding{1,2,3}D as ``F.pad`` on the channels-first tensor.

    Keras gives (before, after) per spatial axis, first axis first; F.pad takes the last axis first.
    """
    rank = int(call.class_name[-2])
    lines, value, cf, _ = spatial_input(call, ctx, rank)
    raw = call.config["padding"]
    pads = (
        [(int(raw[0]), int(raw[1]))]
        if rank == 1 and isinstance(raw, list | tuple) and isinstance(raw[0], int)
        else _pairs(raw, rank)
    )
    out = ctx.var(call.attr)
    return Translation(
        modules={},
        lines=[*lines, f"{out} = F.pad({value.var}, {pad_arg(pads)})"],
        outputs=[out_value(call, ctx, out, cf)],
    )


def translate_cropping(call: LayerCall, ctx: Context) -> Translation:
    """Cropping{1,2,3}D as slicing of the spatial axes.

    Keras gives (before, after) per spatial axis; a slice ``a:-b`` (``a:`` when b is 0) does it.
    """
    rank = int(call.class_name[-2])
    lines, value, cf, _ = spatial_input(call, ctx, rank)
    raw = call.config["cropping"]
    crops = [(int(raw[0]), int(raw[1]))] if rank == 1 and isinstance(raw[0], int) else _pairs(raw, rank)
    index = [":", ":"] + [f"{a}:{-b if b else ''}" for a, b in crops]
    out = ctx.var(call.attr)
    return Translation(
        modules={}, lines=[*lines, f"{out} = {value.var}[{', '.join(index)}]"], outputs=[out_value(call, ctx, out, cf)]
    )


def translate_upsampling(call: LayerCall, ctx: Context) -> Translation:
    """UpSampling{1,2,3}D as ``nn.Upsample(scale_factor=..., mode="nearest" | "bilinear")``.

    Keras repeats rows and columns (nearest) or interpolates bilinearly with half-pixel centres,
    which is torch's ``align_corners=False``.
    """
    rank = int(call.class_name[-2])
    lines, value, cf, _ = spatial_input(call, ctx, rank)
    size = call.config.get("size", 2)
    size = tuple(size) if isinstance(size, list | tuple) else (size,) * rank
    interpolation = call.config.get("interpolation", "nearest")
    if interpolation not in ("nearest", "bilinear"):
        raise Decline(f"UpSampling interpolation '{interpolation}'")
    scale = str(int(size[0])) if len(set(size)) == 1 else str(tuple(int(s) for s in size))
    mode = f'mode="{interpolation}"' + (", align_corners=False" if interpolation == "bilinear" else "")
    out = ctx.var(call.attr)
    t = Translation(
        modules={}, lines=[*lines, f"{out} = self.{call.attr}({value.var})"], outputs=[out_value(call, ctx, out, cf)]
    )
    if call.call_index == 0:
        t.modules[call.attr] = f"nn.Upsample(scale_factor={scale}, {mode})"
    return t


ENTRIES = (
    LayerEntry.of(("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"), translate_zero_padding),
    LayerEntry.of(("Cropping1D", "Cropping2D", "Cropping3D"), translate_cropping),
    LayerEntry.of(("UpSampling1D", "UpSampling2D", "UpSampling3D"), translate_upsampling),
)
