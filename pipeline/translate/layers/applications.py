"""Layers that keras.applications models define themselves: ConvNeXt's LayerScale,
InceptionResNetV2's CustomScaleLayer."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers.common import record


def translate_layer_scale(call: LayerCall, ctx: Context) -> Translation:
    """ConvNeXt's LayerScale as a ``LayerScale`` module holding ``gamma`` (last axis).

    A custom Keras layer (keras.applications.convnext) with one weight; torch has no module for
    it, so the helper multiplies the last axis by ``gamma`` in the Keras layout.
    """
    layer = call.layer
    lines, value = ctx.keras_layout(call.inputs[0])
    gamma = ctx.array(layer.gamma)
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    t = Translation(modules={}, lines=[*lines, f"{out} = self.{call.attr}({value.var})"], outputs=[result])
    t.helpers.append("LayerScale")
    if call.call_index == 0:
        t.modules[call.attr] = f"LayerScale({gamma.shape[0]})"
        record(t, ctx, call, f"{call.attr}.gamma", layer.gamma, gamma)
        t.init_lines.append(
            f"nn.init.constant_(self.{call.attr}.gamma, {float(call.config.get('init_values', 1e-6)):g})"
        )
    return t


def translate_custom_scale(call: LayerCall, ctx: Context) -> Translation:
    """InceptionResNetV2's CustomScaleLayer as ``a + b * scale``.

    A custom Keras layer (keras.applications.inception_resnet_v2) without weights: the residual
    branch scaled and added to the shortcut, element-wise in either layout.
    """
    if len(call.inputs) != 2:
        raise Decline("CustomScaleLayer without its two inputs")
    lines, (a, b) = ctx.same_layout(call.inputs)
    scale = float(call.config.get("scale", getattr(call.layer, "scale", 1.0)))
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], a.channels_first)
    return Translation(modules={}, lines=[*lines, f"{out} = {a.var} + {b.var} * {scale!r}"], outputs=[result])


ENTRIES = (
    LayerEntry.of(("LayerScale",), translate_layer_scale),
    LayerEntry.of(("CustomScaleLayer",), translate_custom_scale),
)
