"""ONNX Flatten (every version), axis 0 and axis == rank included."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxFlatten(nn.Module):
    """Flatten to 2-D around ``axis``: ``(prod(shape[:axis]), prod(shape[axis:]))``.

    onnx2torch uses ``torch.flatten(start_dim=axis)``, which is wrong for axis 0 and fails for
    axis == rank, and has no converter after version 13.
    """

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxFlatten(int(attributes(node).get("axis", 1))), node)


OP = CustomOp.define(OnnxFlatten, name="Flatten", torch=converters(("Flatten",), _convert))
