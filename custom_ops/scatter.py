"""ONNX ScatterElements, Scatter, ScatterND (with reductions) and TensorScatter."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result

_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


class OnnxScatter(nn.Module):
    """Write updates into a copy of the data at the given indices (negative ones from the end),
    replacing or combining (add, mul, max, min) with what is there; TensorScatter writes a
    sequence-axis window per batch at ``write_indices`` (linear or circular).

    onnx2torch has no ScatterElements, Scatter or TensorScatter, and no ScatterND-18
    (max/min reductions).
    """

    def __init__(self, kind: str, axis: int, reduction: str, mode: str = "linear") -> None:
        super().__init__()
        self.kind = kind
        self.axis = axis
        self.reduction = reduction
        self.mode = mode

    def forward(self, data: torch.Tensor, indices: torch.Tensor | None = None, updates: Any = None) -> torch.Tensor:
        if self.kind == "tensor":
            return self._tensor_scatter(data, indices, updates)
        assert indices is not None and updates is not None
        if self.kind == "elements":
            axis = self.axis % data.dim()
            idx = indices.long()
            idx = torch.where(idx < 0, idx + data.shape[axis], idx)
            if self.reduction == "none":
                return data.scatter(axis, idx, updates)
            return data.scatter_reduce(axis, idx, updates, _REDUCE[self.reduction], include_self=True)
        depth = indices.shape[-1]
        lead = data.shape[:depth]
        flat = data.reshape(-1, *data.shape[depth:]).clone()
        idx = indices.long().reshape(-1, depth)
        linear = torch.zeros(idx.shape[0], dtype=torch.long, device=data.device)
        for j in range(depth):
            col = idx[:, j]
            col = torch.where(col < 0, col + lead[j], col)
            linear = linear * lead[j] + col
        values = updates.reshape(idx.shape[0], *data.shape[depth:])
        if self.reduction == "none":
            flat[linear] = values
        elif self.reduction == "add":
            flat = flat.index_add(0, linear, values)
        else:
            rows = flat.reshape(flat.shape[0], -1)
            index = linear.reshape(-1, 1).expand(-1, rows.shape[1])
            rows = rows.scatter_reduce(
                0, index, values.reshape(index.shape), _REDUCE[self.reduction], include_self=True
            )
            flat = rows.reshape(flat.shape)
        return flat.reshape(data.shape)

    def _tensor_scatter(self, cache: torch.Tensor, update: Any, write_indices: Any) -> torch.Tensor:
        axis = self.axis % cache.dim()
        batch, length, window = cache.shape[0], cache.shape[axis], update.shape[axis]
        starts = (
            torch.zeros(batch, dtype=torch.long, device=cache.device)
            if write_indices is None
            else write_indices.long().reshape(batch)
        )
        positions = starts.reshape(batch, 1) + torch.arange(window, device=cache.device).reshape(1, window)
        if self.mode == "circular":
            positions = positions % length
        shape = [batch] + [1] * (cache.dim() - 1)
        shape[axis] = window
        index = positions.reshape(shape).expand(update.shape)
        return cache.scatter(axis, index, update)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    op = node.operation_type
    reduction = str(attrs.get("reduction", "none"))
    if op == "TensorScatter":
        return result(OnnxScatter("tensor", int(attrs.get("axis", -2)), "none", str(attrs.get("mode", "linear"))), node)
    kind = "nd" if op == "ScatterND" else "elements"
    return result(OnnxScatter(kind, int(attrs.get("axis", 0)), reduction), node)


OP = CustomOp.define(
    OnnxScatter,
    name="ScatterElements/Scatter/ScatterND/TensorScatter",
    torch=converters(("ScatterElements", "Scatter", "ScatterND", "TensorScatter"), _convert),
)
