"""ONNX-ML ops with plain tensor semantics: Binarizer and ArrayFeatureExtractor."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter
from custom_ops.common import attributes, result

ML = "ai.onnx.ml"


class OnnxMl(nn.Module):
    """Binarizer (1 above the threshold, else 0, in the input's type) and ArrayFeatureExtractor
    (select entries along the last axis).

    onnx2torch converts no ``ai.onnx.ml`` op.
    """

    def __init__(self, op: str, threshold: float = 0.0) -> None:
        super().__init__()
        self.op = op
        self.threshold = threshold

    def forward(self, x: torch.Tensor, indices: torch.Tensor | None = None) -> torch.Tensor:
        if self.op == "Binarizer":
            return (x > self.threshold).to(x.dtype)
        assert indices is not None
        out = x.index_select(x.dim() - 1, indices.reshape(-1).long())
        return out if x.dim() > 1 else out.reshape(1, -1)


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxMl(node.operation_type, float(attributes(node).get("threshold", 0.0))), node)


OP = CustomOp.define(
    OnnxMl,
    name="Binarizer/ArrayFeatureExtractor",
    torch=(
        TorchConverter("Binarizer", (1,), _convert, domain=ML),
        TorchConverter("ArrayFeatureExtractor", (1,), _convert, domain=ML),
    ),
)
