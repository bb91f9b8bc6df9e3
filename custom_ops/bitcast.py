"""ONNX BitCast: reinterpret the bits of a tensor as another type of the same width."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, onnx_to_torch_dtype, result


class OnnxBitCast(nn.Module):
    """``x.view(dtype)``: same bits, another element type of the same width.

    onnx2torch has no BitCast (new in opset 26).
    """

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.bool or self.dtype == torch.bool:
            return x.view(torch.uint8).view(self.dtype) if x.dtype == torch.bool else x.view(torch.uint8) != 0
        return x.view(self.dtype)


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxBitCast(onnx_to_torch_dtype(int(attributes(node)["to"]))), node)


OP = CustomOp.define(OnnxBitCast, name="BitCast", torch=converters(("BitCast",), _convert))
