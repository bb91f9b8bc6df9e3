"""ONNX Split (every version): explicit sizes, equal parts, or ``num_outputs`` parts (opset 18)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, present, result


class OnnxSplit(nn.Module):
    """Split along ``axis`` into the given sizes (baked in when constant) or into ``parts`` pieces,
    the last one smaller when the axis does not divide evenly.

    onnx2torch has no Split-18 (``num_outputs``) and reads Split-13's sizes tensor at run time.
    """

    def __init__(self, axis: int, sizes: list[int] | None, parts: int) -> None:
        super().__init__()
        self.axis = axis
        self.sizes = sizes
        self.parts = parts

    def forward(self, x: torch.Tensor, split: torch.Tensor | None = None) -> Any:
        if split is not None:
            sizes = [int(s) for s in split.tolist()]
        elif self.sizes is not None:
            sizes = self.sizes
        else:
            length = x.shape[self.axis]
            chunk = -(-length // self.parts)
            sizes = [chunk] * (self.parts - 1) + [length - chunk * (self.parts - 1)]
        pieces = torch.split(x, sizes, dim=self.axis)
        return pieces if len(pieces) > 1 else pieces[0]


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    axis = int(attrs.get("axis", 0))
    parts = int(attrs.get("num_outputs", len(node.output_values)))
    if "split" in attrs:
        return result(OnnxSplit(axis, [int(s) for s in attrs["split"]], parts), node, (0,))
    if present(node, 1):
        sizes = const_ints(node, graph, 1)
        if sizes is None:
            return result(OnnxSplit(axis, None, parts), node)
        return result(OnnxSplit(axis, sizes, parts), node, (0,))
    return result(OnnxSplit(axis, None, parts), node, (0,))


OP = CustomOp.define(OnnxSplit, name="Split", torch=converters(("Split",), _convert))
