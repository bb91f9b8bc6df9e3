"""ONNX NonZero (every version): indices of the non-zero elements, one row per dimension."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import converters, result


class OnnxNonZero(nn.Module):
    """``torch.nonzero(x).T``: shape ``(rank, count)``, as ONNX (and numpy) lay it out.

    onnx2torch returns ``torch.nonzero(x)`` untransposed, ``(count, rank)``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nonzero(x).transpose(0, 1)


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxNonZero(), node)


OP = CustomOp.define(OnnxNonZero, name="NonZero", torch=converters(("NonZero",), _convert))
