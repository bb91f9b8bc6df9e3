"""ONNX Trilu: the upper or lower triangle of the last two dimensions."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, present, result


class OnnxTrilu(nn.Module):
    """``triu``/``tril`` with diagonal offset ``k`` (baked in when constant).

    onnx2torch has no Trilu converter.
    """

    def __init__(self, upper: bool, k: int | None) -> None:
        super().__init__()
        self.upper = upper
        self.k = k

    def forward(self, x: torch.Tensor, k: torch.Tensor | None = None) -> torch.Tensor:
        offset = self.k if k is None else int(k.reshape(-1)[0])
        assert offset is not None
        if x.dtype == torch.bool:
            keep = torch.ones(x.shape[-2:], dtype=torch.bool, device=x.device)
            keep = torch.triu(keep, offset) if self.upper else torch.tril(keep, offset)
            return x & keep
        return torch.triu(x, offset) if self.upper else torch.tril(x, offset)


def _convert(node: Any, graph: Any) -> Any:
    upper = bool(attributes(node).get("upper", 1))
    if not present(node, 1):
        return result(OnnxTrilu(upper, 0), node, (0,))
    k = const_ints(node, graph, 1)
    if k is None:
        return result(OnnxTrilu(upper, None), node)
    return result(OnnxTrilu(upper, k[0]), node, (0,))


OP = CustomOp.define(OnnxTrilu, name="Trilu", torch=converters(("Trilu",), _convert))
