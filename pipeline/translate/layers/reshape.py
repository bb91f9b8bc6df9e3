"""Shape layers: Reshape, Flatten, Permute, RepeatVector."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value


def translate_flatten(call: LayerCall, ctx: Context) -> Translation:
    """Flatten as ``x.flatten(1)``; a channels-first feature map is flattened as it is held.

    Keras flattens (H, W, C), a channels-first map flattens (C, H, W): instead of a transpose in
    forward(), the value remembers its Keras shape (``Value.flat_from``) and the Dense that reads
    it permutes its kernel rows once (as a hand-written model sizes ``nn.Linear(64 * 14 * 14, 10)``).
    Any other reader gets the Keras order back through ``ctx.keras_layout``.
    """
    value = call.inputs[0]
    out = ctx.var(call.attr)
    flat = value.shape[1:] if value.channels_first and value.rank >= 3 else None
    if flat is not None and all(d == 1 for d in flat[:-1]):  # (N, C, 1, 1): both orders are the same
        flat = None
    if call.config.get("data_format") == "channels_first" and value.rank >= 3:
        flat = None
        if value.channels_first:  # Keras flattens its own (C, H, W): as held
            flat = None
        else:
            raise Decline("Flatten(data_format='channels_first') of a channels-last tensor")
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], flat_from=flat)
    return Translation(modules={}, lines=[f"{out} = {value.var}.flatten(1)"], outputs=[result])


def translate_reshape(call: LayerCall, ctx: Context) -> Translation:
    """Reshape(target) as ``x.reshape(-1, *target)`` in the Keras layout.

    Reshapes follow Keras's element order, so a channels-first input is brought back first; a
    target of shape (1, ..., 1, C) (squeeze-and-excite) is made channels-first directly, since
    both orders of a tensor with unit spatial axes are the same memory.
    """
    value = call.inputs[0]
    target = tuple(call.output_shapes[0][1:])
    out = ctx.var(call.attr)
    if None in target:
        raise Decline("Reshape to a shape with a free axis")
    spell = ", ".join(map(str, target))
    if len(target) >= 2 and all(d == 1 for d in target[:-1]) and (value.rank == 2 or value.flat_from):
        cf = (target[-1], *target[:-1])
        result = Value(out, call.output_shapes[0], call.output_dtypes[0], True)
        return Translation(
            modules={}, lines=[f"{out} = {value.var}.reshape(-1, {', '.join(map(str, cf))})"], outputs=[result]
        )
    lines, value = ctx.keras_layout(value)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    return Translation(modules={}, lines=[*lines, f"{out} = {value.var}.reshape(-1, {spell})"], outputs=[result])


def translate_permute(call: LayerCall, ctx: Context) -> Translation:
    """Permute(dims) as ``x.permute(0, *dims)`` in the Keras layout.

    Keras's dims count from 1 and leave the batch axis out.
    """
    lines, value = ctx.keras_layout(call.inputs[0])
    dims = ", ".join(str(int(d)) for d in call.config["dims"])
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    return Translation(modules={}, lines=[*lines, f"{out} = {value.var}.permute(0, {dims})"], outputs=[result])


def translate_repeat_vector(call: LayerCall, ctx: Context) -> Translation:
    """RepeatVector(n) as ``x.unsqueeze(1).expand(-1, n, -1)``.

    Keras repeats a (N, F) input n times on a new axis 1; expand makes no copy.
    """
    lines, value = ctx.keras_layout(call.inputs[0])
    n = int(call.config["n"])
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    return Translation(
        modules={}, lines=[*lines, f"{out} = {value.var}.unsqueeze(1).expand(-1, {n}, -1)"], outputs=[result]
    )


ENTRIES = (
    LayerEntry.of(("Flatten",), translate_flatten),
    LayerEntry.of(("Reshape",), translate_reshape),
    LayerEntry.of(("Permute",), translate_permute),
    LayerEntry.of(("RepeatVector",), translate_repeat_vector),
)
