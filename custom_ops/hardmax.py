"""ONNX Hardmax (every version): one-hot of the first maximum along an axis."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp, TorchConverter
from custom_ops.common import attributes, result


class OnnxHardmax(nn.Module):
    """1 where the first maximum of each slice along ``axis`` is, 0 elsewhere (pre-13: over a 2-D view).

    onnx2torch has no Hardmax converter.
    """

    def __init__(self, axis: int, coerce_2d: bool) -> None:
        super().__init__()
        self.axis = axis
        self.coerce_2d = coerce_2d

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        axis = self.axis + x.dim() if self.axis < 0 else self.axis
        if self.coerce_2d:
            flat = x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
            hot = F.one_hot(flat.argmax(dim=1), flat.shape[1]).to(x.dtype)
            return hot.reshape(x.shape)
        hot = F.one_hot(x.argmax(dim=axis), x.shape[axis]).to(x.dtype)
        return hot.movedim(-1, axis)


def _converter(coerce_2d: bool) -> Any:
    def convert(node: Any, graph: Any) -> Any:
        axis = int(attributes(node).get("axis", 1 if coerce_2d else -1))
        return result(OnnxHardmax(axis, coerce_2d), node)

    return convert


OP = CustomOp.define(
    OnnxHardmax,
    name="Hardmax",
    torch=(
        TorchConverter("Hardmax", (1, 11), _converter(coerce_2d=True)),
        TorchConverter("Hardmax", (13,), _converter(coerce_2d=False)),
    ),
)
