"""ONNX CenterCropPad: crop or zero-pad each given axis to a size, centred."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, result


class OnnxCenterCropPad(nn.Module):
    """Centre-crop or centre-pad (with zeros) each axis to the target size (baked in when constant).

    onnx2torch has no CenterCropPad converter.
    """

    def __init__(self, axes: list[int] | None, shape: list[int] | None) -> None:
        super().__init__()
        self.axes = axes
        self.shape = shape

    def forward(self, x: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        sizes = self.shape if shape is None else [int(s) for s in shape.tolist()]
        assert sizes is not None
        axes = [a % x.dim() for a in (self.axes or range(x.dim()))]
        for axis, size in zip(axes, sizes, strict=False):
            dim = x.shape[axis]
            if size < dim:
                x = x.narrow(axis, (dim - size) // 2, size)
            elif size > dim:
                before = (size - dim) // 2
                pads = [0, 0] * (x.dim() - 1 - axis) + [before, size - dim - before]
                x = F.pad(x, pads)
        return x


def _convert(node: Any, graph: Any) -> Any:
    axes = attributes(node).get("axes")
    axes = None if axes is None else [int(a) for a in axes]
    shape = const_ints(node, graph, 1)
    if shape is None:
        return result(OnnxCenterCropPad(axes, None), node)
    return result(OnnxCenterCropPad(axes, shape), node, (0,))


OP = CustomOp.define(OnnxCenterCropPad, name="CenterCropPad", torch=converters(("CenterCropPad",), _convert))
