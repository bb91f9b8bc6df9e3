"""ONNX Expand (every version) with the target shape baked in when constant."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import const_ints, converters, result


class OnnxExpand(nn.Module):
    """Broadcast the input against a shape (numpy rules: either side may be 1).

    onnx2torch reads the shape tensor at run time, which torch.export cannot trace.
    """

    def __init__(self, shape: list[int] | None) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        target = self.shape if shape is None else [int(d) for d in shape.tolist()]
        assert target is not None
        return x.expand(torch.broadcast_shapes(tuple(x.shape), tuple(target)))


def _convert(node: Any, graph: Any) -> Any:
    shape = const_ints(node, graph, 1)
    if shape is None:
        return result(OnnxExpand(None), node)
    return result(OnnxExpand(shape), node, (0,))


OP = CustomOp.define(OnnxExpand, name="Expand", torch=converters(("Expand",), _convert))
