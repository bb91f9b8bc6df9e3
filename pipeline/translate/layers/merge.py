"""Merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate, Dot."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value


def _merged(call: LayerCall, ctx: Context) -> tuple[list[str], list[Value]]:
    return ctx.same_layout(call.inputs)


def translate_elementwise(call: LayerCall, ctx: Context) -> Translation:
    """Add/Subtract/Multiply/Average/Maximum/Minimum as the torch expression (``a + b`` ...).

    Element-wise, so the inputs keep their layout when they share one (channels-first feature
    maps stay so); inputs in different layouts are brought to one first. Keras broadcasts like torch.
    """
    if ".ops." in type(call.layer).__module__:
        return _op(call, ctx)
    lines, values = _merged(call, ctx)
    names = [v.var for v in values]
    kind = call.class_name
    if kind == "Add":
        expr = " + ".join(names)
    elif kind == "Subtract":
        expr = f"{names[0]} - {names[1]}"
    elif kind == "Multiply":
        expr = " * ".join(names)
    elif kind == "Average":
        expr = f"({' + '.join(names)}) / {len(names)}"
    else:
        fn = "torch.maximum" if kind == "Maximum" else "torch.minimum"
        expr = names[0]
        for name in names[1:]:
            expr = f"{fn}({expr}, {name})"
    out = ctx.var(call.attr)
    first = values[0]
    flat = first.flat_from if all(v.flat_from == first.flat_from for v in values) else None
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], first.channels_first, flat_from=flat)
    return Translation(modules={}, lines=[*lines, f"{out} = {expr}"], outputs=[result])


def _op(call: LayerCall, ctx: Context) -> Translation:
    """keras.ops add/subtract/multiply of tensors and numbers (``x + 3.0``, ``x * (1 / 6)``).

    Keras 3 records arithmetic on symbolic tensors as ops nodes (MobileNetV3's hard sigmoid,
    ConvNeXt's residual add); they share class names with the merge layers, so they are keyed
    ``ops.<Class>``.
    """
    args = list(call.kwargs.get("_args", ()))
    symbol = {"Add": "+", "Subtract": "-", "Multiply": "*"}.get(call.class_name)
    if symbol is None or len(args) != 2 or call.kwargs.keys() - {"_args"}:
        raise Decline(f"keras.ops {call.class_name} node")
    tensors = [a for a in args if isinstance(a, Value)]
    lines, moved = ctx.same_layout(tensors)
    swap = dict(zip([id(a) for a in tensors], moved, strict=True))
    parts = []
    for a in args:
        if isinstance(a, Value):
            parts.append(swap[id(a)].var)
        elif isinstance(a, int | float) and not isinstance(a, bool):
            parts.append(repr(a))
        else:
            raise Decline(f"keras.ops {call.class_name} of a {type(a).__name__}")
    out = ctx.var(call.attr)
    first = moved[0]
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], first.channels_first, flat_from=first.flat_from)
    return Translation(modules={}, lines=[*lines, f"{out} = {parts[0]} {symbol} {parts[1]}"], outputs=[result])


def translate_concatenate(call: LayerCall, ctx: Context) -> Translation:
    """Concatenate(axis) as ``torch.cat(..., dim=...)`` on the axis as held in forward().

    Keras's default axis -1 (channels) is torch's 1 for channels-first feature maps.
    """
    lines, values = _merged(call, ctx)
    if any(v.flat_from is not None for v in values):
        lines2, values = [], []
        for v in call.inputs:
            more, moved = ctx.keras_layout(v)
            lines2 += more
            values.append(moved)
        lines = lines2
    dim = ctx.axis(values[0], int(call.config.get("axis", -1)))
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], values[0].channels_first)
    return Translation(
        modules={},
        lines=[*lines, f"{out} = torch.cat([{', '.join(v.var for v in values)}], dim={dim})"],
        outputs=[result],
    )


def translate_dot(call: LayerCall, ctx: Context) -> Translation:
    """Dot(axes, normalize) on two rank-2 or rank-3 inputs as a sum of products / ``torch.bmm``.

    Keras contracts the given axes of two batched tensors; with ``normalize`` the inputs are
    L2-normalised first (``F.normalize``) along those axes.
    """
    lines: list[str] = []
    values = []
    for v in call.inputs:
        more, moved = ctx.keras_layout(v)
        lines += more
        values.append(moved)
    a, b = values
    axes = call.config.get("axes", -1)
    axes = list(axes) if isinstance(axes, list | tuple) else [axes, axes]
    axes = [int(ax) % v.rank for ax, v in zip(axes, values, strict=True)]
    x, y = a.var, b.var
    if call.config.get("normalize"):
        x, y = f"F.normalize({x}, dim={axes[0]})", f"F.normalize({y}, dim={axes[1]})"
    out = ctx.var(call.attr)
    if a.rank == 2 and b.rank == 2:
        expr = f"({x} * {y}).sum(dim=1, keepdim=True)"
    elif a.rank == 3 and b.rank == 3:
        left = x if axes[0] == 2 else f"{x}.transpose(1, 2)"
        right = y if axes[1] == 1 else f"{y}.transpose(1, 2)"
        expr = f"torch.bmm({left}, {right})"
    else:
        raise Decline("Dot of tensors of rank other than 2 or 3")
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    return Translation(modules={}, lines=[*lines, f"{out} = {expr}"], outputs=[result])


ENTRIES = (
    LayerEntry.of(("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"), translate_elementwise),
    # keras.ops nodes (x + 3.0 in a functional graph); pipeline/translate/layers/ops.py may replace them
    LayerEntry.of(("ops.Add", "ops.Subtract", "ops.Multiply"), _op),
    LayerEntry.of(("Concatenate",), translate_concatenate),
    LayerEntry.of(("Dot",), translate_dot),
)
