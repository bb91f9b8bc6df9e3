"""BatchNormalization."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers.common import record


def translate_batch_norm(call: LayerCall, ctx: Context) -> Translation:
    """BatchNormalization as ``nn.BatchNorm{1,2,3}d`` with running statistics, on the channel axis.

    The module is ``KerasBatchNorm{1,2,3}d``, a ``BatchNorm{1,2,3}d`` whose training step updates
    the running variance with the biased batch variance, as Keras does (torch: unbiased), so that
    fine-tuning moves the statistics exactly as Keras's fit would.

    Keras updates ``moving = m * moving + (1 - m) * batch``; torch ``running = (1 - p) * running +
    p * batch``: torch's momentum is ``1 - m``. Epsilon is the same. Keras's moving statistics
    become torch's ``running_mean``/``running_var`` buffers. A Keras layer without scale (or
    center) keeps torch's weight at one (bias at zero) as a frozen parameter.
    """
    layer = call.layer
    cfg = call.config
    axis = cfg.get("axis", -1)
    axis = axis[0] if isinstance(axis, list | tuple) and len(axis) == 1 else axis
    if isinstance(axis, list | tuple):
        raise Decline("BatchNormalization over several axes")
    if cfg.get("renorm") or cfg.get("virtual_batch_size"):
        raise Decline("batch renormalization / virtual batches")
    value = call.inputs[0]
    rank = value.rank
    axis = int(axis) % rank
    t = Translation(modules={}, lines=[], outputs=[])
    if rank >= 3 and axis == rank - 1:
        lines, value = ctx.channels_first(value)
        t.lines += lines
    elif rank >= 3 and not (axis == 1 and not value.channels_first):
        lines, value = ctx.keras_layout(value)
        t.lines += lines
        if axis != 1:
            raise Decline(f"BatchNormalization on axis {axis} of a rank-{rank} tensor")
    elif rank == 2 and axis != 1:
        raise Decline("BatchNormalization on the batch axis")
    dims = max(rank - 2, 1)
    mean = ctx.array(layer.moving_mean)
    channels = mean.shape[0]
    momentum = 1.0 - float(cfg.get("momentum", 0.99))
    args = [str(channels), f"eps={float(cfg.get('epsilon', 1e-3)):g}", f"momentum={momentum:.6g}"]
    scale, center = bool(cfg.get("scale", True)), bool(cfg.get("center", True))
    if not scale and not center:
        args.append("affine=False")
    if call.call_index == 0:
        # Keras's moving variance takes the biased batch variance, torch's running_var the unbiased one
        t.modules[call.attr] = f"KerasBatchNorm{dims}d({', '.join(args)})"
        t.helpers.append(f"KerasBatchNorm{dims}d")
        a = call.attr
        if scale or center:  # torch's affine=True has both: the one Keras lacks is a fixed buffer
            _affine(t, ctx, call, "weight", layer.gamma if scale else None, channels, "scale")
            _affine(t, ctx, call, "bias", layer.beta if center else None, channels, "center")
        record(t, ctx, call, f"{a}.running_mean", layer.moving_mean, mean, "moving_mean_initializer")
        record(
            t,
            ctx,
            call,
            f"{a}.running_var",
            layer.moving_variance,
            ctx.array(layer.moving_variance),
            "moving_variance_initializer",
        )
        t.buffers |= {f"{a}.running_mean", f"{a}.running_var", f"{a}.num_batches_tracked"}
        t.weights[f"{a}.num_batches_tracked"] = np.zeros((), np.int64)
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0], value.channels_first)
    t.lines.append(f"{out} = self.{call.attr}({value.var})")
    t.outputs.append(result)
    return t


ENTRIES = (LayerEntry.of(("BatchNormalization",), translate_batch_norm),)


def _affine(t: Translation, ctx: Context, call: LayerCall, key: str, variable: Any, channels: int, flag: str) -> None:
    """The ``weight`` (gamma, else ones) or ``bias`` (beta, else zeros) of the BatchNorm module."""
    attr = f"{call.attr}.{key}"
    if variable is not None:
        initializer = "gamma_initializer" if key == "weight" else "beta_initializer"
        record(t, ctx, call, attr, variable, ctx.array(variable), initializer)
        return
    fill = "ones" if key == "weight" else "zeros"
    t.weights[attr] = getattr(np, fill)(channels, np.float32)
    t.buffers.add(attr)
    t.init_lines.append(f"nn.init.{fill}_(self.{attr})  # Keras {flag}=False")
