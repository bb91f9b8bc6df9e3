"""ONNX RotaryEmbedding (opset 23+): rotate (part of) each head by position-dependent angles."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxRotaryEmbedding(nn.Module):
    """Rotary position embedding on 3-D (heads folded) or 4-D inputs, interleaved or half-split
    pairs, optional position ids into the cos/sin caches and a partial rotary dimension.

    onnx2torch has no RotaryEmbedding converter (the op is new in opset 23).
    """

    def __init__(self, interleaved: bool, rotary_dim: int, num_heads: int) -> None:
        super().__init__()
        self.interleaved = interleaved
        self.rotary_dim = rotary_dim
        self.num_heads = num_heads

    def forward(
        self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, position_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        shape = x.shape
        y = x.transpose(1, 2) if x.dim() == 4 else x.reshape(shape[0], shape[1], self.num_heads, -1)
        dim = self.rotary_dim or y.shape[3]
        rotate, keep = y[..., :dim], y[..., dim:]
        if position_ids is not None:
            cos, sin = cos[position_ids.long()], sin[position_ids.long()]
        cos, sin = cos.unsqueeze(2), sin.unsqueeze(2)
        if self.interleaved:
            x1, x2 = rotate[..., 0::2], rotate[..., 1::2]
        else:
            x1, x2 = rotate.chunk(2, dim=-1)
        real = cos * x1 - sin * x2
        imag = sin * x1 + cos * x2
        if self.interleaved:
            rotated = torch.stack([real, imag], dim=-1).reshape(rotate.shape)
        else:
            rotated = torch.cat([real, imag], dim=-1)
        out = torch.cat([rotated, keep], dim=-1)
        return out.transpose(1, 2) if x.dim() == 4 else out.reshape(shape)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    module = OnnxRotaryEmbedding(
        bool(attrs.get("interleaved", 0)), int(attrs.get("rotary_embedding_dim", 0)), int(attrs.get("num_heads", 0))
    )
    return result(module, node)


OP = CustomOp.define(OnnxRotaryEmbedding, name="RotaryEmbedding", torch=converters(("RotaryEmbedding",), _convert))
