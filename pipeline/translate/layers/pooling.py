"""Pooling: Max/AveragePooling1D/2D/3D and GlobalMax/GlobalAveragePooling1D/2D/3D."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers.common import as_tuple, out_value, pad_arg, same_padding, spatial_input, spell

_RANK = {"1D": 1, "2D": 2, "3D": 3}


def translate_pooling(call: LayerCall, ctx: Context) -> Translation:
    """Max/AveragePooling{1,2,3}D as ``nn.MaxPool{n}d`` / ``nn.AvgPool{n}d``.

    TensorFlow's padding="same" pads unevenly and never counts the padding: max pooling pads
    with -inf explicitly when uneven; average pooling uses ``count_include_pad=False`` when even
    and ``avg_pool_same`` (window sums over window counts) when uneven.
    """
    cls = call.class_name
    rank = _RANK[cls[-2:]]
    is_max = cls.startswith("Max")
    cfg = call.config
    lines, value, cf, sizes = spatial_input(call, ctx, rank)
    kernel = as_tuple(cfg.get("pool_size", 2), rank)
    stride = as_tuple(cfg.get("strides") or kernel, rank)
    t = Translation(modules={}, lines=list(lines), outputs=[])
    out = ctx.var(call.attr)
    result = out_value(call, ctx, out, cf)
    args = [f"kernel_size={spell(kernel, rank)}"]
    if stride != kernel:
        args.append(f"stride={spell(stride, rank)}")
    kind = "MaxPool" if is_max else "AvgPool"
    x = value.var
    if cfg.get("padding", "valid") == "same":
        pads = [same_padding(sizes[i], kernel[i], stride[i], 1) for i in range(rank)]
        if any(a != b for a, b in pads):
            if is_max:
                padded = ctx.var(f"{call.attr}_pad")
                note = "TensorFlow pads 'same' more after than before, never picking the padding"
                t.lines.append(f'{padded} = F.pad({x}, {pad_arg(pads)}, value=float("-inf"))  # {note}')
                x = padded
            else:
                t.helpers.append("avg_pool_same")
                t.lines.append(
                    f"{out} = avg_pool_same({x}, {tuple(kernel)}, {tuple(stride)}, {pad_arg(pads)})"
                    "  # TensorFlow's uneven 'same' padding, not counted"
                )
                t.outputs.append(result)
                return t
        elif any(a for a, _ in pads):
            args.append(f"padding={spell([a for a, _ in pads], rank)}")
            if not is_max:
                args.append("count_include_pad=False")
    if call.call_index == 0:
        t.modules[call.attr] = f"nn.{kind}{rank}d({', '.join(args)})"
    t.lines.append(f"{out} = self.{call.attr}({x})")
    t.outputs.append(result)
    return t


def translate_global_pooling(call: LayerCall, ctx: Context) -> Translation:
    """GlobalMax/GlobalAveragePooling{1,2,3}D as ``amax``/``mean`` over the spatial axes.

    The spatial axes of a channels-first tensor are 2.., of a Keras-layout one 1..-1. With a
    Keras mask (1D, after an Embedding with mask_zero) the average counts unmasked steps only.
    """
    cls = call.class_name
    rank = _RANK[cls[-2:]]
    value = call.inputs[0]
    keepdims = bool(call.config.get("keepdims", False))
    if call.config.get("data_format") == "channels_first":
        lines, value = ctx.keras_layout(value)
        dims = tuple(range(2, 2 + rank))
        cf = False
    elif value.channels_first:
        lines, dims, cf = [], tuple(range(2, 2 + rank)), True
    else:
        lines, dims, cf = [], tuple(range(1, 1 + rank)), False
    spelled = str(dims[0]) if len(dims) == 1 else "(" + ", ".join(map(str, dims)) + ")"
    keep = ", keepdim=True" if keepdims else ""
    out = ctx.var(call.attr)
    x = value.var
    mask = value.mask
    if cls.startswith("GlobalMax"):
        if mask is not None:
            raise Decline("masked global max pooling")
        expr = f"{x}.amax(dim={spelled}{keep})"
    elif mask is not None and rank == 1 and not cf:
        expr = f"({x} * {mask}[..., None]).sum(dim=1{keep}) / {mask}.sum(dim=1, keepdim=True)"
        if keepdims:
            expr = f"({x} * {mask}[..., None]).sum(dim=1, keepdim=True) / {mask}.sum(dim=1)[:, None, None]"
        expr = expr.replace(f"{mask}.sum", f"{mask}.to({x}.dtype).sum").replace(
            f"{x} * {mask}[", f"{x} * {mask}.to({x}.dtype)["
        )
    else:
        expr = f"{x}.mean(dim={spelled}{keep})"
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], cf and keepdims)
    return Translation(modules={}, lines=[*lines, f"{out} = {expr}"], outputs=[result])


_POOLS = tuple(f"{k}Pooling{r}" for k in ("Max", "Average") for r in ("1D", "2D", "3D"))
_GLOBAL = tuple(f"Global{k}Pooling{r}" for k in ("Max", "Average") for r in ("1D", "2D", "3D"))

ENTRIES = (
    LayerEntry.of(_POOLS, translate_pooling),
    LayerEntry.of(_GLOBAL, translate_global_pooling),
)
