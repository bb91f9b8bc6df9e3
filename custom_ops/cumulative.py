"""ONNX CumSum and CumProd (every version), with ``exclusive`` and ``reverse``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, narrow, result, widen


class OnnxCumulative(nn.Module):
    """Running sum or product along ``axis`` (baked in when constant), optionally exclusive and/or reversed.

    onnx2torch's CumSum gets ``exclusive`` and ``reverse`` wrong together and widens int32 to
    int64; it has no CumProd.
    """

    def __init__(self, product: bool, axis: int | None, exclusive: bool, reverse: bool) -> None:
        super().__init__()
        self.product = product
        self.axis = axis
        self.exclusive = exclusive
        self.reverse = reverse

    def forward(self, x: torch.Tensor, axis: torch.Tensor | None = None) -> torch.Tensor:
        dim = self.axis if axis is None else int(axis.reshape(-1)[0])
        assert dim is not None
        dim = dim + x.dim() if dim < 0 else dim
        dtype = x.dtype
        y = widen(x)
        if self.reverse:
            y = y.flip(dim)
        if self.exclusive:
            first = torch.ones_like(y.narrow(dim, 0, 1)) if self.product else torch.zeros_like(y.narrow(dim, 0, 1))
            y = torch.cat([first, y.narrow(dim, 0, y.shape[dim] - 1)], dim)
        out = torch.cumprod(y, dim, dtype=y.dtype) if self.product else torch.cumsum(y, dim, dtype=y.dtype)
        if self.reverse:
            out = out.flip(dim)
        return narrow(out, dtype)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    product = node.operation_type == "CumProd"
    exclusive, reverse = bool(attrs.get("exclusive", 0)), bool(attrs.get("reverse", 0))
    axis = const_ints(node, graph, 1)
    if axis is None:
        return result(OnnxCumulative(product, None, exclusive, reverse), node)
    return result(OnnxCumulative(product, axis[0], exclusive, reverse), node, (0,))


OP = CustomOp.define(OnnxCumulative, name="CumSum/CumProd", torch=converters(("CumSum", "CumProd"), _convert))
