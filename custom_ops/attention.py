"""ONNX Attention (opset 23+): scaled dot-product attention with masks, caches, GQA and softcap."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, onnx_to_torch_dtype, result


def _causal_bias(q_len: int, kv_len: int, offset: Any, dtype: torch.dtype, device: Any) -> torch.Tensor:
    """0 where query ``i`` may see key ``j`` (``j <= i + offset``), -inf elsewhere; offset per batch or scalar."""
    i = torch.arange(q_len, device=device).reshape(q_len, 1)
    j = torch.arange(kv_len, device=device).reshape(1, kv_len)
    if isinstance(offset, torch.Tensor):
        allowed = j <= i + offset.reshape(-1, 1, 1)
        allowed = allowed.unsqueeze(1)  # (batch, 1, q, kv)
    else:
        allowed = j <= i + offset
    zero = torch.zeros((), dtype=dtype, device=device)
    return torch.where(allowed, zero, torch.full((), float("-inf"), dtype=dtype, device=device))


def _window_bias(q_len: int, kv_len: int, left: int, right: int, offset: Any, dtype: torch.dtype, device: Any) -> Any:
    i = torch.arange(q_len, device=device).reshape(q_len, 1)
    j = torch.arange(kv_len, device=device).reshape(1, kv_len)
    diff = (i + offset.reshape(-1, 1, 1)).unsqueeze(1) - j if isinstance(offset, torch.Tensor) else i + offset - j
    allowed = torch.ones_like(diff, dtype=torch.bool)
    if left >= 0:
        allowed &= diff <= left
    if right >= 0:
        allowed &= -diff <= right
    zero = torch.zeros((), dtype=dtype, device=device)
    return torch.where(allowed, zero, torch.full((), float("-inf"), dtype=dtype, device=device))


class OnnxAttention(nn.Module):
    """ONNX's Attention op: 3-D (heads folded) or 4-D inputs, bool or additive masks, causal and
    sliding-window masking, past key/value caches, grouped-query heads, softcap and the optional
    ``qk_matmul_output`` (raw, biased or softmaxed scores), following the ONNX reference.

    onnx2torch has no Attention converter (the op is new in opset 23); torch's
    ``scaled_dot_product_attention`` alone does not cover softcap, caches or the score output.
    """

    def __init__(
        self,
        scale: float | None,
        is_causal: bool,
        q_heads: int | None,
        kv_heads: int | None,
        softmax_dtype: torch.dtype | None,
        softcap: float | None,
        qk_mode: int,
        left: int,
        right: int,
        outputs: int,
    ) -> None:
        super().__init__()
        self.scale = scale
        self.is_causal = is_causal
        self.q_heads = q_heads
        self.kv_heads = kv_heads
        self.softmax_dtype = softmax_dtype
        self.softcap = softcap
        self.qk_mode = qk_mode
        self.left = left
        self.right = right
        self.outputs = outputs

    def forward(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        past_key: torch.Tensor | None = None,
        past_value: torch.Tensor | None = None,
        nonpad_kv_seqlen: torch.Tensor | None = None,
    ) -> Any:
        rank3 = q.dim() == 3
        batch = q.shape[0]
        if rank3:
            assert self.q_heads is not None and self.kv_heads is not None
            q = q.reshape(batch, q.shape[1], self.q_heads, -1).transpose(1, 2)
            k = k.reshape(batch, k.shape[1], self.kv_heads, -1).transpose(1, 2)
            v = v.reshape(batch, v.shape[1], self.kv_heads, -1).transpose(1, 2)
        dtype = q.dtype
        scale = self.scale if self.scale is not None else 1.0 / float(q.shape[3]) ** 0.5
        root = torch.tensor(scale**0.5, dtype=dtype)
        present_key = k if past_key is None else torch.cat([past_key, k], dim=2)
        present_value = v if past_value is None else torch.cat([past_value, v], dim=2)
        k, v = present_key, present_value
        q_len, kv_len = q.shape[2], k.shape[2]
        device = q.device
        bias = torch.zeros((q_len, kv_len), dtype=dtype, device=device)
        if attn_mask is not None and kv_len - attn_mask.shape[-1] > 0:
            pad = kv_len - attn_mask.shape[-1]
            fill = False if attn_mask.dtype == torch.bool else float("-inf")
            attn_mask = torch.nn.functional.pad(attn_mask, (0, pad), value=fill)
        external = past_key is None and nonpad_kv_seqlen is not None
        if self.is_causal:
            if attn_mask is not None and attn_mask.dtype == torch.bool:
                attn_mask = torch.where(
                    attn_mask, torch.zeros((), dtype=dtype), torch.full((), float("-inf"), dtype=dtype)
                )
            base = bias if attn_mask is None else attn_mask.to(dtype)
            offset: Any = (
                nonpad_kv_seqlen.reshape(-1) - q_len
                if external and nonpad_kv_seqlen is not None
                else (past_key.shape[2] if past_key is not None else 0)
            )
            bias = base + _causal_bias(q_len, kv_len, offset, dtype, device)
        elif attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                attn_mask = torch.where(
                    attn_mask, torch.zeros((), dtype=dtype), torch.full((), float("-inf"), dtype=dtype)
                )
            bias = bias + attn_mask.to(dtype)
        if self.left >= 0 or self.right >= 0:
            offset = (
                nonpad_kv_seqlen.reshape(-1) - q_len
                if external and nonpad_kv_seqlen is not None
                else (past_key.shape[2] if past_key is not None else 0)
            )
            bias = bias + _window_bias(q_len, kv_len, self.left, self.right, offset, dtype, device)
        if nonpad_kv_seqlen is not None:
            keep = torch.arange(kv_len, device=device) < nonpad_kv_seqlen.reshape(-1, 1)
            pad_bias = torch.where(keep, torch.zeros((), dtype=dtype), torch.full((), float("-inf"), dtype=dtype))
            bias = bias + pad_bias.reshape(batch, 1, 1, kv_len)
        q_heads = q.shape[1]
        kv_heads = k.shape[1] if self.kv_heads is None else self.kv_heads
        if q_heads != kv_heads and q_heads % kv_heads == 0:
            k = k.repeat_interleave(q_heads // kv_heads, dim=1)
            v = v.repeat_interleave(q_heads // kv_heads, dim=1)
        scores = torch.matmul(q * root, k.transpose(2, 3) * root)
        if self.softcap is not None and self.softcap > 0:
            scores = torch.tanh(scores / self.softcap) * self.softcap
        biased = scores + bias
        qk_out = biased if self.qk_mode == 2 else scores
        if self.softmax_dtype is not None:
            biased = biased.to(self.softmax_dtype)
        row_max = biased.amax(dim=-1, keepdim=True)
        safe = torch.where(torch.isneginf(row_max), torch.zeros_like(row_max), row_max)
        weights = torch.exp(biased - safe)
        total = weights.sum(dim=-1, keepdim=True)
        weights = weights / torch.where(total == 0, torch.ones_like(total), total)
        masked_rows = torch.isneginf(bias.amax(dim=-1, keepdim=True))
        weights = torch.where(masked_rows, torch.zeros_like(weights), weights)
        if self.qk_mode == 3:
            qk_out = weights
        weights = weights.to(dtype)
        y = torch.matmul(weights, v)
        if rank3:
            y = y.transpose(1, 2).reshape(batch, y.shape[2], -1)
        outs = (y, present_key, present_value, qk_out.to(dtype))
        return outs[: self.outputs] if self.outputs > 1 else y


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    precision = attrs.get("softmax_precision")
    softcap = attrs.get("softcap")
    module = OnnxAttention(
        scale=float(attrs["scale"]) if "scale" in attrs else None,
        is_causal=bool(attrs.get("is_causal", 0)),
        q_heads=int(attrs["q_num_heads"]) if "q_num_heads" in attrs else None,
        kv_heads=int(attrs["kv_num_heads"]) if "kv_num_heads" in attrs else None,
        softmax_dtype=onnx_to_torch_dtype(int(precision)) if precision is not None else None,
        softcap=float(softcap) if softcap is not None else None,
        qk_mode=int(attrs.get("qk_matmul_output_mode", 0)),
        left=int(attrs.get("left_window_size", -1)),
        right=int(attrs.get("right_window_size", -1)),
        outputs=len(node.output_values),
    )
    return result(module, node)


OP = CustomOp.define(OnnxAttention, name="Attention", torch=converters(("Attention",), _convert))
