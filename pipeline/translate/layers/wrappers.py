"""TimeDistributed (of any layer that has a translation entry)."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.families import FAMILIES, by_class, entries_of

# the layers a wrapped layer may be (the registry itself imports this module)
INNER: dict[str, LayerEntry] = dict(by_class(entries_of(FAMILIES)))


def translate_time_distributed(call: LayerCall, ctx: Context) -> Translation:
    """TimeDistributed(layer) as the inner layer's translation on batch and time merged.

    Keras applies the inner layer to every step of axis 1; torch modules take any batch size,
    so the input (Keras layout) is flattened to (N * T, ...), the inner layer's own entry
    translates it (its module is named after the wrapper, its weights map to the inner layer's
    Keras variables), and the result is unflattened back to (N, T, ...) in the Keras layout.
    """
    inner = call.layer.layer
    name = type(inner).__name__
    entry = INNER.get(name)
    if entry is None:
        raise Decline(f"TimeDistributed({name}): no translation entry for {name}")
    lines, value = ctx.keras_layout(call.inputs[0])
    steps = value.shape[1]
    flat = ctx.var(f"{call.attr}_steps")
    lines.append(f"{flat} = {value.var}.flatten(0, 1)  # TimeDistributed: time steps as batch")
    flat_value = Value(flat, (None, *value.shape[2:]), value.dtype)
    out_shape = call.output_shapes[0]
    inner_call = LayerCall(
        layer=inner,
        attr=call.attr,
        inputs=[flat_value],
        output_shapes=[(None, *out_shape[2:])],
        output_dtypes=list(call.output_dtypes),
        call_index=call.call_index,
        kwargs={"_args": (flat_value,)},
    )
    t = entry.translate(inner_call, ctx)
    if len(t.outputs) != 1:
        raise Decline(f"TimeDistributed({name}) with several outputs")
    more, result = ctx.keras_layout(t.outputs[0])
    out = ctx.var(call.attr)
    split = f"(-1, {steps})" if steps is not None else f"({value.var}.shape[0], -1)"
    t.lines = [*lines, *t.lines, *more, f"{out} = {result.var}.unflatten(0, {split})"]
    t.outputs = [Value(out, out_shape, call.output_dtypes[0], mask=call.inputs[0].mask)]
    return t


ENTRIES = (LayerEntry.of(("TimeDistributed",), translate_time_distributed),)
