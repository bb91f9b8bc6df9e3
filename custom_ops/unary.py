"""Element-wise unary math ops: trigonometric and hyperbolic functions, IsInf, IsNaN, Round."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result

FUNCTIONS = {
    "Acos": torch.acos,
    "Acosh": torch.acosh,
    "Asin": torch.asin,
    "Asinh": torch.asinh,
    "Atan": torch.atan,
    "Atanh": torch.atanh,
    "Cos": torch.cos,
    "Cosh": torch.cosh,
    "Sin": torch.sin,
    "Sinh": torch.sinh,
    "Tan": torch.tan,
    "Round": torch.round,  # half to even, as ONNX asks
    "IsNaN": torch.isnan,
}


class OnnxUnary(nn.Module):
    """An element-wise unary function (``IsInf`` honours ``detect_negative``/``detect_positive``).

    onnx2torch has no Acosh, Asinh, Atanh, Cosh or Sinh, none of the trigonometric ops at
    version 22, and its IsInf ignores ``detect_negative``/``detect_positive``.
    """

    def __init__(self, op_type: str, negative: bool = True, positive: bool = True) -> None:
        super().__init__()
        self.op_type = op_type
        self.negative = negative
        self.positive = positive

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.op_type == "IsInf":
            if self.negative and self.positive:
                return torch.isinf(x)
            if self.negative:
                return torch.isneginf(x)
            if self.positive:
                return torch.isposinf(x)
            return torch.zeros_like(x, dtype=torch.bool)
        return FUNCTIONS[self.op_type](x)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    module = OnnxUnary(
        node.operation_type, bool(attrs.get("detect_negative", 1)), bool(attrs.get("detect_positive", 1))
    )
    return result(module, node)


OP = CustomOp.define(OnnxUnary, name="unary math", torch=converters((*FUNCTIONS, "IsInf"), _convert))
