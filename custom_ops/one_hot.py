"""ONNX OneHot (Keras ``Discretization`` / ``IntegerLookup`` with output_mode "one_hot", ``tf.one_hot``)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp, constant_input
from custom_ops.common import attributes, converters, result


class OnnxOneHot(nn.Module):
    """``values[1]`` where an index hits a position along ``axis``, ``values[0]`` elsewhere.

    onnx2torch has no OneHot converter (tf2onnx writes one for ``tf.one_hot``, behind Keras'
    one-hot output modes). As ONNX defines it, a negative index counts from the end and an index
    outside ``[-depth, depth)`` gives a row of ``values[0]``; the depth must be a constant, as the
    output's shape depends on it.
    """

    def __init__(self, depth: int, axis: int) -> None:
        super().__init__()
        self.depth = depth
        self.axis = axis

    def forward(self, indices: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        index = indices.to(torch.int64)
        index = torch.where(index < 0, index + self.depth, index)
        inside = (index >= 0) & (index < self.depth)
        hot = F.one_hot(torch.where(inside, index, 0), self.depth).to(torch.bool) & inside.unsqueeze(-1)
        out = torch.where(hot, values[1], values[0])
        axis = self.axis + out.dim() if self.axis < 0 else self.axis
        return out.movedim(-1, axis)


def _convert(node: Any, graph: Any) -> Any:
    depth = constant_input(node, graph, 1)
    if depth is None:
        raise NotImplementedError("OneHot with a depth computed at run time (the output shape depends on it)")
    axis = int(attributes(node).get("axis", -1))
    return result(OnnxOneHot(int(depth.reshape(-1)[0]), axis), node, (0, 2))


OP = CustomOp.define(OnnxOneHot, name="OneHot", torch=converters(("OneHot",), _convert, first=11))
