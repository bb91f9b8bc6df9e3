"""ONNX Det: determinants of square matrices (batched over leading dimensions)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import converters, result


class OnnxDet(nn.Module):
    """``torch.linalg.det`` over the last two dimensions.

    onnx2torch has no Det converter.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.det(x)


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxDet(), node)


OP = CustomOp.define(OnnxDet, name="Det", torch=converters(("Det",), _convert))
