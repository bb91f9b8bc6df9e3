"""ONNX window functions: HannWindow, HammingWindow, BlackmanWindow."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, onnx_to_torch_dtype, result


class OnnxWindow(nn.Module):
    """A Hann, Hamming or Blackman window of the given length, periodic or symmetric.

    onnx2torch has no window-function converters.
    """

    def __init__(self, kind: str, periodic: bool, dtype: torch.dtype, size: int | None) -> None:
        super().__init__()
        self.kind = kind
        self.periodic = periodic
        self.dtype = dtype
        self.size = size

    def forward(self, size: torch.Tensor | None = None) -> torch.Tensor:
        length = self.size if size is None else int(size.reshape(-1)[0])
        assert length is not None
        n = torch.arange(length, dtype=torch.float64)
        span = length if self.periodic else length - 1
        angle = 2 * math.pi * n / span
        if self.kind == "HannWindow":
            w = torch.sin(math.pi * n / span) ** 2
        elif self.kind == "HammingWindow":
            alpha = 25.0 / 46.0
            w = alpha - (1 - alpha) * torch.cos(angle)
        else:
            w = 0.42 - 0.5 * torch.cos(angle) + 0.08 * torch.cos(2 * angle)
        return w.to(self.dtype)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    dtype = onnx_to_torch_dtype(int(attrs.get("output_datatype", 1)))
    size = const_ints(node, graph, 0)
    module = OnnxWindow(node.operation_type, bool(attrs.get("periodic", 1)), dtype, None if size is None else size[0])
    return result(module, node, () if size is not None else None)


OP = CustomOp.define(
    OnnxWindow, name="window functions", torch=converters(("HannWindow", "HammingWindow", "BlackmanWindow"), _convert)
)
