"""ONNX Gather, GatherElements and GatherND (every version), negative indices and batch_dims included."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, constant_input, converters, result


def _wrap(indices: torch.Tensor, size: Any) -> torch.Tensor:
    indices = indices.long()
    return torch.where(indices < 0, indices + size, indices)


class OnnxGather(nn.Module):
    """Gather (constant indices baked in: a scalar index becomes ``select``), GatherElements and
    GatherND with ``batch_dims``, all with negative indices counted from the end.

    onnx2torch's GatherElements fails on negative indices and its GatherND refuses
    ``batch_dims``; its Gather keeps constant indices as a tensor input.
    """

    def __init__(self, kind: str, axis: int, batch_dims: int = 0, index: Any = None) -> None:
        super().__init__()
        self.kind = kind
        self.axis = axis
        self.batch_dims = batch_dims
        self.index = index  # a constant Gather index: an int, or a list of ints with its shape
        if isinstance(index, tuple):
            self.register_buffer("constant_indices", torch.tensor(index[0], dtype=torch.long).reshape(index[1]))

    def forward(self, x: torch.Tensor, indices: torch.Tensor | None = None) -> torch.Tensor:
        axis = self.axis % x.dim()
        if self.kind == "gather":
            if isinstance(self.index, int):
                return x.select(axis, self.index)
            if indices is None:
                indices = self.constant_indices
            flat = _wrap(indices, x.shape[axis]).reshape(-1)
            out = x.index_select(axis, flat)
            return out.reshape(*x.shape[:axis], *indices.shape, *x.shape[axis + 1 :])
        assert indices is not None
        if self.kind == "elements":
            return torch.gather(x, axis, _wrap(indices, x.shape[axis]))
        b = self.batch_dims
        depth = indices.shape[-1]
        batch = x.shape[:b]
        flat_x = x.reshape(-1, *x.shape[b:])
        flat_i = indices.long().reshape(flat_x.shape[0], -1, depth)
        rows = torch.arange(flat_x.shape[0], device=x.device).reshape(-1, 1)
        picks = [_wrap(flat_i[..., j], x.shape[b + j]) for j in range(depth)]
        out = flat_x[(rows, *picks)]
        return out.reshape(*batch, *indices.shape[b:-1], *x.shape[b + depth :])


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    op = node.operation_type
    axis = int(attrs.get("axis", 0))
    if op == "Gather":
        value = constant_input(node, graph, 1)
        if value is not None:
            value = np.asarray(value).astype(np.int64)
            if value.ndim == 0 and value >= 0:
                return result(OnnxGather("gather", axis, index=int(value)), node, (0,))
            return result(OnnxGather("gather", axis, index=(value.reshape(-1).tolist(), list(value.shape))), node, (0,))
        return result(OnnxGather("gather", axis), node)
    if op == "GatherElements":
        return result(OnnxGather("elements", axis), node)
    return result(OnnxGather("nd", 0, int(attrs.get("batch_dims", 0))), node)


OP = CustomOp.define(
    OnnxGather,
    name="Gather/GatherElements/GatherND",
    torch=converters(("Gather", "GatherElements", "GatherND"), _convert),
)
