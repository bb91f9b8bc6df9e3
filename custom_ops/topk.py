"""ONNX TopK (every version) with ONNX's tie order: among equal values the lower index comes first."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, present, result


class OnnxTopK(nn.Module):
    """The ``k`` largest (or smallest) values along ``axis`` and their indices; ``k`` baked in when constant.

    ONNX requires equal values to come out in index order; ``torch.topk`` gives no such
    guarantee (onnx2torch uses it and returns other indices for ties), and onnx2torch has no
    TopK-24.
    """

    def __init__(self, k: int | None, axis: int, largest: bool) -> None:
        super().__init__()
        self.k = k
        self.axis = axis
        self.largest = largest

    def forward(self, x: torch.Tensor, k: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        count = self.k if k is None else int(k.reshape(-1)[0])
        assert count is not None
        values, indices = torch.sort(x, dim=self.axis, descending=self.largest, stable=True)
        return values.narrow(self.axis, 0, count), indices.narrow(self.axis, 0, count)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    axis = int(attrs.get("axis", -1))
    largest = bool(attrs.get("largest", 1))
    if "k" in attrs:  # TopK-1
        return result(OnnxTopK(int(attrs["k"]), axis, largest), node, (0,))
    k = const_ints(node, graph, 1) if present(node, 1) else None
    if k is not None:
        return result(OnnxTopK(k[0], axis, largest), node, (0,))
    return result(OnnxTopK(None, axis, largest), node)


OP = CustomOp.define(OnnxTopK, name="TopK", torch=converters(("TopK",), _convert))
