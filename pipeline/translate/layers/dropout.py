"""Regularisation layers, kept and active in ``.train()``: Dropout, SpatialDropout1D/2D/3D,
GaussianNoise, GaussianDropout, AlphaDropout."""

from __future__ import annotations

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value


def _keep(call: LayerCall, ctx: Context, ctor: str, value: Value, lines: list[str]) -> Translation:
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], value.channels_first, flat_from=value.flat_from)
    t = Translation(modules={}, lines=[*lines, f"{out} = self.{call.attr}({value.var})"], outputs=[result])
    if call.call_index == 0:
        t.modules[call.attr] = ctor
    return t


def translate_dropout(call: LayerCall, ctx: Context) -> Translation:
    """Dropout(rate) as ``nn.Dropout(p=rate)``, AlphaDropout as ``nn.AlphaDropout``.

    Both scale kept units by 1 / (1 - rate) in training and do nothing at inference, as in torch;
    the layer is kept so the module trains as the Keras model does. A ``noise_shape`` (dropout
    shared along some axes, as EfficientNet's drop-connect) becomes ``SharedDropout`` with the noise
    shape in the layout the tensor is held in.
    """
    rate = float(call.config.get("rate", 0.5))
    noise = call.config.get("noise_shape")
    if noise is not None and call.class_name == "Dropout":
        value = call.inputs[0]
        noise = [None if n is None else int(n) for n in noise]
        if len(noise) != value.rank or value.flat_from is not None:
            raise Decline("Dropout noise_shape that does not match its input")
        if value.channels_first and value.rank >= 3:
            noise = [noise[0], noise[-1], *noise[1:-1]]
        t = _keep(call, ctx, f"SharedDropout(p={rate:g}, noise_shape={tuple(noise)})", value, [])
        t.helpers.append("SharedDropout")
        return t
    if noise is not None:
        raise Decline("AlphaDropout with a noise_shape")
    kind = "nn.AlphaDropout" if call.class_name == "AlphaDropout" else "nn.Dropout"
    return _keep(call, ctx, f"{kind}(p={rate:g})", call.inputs[0], [])


def translate_spatial_dropout(call: LayerCall, ctx: Context) -> Translation:
    """SpatialDropout1D/2D/3D as ``nn.Dropout1d/2d/3d`` on the channels-first tensor.

    Both drop whole channels; torch's modules expect the channel on axis 1.
    """
    rate = float(call.config.get("rate", 0.5))
    rank = int(call.class_name[-2])
    lines, value = ctx.channels_first(call.inputs[0])
    return _keep(call, ctx, f"nn.Dropout{rank}d(p={rate:g})", value, lines)


def translate_gaussian(call: LayerCall, ctx: Context) -> Translation:
    """GaussianNoise(stddev) / GaussianDropout(rate) as small modules active in training only.

    torch has neither; the helpers reproduce Keras's formulas (additive N(0, stddev) noise;
    multiplicative N(1, rate / (1 - rate)) noise).
    """
    cfg = call.config
    if call.class_name == "GaussianNoise":
        ctor = f"GaussianNoise(stddev={float(cfg['stddev']):g})"
    else:
        ctor = f"GaussianDropout(rate={float(cfg['rate']):g})"
    t = _keep(call, ctx, ctor, call.inputs[0], [])
    t.helpers.append(call.class_name)
    return t


ENTRIES = (
    LayerEntry.of(("Dropout", "AlphaDropout"), translate_dropout),
    LayerEntry.of(("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"), translate_spatial_dropout),
    LayerEntry.of(("GaussianNoise", "GaussianDropout"), translate_gaussian),
)
