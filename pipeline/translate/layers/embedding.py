"""Embedding (with ``mask_zero``)."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers.common import record


def translate_embedding(call: LayerCall, ctx: Context) -> Translation:
    """Embedding as ``nn.Embedding(input_dim, output_dim)``; the table needs no transpose.

    Keras casts any index dtype (float inputs included) to int, torch wants int64: the call
    casts with ``.long()``. ``mask_zero=True`` makes Keras carry a mask (index != 0) beside the
    output, which masks recurrent and attention layers downstream; here that mask is a bool
    (N, T) variable handed on through ``Value.mask``. torch's ``padding_idx`` is not used: it
    would freeze row 0's gradient, which Keras trains.
    """
    layer = call.layer
    if getattr(layer, "lora_enabled", False) or getattr(layer, "quantization_mode", None):
        raise Decline("Embedding with LoRA or quantization")
    value = call.inputs[0]
    table = ctx.array(layer.embeddings)
    t = Translation(modules={}, lines=[], outputs=[])
    if call.call_index == 0:
        t.modules[call.attr] = f"nn.Embedding({table.shape[0]}, {table.shape[1]})"
        record(t, ctx, call, f"{call.attr}.weight", layer.embeddings, table, "embeddings_initializer")
    out = ctx.var(call.attr)
    index = value.var if value.dtype == "int64" else f"{value.var}.long()"
    t.lines.append(f"{out} = self.{call.attr}({index})")
    mask = value.mask
    if getattr(layer, "mask_zero", False):
        mask = ctx.var(f"{call.attr}_mask")
        t.lines.append(f"{mask} = {value.var} != 0  # mask_zero: index 0 is padding for the layers that follow")
    t.outputs.append(Value(out, call.output_shapes[0], call.output_dtypes[0], mask=mask))
    return t


ENTRIES = (LayerEntry.of(("Embedding",), translate_embedding),)
