"""Attention layers: MultiHeadAttention, Attention (dot / concat scores), AdditiveAttention."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.translate.base import Context, Decline, LayerCall, LayerEntry, Translation, Value
from pipeline.translate.init import layer_init


def _arg(call: LayerCall, index: int, name: str) -> Any:
    """A call argument given by position (``_args``) or by name."""
    args = call.kwargs.get("_args", ())
    if len(args) > index:
        return args[index]
    return call.kwargs.get(name)


def _bool_mask(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, Value):
        raise Decline("a mask that is not a tensor of the graph")
    return value.var if value.dtype == "bool" else f"{value.var}.bool()"


def _causal(q: str, k: str) -> str:
    return f"torch.ones({q}.shape[1], {k}.shape[1], dtype=torch.bool, device={q}.device).tril()[None]"


def _add_param(
    t: Translation, ctx: Context, call: LayerCall, key: str, variable: Any, init_owner: Any, init: str
) -> None:
    array = ctx.array(variable)
    full = f"{call.attr}.{key}"
    t.weights[full] = np.asarray(array, dtype=np.float32)
    t.weight_map[full] = ctx.path(variable)
    if not call.layer.trainable or not getattr(variable, "trainable", True):
        t.buffers.add(full)
    t.init_lines += layer_init(init_owner, init, f"self.{call.attr}[{key!r}]", tuple(variable.shape), array.shape)


def _sub(layer: Any, name: str) -> Any:
    sub = getattr(layer, name, None)
    return sub if sub is not None else getattr(layer, "_" + name)


def translate_multi_head_attention(call: LayerCall, ctx: Context) -> Translation:
    """MultiHeadAttention as the ``MultiHeadAttention`` helper: four ``nn.Linear`` projections
    (query / key / value / output, one per Keras EinsumDense, 1:1 in the weight map) around
    ``F.scaled_dot_product_attention``.

    Keras keeps each projection as an einsum kernel (in, heads, head_dim); torch's Linear wants
    (heads * head_dim, in): reshaped and transposed. nn.MultiheadAttention is not used because it
    packs the three input projections into one ``in_proj`` weight (no 1:1 map to Keras's
    variables) and needs key_dim * heads == output dim. Keras's masks (the inputs' own masks from
    Embedding(mask_zero)/Masking, ``attention_mask``, ``use_causal_mask``) are combined as Keras
    does into one boolean (N, Tq, Tk) mask: masked scores are replaced by -1e9 before the
    softmax (tf_keras adds -1e9 instead, which lets gradients reach them).
    """
    layer = call.layer
    cfg = call.config
    if cfg.get("attention_axes") not in (None, [1], (1,), 1, -2, [-2]):
        raise Decline(f"attention_axes={cfg.get('attention_axes')}")
    if getattr(layer, "_use_gate", False) or getattr(layer, "_sliding_window", None) is not None:
        raise Decline("gated or sliding-window attention")
    query, value, key = _arg(call, 0, "query"), _arg(call, 1, "value"), _arg(call, 2, "key")
    if not isinstance(query, Value) or not isinstance(value, Value) or query.rank != 3:
        raise Decline("MultiHeadAttention on inputs other than (batch, time, features)")
    lines: list[str] = []
    moved = []
    for v in (query, value, key):
        if isinstance(v, Value):
            more, v = ctx.keras_layout(v)
            lines += more
        moved.append(v)
    query_v, value_v, key_v = moved
    heads, key_dim = int(cfg["num_heads"]), int(cfg["key_dim"])
    value_dim = int(cfg.get("value_dim") or key_dim)
    out_shape = cfg.get("output_shape")
    if isinstance(out_shape, list | tuple):
        if len(out_shape) != 1:
            raise Decline(f"output_shape={out_shape}")
        out_shape = out_shape[0]
    output_dim = int(out_shape) if out_shape else int(query.shape[-1])
    dense = {name: _sub(layer, f"{name}_dense") for name in ("query", "key", "value", "output")}
    use_bias = bool(cfg.get("use_bias", True))
    dropout = float(cfg.get("dropout", 0.0) or 0.0)
    t = Translation(modules={}, lines=lines, outputs=[], helpers=["MultiHeadAttention"])
    if call.call_index == 0:
        key_in = int((key_v or value_v).shape[-1])
        args = [str(query.shape[-1]), str(key_in), str(value.shape[-1]), str(heads), str(key_dim), str(value_dim)]
        args.append(str(output_dim))
        if not use_bias:
            args.append("bias=False")
        if dropout:
            args.append(f"dropout={dropout!r}")
        if ctx.keras_version < 3:
            args.append("additive_mask=True")
        t.modules[call.attr] = f"MultiHeadAttention({', '.join(args)})"
        for name, sub in dense.items():
            kernel = ctx.array(sub.kernel)
            inner = kernel.shape[0] if name != "output" else kernel.shape[0] * kernel.shape[1]
            weight = kernel.reshape(inner, -1).T  # (in, heads, dim) -> (heads * dim, in); output: (out, heads * dim)
            target = f"{call.attr}.{name}"
            _linear(
                t, ctx, call, sub, f"{target}.weight", sub.kernel, np.ascontiguousarray(weight), "kernel_initializer"
            )
            if use_bias:
                bias = ctx.array(sub.bias).reshape(-1)
                _linear(t, ctx, call, sub, f"{target}.bias", sub.bias, bias, "bias_initializer")
    masks = []
    q_mask = _bool_mask(call.kwargs.get("query_mask")) or query_v.mask
    v_mask = _bool_mask(call.kwargs.get("value_mask")) or value_v.mask
    k_mask = _bool_mask(call.kwargs.get("key_mask")) or (key_v.mask if key_v is not None else None)
    if q_mask:
        masks.append(f"{q_mask}[:, :, None]")
    if v_mask:
        masks.append(f"{v_mask}[:, None, :]")
    if k_mask and key_v is not None:
        masks.append(f"{k_mask}[:, None, :]")
    if call.kwargs.get("use_causal_mask"):
        masks.append(_causal(query_v.var, value_v.var))
    explicit = _bool_mask(call.kwargs.get("attention_mask"))
    if explicit:
        masks.append(explicit)
    call_args = [query_v.var, value_v.var]
    if key_v is not None:
        call_args.append(key_v.var)
    if masks:
        mask = ctx.var(f"{call.attr}_mask")
        t.lines.append(f"{mask} = {' & '.join(masks)}  # True where Keras lets a query attend")
        call_args.append(f"attention_mask={mask}")
    scores = bool(call.kwargs.get("return_attention_scores"))
    out = ctx.var(call.attr)
    if scores:
        call_args.append("return_attention_scores=True")
        weights = ctx.var(f"{call.attr}_scores")
        t.lines.append(f"{out}, {weights} = self.{call.attr}({', '.join(call_args)})")
    else:
        t.lines.append(f"{out} = self.{call.attr}({', '.join(call_args)})")
    t.outputs.append(Value(out, call.output_shapes[0], call.output_dtypes[0], mask=q_mask))
    if scores:
        t.outputs.append(Value(weights, call.output_shapes[1], call.output_dtypes[1]))
    return t


def _linear(
    t: Translation, ctx: Context, call: LayerCall, sub: Any, key: str, variable: Any, array: Any, init: str
) -> None:
    t.weights[key] = np.asarray(array, dtype=np.float32)
    t.weight_map[key] = ctx.path(variable)
    if not call.layer.trainable or not getattr(variable, "trainable", True):
        t.buffers.add(key)
    t.init_lines += layer_init(sub, init, f"self.{key}", tuple(variable.shape), tuple(np.shape(array)))


def translate_attention(call: LayerCall, ctx: Context) -> Translation:
    """Attention (Luong: dot or scaled dot, ``score_mode="concat"``) and AdditiveAttention
    (Bahdanau), spelled out in forward(): scores, Keras's masking, softmax, weighted values.

    torch has no module for them. Keras subtracts 1e9 from the scores of masked values (the
    value mask and the causal mask), zeroes the outputs of masked queries and applies dropout
    to the attention weights in training; the learned ``scale`` / ``concat_score_weight``
    scalars (or AdditiveAttention's scale vector) are an ``nn.ParameterDict``.
    """
    layer = call.layer
    inputs = _arg(call, 0, "inputs")
    if not isinstance(inputs, list | tuple) or len(inputs) not in (2, 3):
        raise Decline("Attention called with other than [query, value(, key)]")
    lines: list[str] = []
    values = []
    for v in inputs:
        if not isinstance(v, Value) or v.rank != 3:
            raise Decline("Attention on inputs other than (batch, time, features)")
        more, v = ctx.keras_layout(v)
        lines += more
        values.append(v)
    q, v = values[0], values[1]
    k = values[2] if len(values) > 2 else v
    t = Translation(modules={}, lines=lines, outputs=[])
    additive = call.class_name == "AdditiveAttention"
    mode = "additive" if additive else str(getattr(layer, "score_mode", "dot"))
    params = {}
    if getattr(layer, "use_scale", False) and getattr(layer, "scale", None) is not None:
        params["scale"] = layer.scale
    if mode == "concat":
        params["concat_score_weight"] = layer.concat_score_weight
    if call.call_index == 0 and params:
        ctor = ", ".join(f'"{name}": nn.Parameter(torch.empty({tuple(var.shape)}))' for name, var in params.items())
        t.modules[call.attr] = "nn.ParameterDict({" + ctor + "})"
        for name, var in params.items():
            _add_param(t, ctx, call, name, var, layer, "")
            if additive:  # Keras's glorot_uniform on a vector: fan_in = fan_out = its length
                limit = (3.0 / max(1, int(np.prod(var.shape)))) ** 0.5
                t.init_lines.append(f"nn.init.uniform_(self.{call.attr}[{name!r}], -{limit:.6g}, {limit:.6g})")
            else:
                t.init_lines.append(f"nn.init.ones_(self.{call.attr}[{name!r}])")
    p = {name: f"self.{call.attr}[{name!r}]" for name in params}
    scores = ctx.var(f"{call.attr}_scores")
    if mode == "dot":
        expr = f"torch.matmul({q.var}, {k.var}.transpose(-2, -1))"
        if "scale" in p:
            expr += f" * {p['scale']}"
    elif mode == "concat":
        inner = f"{q.var}.unsqueeze(-2) + {k.var}.unsqueeze(-3)"
        if "scale" in p:
            inner = f"{p['scale']} * ({inner})"
        expr = f"{p['concat_score_weight']} * torch.tanh({inner}).sum(-1)"
    elif mode == "additive":
        inner = f"torch.tanh({q.var}.unsqueeze(-2) + {k.var}.unsqueeze(-3))"
        expr = f"({p['scale']} * {inner}).sum(-1)" if "scale" in p else f"{inner}.sum(-1)"
    else:
        raise Decline(f"score_mode={mode!r}")
    t.lines.append(f"{scores} = {expr}")
    given = call.kwargs.get("mask")
    q_mask = v_mask = None
    if isinstance(given, list | tuple):
        q_mask = _bool_mask(given[0]) if len(given) > 0 else None
        v_mask = _bool_mask(given[1]) if len(given) > 1 else None
    q_mask = q_mask or q.mask
    v_mask = v_mask or v.mask
    masks = []
    if v_mask:
        masks.append(f"{v_mask}[:, None, :]")
    if call.kwargs.get("use_causal_mask") or getattr(layer, "causal", False):
        masks.append(_causal(q.var, v.var))
    if masks:
        t.lines.append(f"{scores} = torch.where({' & '.join(masks)}, {scores}, {scores} - 1e9)  # Keras's masking")
    weights = ctx.var(f"{call.attr}_weights")
    t.lines.append(f"{weights} = torch.softmax({scores}, dim=-1)")
    dropout = float(getattr(layer, "dropout", 0.0) or 0.0)
    applied = weights
    if dropout:
        applied = f"F.dropout({weights}, {dropout!r}, self.training)"
    out = ctx.var(call.attr)
    t.lines.append(f"{out} = torch.matmul({applied}, {v.var})")
    if q_mask:
        masked = ctx.var(f"{call.attr}_masked")
        t.lines.append(f"{masked} = torch.where({q_mask}[..., None], {out}, 0.0)  # masked queries give zeros")
        out = masked
    t.outputs.append(Value(out, call.output_shapes[0], call.output_dtypes[0], mask=q_mask))
    if call.kwargs.get("return_attention_scores"):
        t.outputs.append(Value(weights, call.output_shapes[1], call.output_dtypes[1]))
    return t


ENTRIES = (
    LayerEntry.of(("MultiHeadAttention",), translate_multi_head_attention),
    LayerEntry.of(("Attention", "AdditiveAttention"), translate_attention),
)
