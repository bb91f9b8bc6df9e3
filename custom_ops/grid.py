"""ONNX GridSample and AffineGrid: sampling an image at normalised coordinates, and making such grids."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, result

_MODES = {"bilinear": "bilinear", "linear": "bilinear", "nearest": "nearest", "bicubic": "bicubic", "cubic": "bicubic"}


class OnnxGrid(nn.Module):
    """GridSample (2-D: linear, nearest, cubic; 3-D: linear, nearest; zeros, border or reflection
    padding) through ``F.grid_sample``; AffineGrid through ``F.affine_grid`` (size baked in when
    constant).

    onnx2torch has no converter for either op.
    """

    def __init__(self, op: str, mode: str, padding: str, align_corners: bool, size: list[int] | None = None) -> None:
        super().__init__()
        self.op = op
        self.mode = mode
        self.padding = padding
        self.align_corners = align_corners
        self.size = size

    def forward(self, x: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        if self.op == "AffineGrid":
            size = self.size if other is None else [int(s) for s in other.tolist()]
            assert size is not None
            return F.affine_grid(x, size, align_corners=self.align_corners)
        assert other is not None
        if self.mode == "bicubic" and x.dim() != 4:
            raise NotImplementedError("GridSample cubic mode on volumes")
        return F.grid_sample(
            x, other.to(x.dtype), mode=self.mode, padding_mode=self.padding, align_corners=self.align_corners
        )


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    align = bool(attrs.get("align_corners", 0))
    if node.operation_type == "AffineGrid":
        size = const_ints(node, graph, 1)
        if size is None:
            return result(OnnxGrid("AffineGrid", "", "", align), node)
        return result(OnnxGrid("AffineGrid", "", "", align, size), node, (0,))
    mode = _MODES[str(attrs.get("mode", "bilinear"))]
    return result(OnnxGrid("GridSample", mode, str(attrs.get("padding_mode", "zeros")), align), node)


OP = CustomOp.define(OnnxGrid, name="GridSample/AffineGrid", torch=converters(("GridSample", "AffineGrid"), _convert))
