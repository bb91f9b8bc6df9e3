"""Dense (on any rank) and EinsumDense."""

from __future__ import annotations

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.layers.common import activation_expr, activation_name, record


def translate_dense(call: LayerCall, ctx: Context) -> Translation:
    """Dense as ``nn.Linear``, kernel ``(in, out)`` -> weight ``(out, in)``; on any rank (last axis).

    After a Flatten of a channels-first feature map the features come in (C, H, W) order while
    Keras flattened (H, W, C): the kernel's rows are permuted once here, so the model needs no
    transpose before the Flatten. Other inputs of rank >= 3 are brought to the Keras layout.
    Integer inputs (a lookup's indices) are cast to the weight's dtype, as Keras' matmul promotes
    them to its compute dtype; ``nn.Linear`` refuses them.
    """
    layer = call.layer
    value = call.inputs[0]
    t = Translation(modules={}, lines=[], outputs=[])
    kernel = ctx.array(layer.kernel)
    if value.flat_from is not None:
        spatial = value.flat_from
        rows = kernel.reshape(*spatial, kernel.shape[-1])
        order = (len(spatial) - 1, *range(len(spatial) - 1), len(spatial))
        kernel = np.transpose(rows, order).reshape(kernel.shape)
        t.notes.append("rows of the Keras kernel permuted to the (C, H, W) order of the Flatten before it")
    elif value.rank >= 3:
        lines, value = ctx.keras_layout(value)
        t.lines += lines
    args = [str(kernel.shape[0]), str(kernel.shape[1])]
    if not layer.use_bias:
        args.append("bias=False")
    if call.call_index == 0:
        t.modules[call.attr] = f"nn.Linear({', '.join(args)})"
        record(t, ctx, call, f"{call.attr}.weight", layer.kernel, np.ascontiguousarray(kernel.T), "kernel_initializer")
        if layer.use_bias:
            record(t, ctx, call, f"{call.attr}.bias", layer.bias, ctx.array(layer.bias), "bias_initializer")
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    act = activation_name(layer.activation)
    x = value.var if value.dtype.startswith(("float", "bfloat")) else f"{value.var}.to(self.{call.attr}.weight.dtype)"
    t.lines.append(f"{out} = {activation_expr(act, f'self.{call.attr}({x})', result, ctx)}")
    t.outputs.append(result)
    return t


def translate_einsum_dense(call: LayerCall, ctx: Context) -> Translation:
    """EinsumDense as ``torch.einsum`` with the kernel kept in its Keras shape, as an ``nn.Parameter``.

    torch has no EinsumDense module; the equation is the same in both, so the kernel needs no
    transpose. The bias broadcasts over the output as Keras's does.
    """
    layer = call.layer
    cfg = call.config
    if getattr(layer, "lora_enabled", False):
        raise Decline("EinsumDense with LoRA")
    lines, value = ctx.keras_layout(call.inputs[0])
    t = Translation(modules={}, lines=list(lines), outputs=[])
    kernel = ctx.array(layer.kernel)
    bias = getattr(layer, "bias", None)
    if call.call_index == 0:
        params = [f"'kernel': nn.Parameter(torch.empty({', '.join(map(str, kernel.shape))}))"]
        if bias is not None:
            params.append(f"'bias': nn.Parameter(torch.empty({', '.join(map(str, np.shape(ctx.array(bias))))}))")
        t.modules[call.attr] = f"nn.ParameterDict({{{', '.join(params)}}})"
        record(t, ctx, call, f"{call.attr}.kernel", layer.kernel, kernel, "kernel_initializer")
        if bias is not None:
            record(t, ctx, call, f"{call.attr}.bias", bias, ctx.array(bias), "bias_initializer")
    out = ctx.var(call.attr)
    result = Value(out, call.output_shapes[0], call.output_dtypes[0])
    expr = f"torch.einsum({cfg['equation']!r}, {value.var}, self.{call.attr}['kernel'])"
    if bias is not None:
        expr += f" + self.{call.attr}['bias']"
    act = activation_name(getattr(layer, "activation", None))
    t.lines.append(f"{out} = {activation_expr(act, expr, result, ctx)}")
    t.outputs.append(result)
    return t


ENTRIES = (
    LayerEntry.of(("Dense",), translate_dense),
    LayerEntry.of(("EinsumDense",), translate_einsum_dense),
)
