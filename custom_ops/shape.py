"""ONNX Shape and Size (every version)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxShape(nn.Module):
    """Shape (with ``start``/``end``) or Size of the input, as an int64 tensor.

    onnx2torch has no Shape after version 15 and no Size at all.
    """

    def __init__(self, start: int, end: int | None, size: bool) -> None:
        super().__init__()
        self.start = start
        self.end = end
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.size:
            return torch.tensor(x.numel(), dtype=torch.int64, device=x.device)
        rank = x.dim()
        start = min(max(self.start + rank if self.start < 0 else self.start, 0), rank)
        end = rank if self.end is None else self.end
        end = min(max(end + rank if end < 0 else end, 0), rank)
        return torch.tensor(list(x.shape[start:end]), dtype=torch.int64, device=x.device)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    module = OnnxShape(int(attrs.get("start", 0)), attrs.get("end"), node.operation_type == "Size")
    return result(module, node)


OP = CustomOp.define(OnnxShape, name="Shape/Size", torch=converters(("Shape", "Size"), _convert))
