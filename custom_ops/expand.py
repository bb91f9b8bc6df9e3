"""ONNX Expand (every version) with the target shape baked in when constant or read from other tensors' sizes."""

from __future__ import annotations

import torch
from torch import nn

from custom_ops import _shapes
from custom_ops.base import CustomOp
from custom_ops.common import converters


class OnnxExpand(nn.Module):
    """Broadcast the input against a shape (numpy rules: either side may be 1).

    onnx2torch reads the shape tensor at run time, which torch.export cannot trace.
    """

    def __init__(self, shape: list[int] | None) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor, shape: torch.Tensor | None = None) -> torch.Tensor:
        target = self.shape if shape is None else [int(d) for d in shape.tolist()]
        assert target is not None
        return x.expand(torch.broadcast_shapes(tuple(x.shape), tuple(target)))


class OnnxExpandShaped(nn.Module):
    """Expand (bidirectional broadcast) to a shape of constants and sizes of other tensors.

    A target tf2onnx computes from ``Shape`` of a batch-sized tensor (``tf.zeros([batch,
    units])``: a recurrent layer's initial state) is data to :class:`OnnxExpand`, which
    torch.export cannot trace. Resolved at conversion time into constants and ``x.shape[axis]``
    reads (custom_ops/_shapes.py), it traces as symbolic sizes.
    """

    def __init__(self, dims: list[_shapes.Dim], refs: list[str]) -> None:
        super().__init__()
        self.dims = dims
        self.refs = refs

    def forward(self, x: torch.Tensor, *sized: torch.Tensor) -> torch.Tensor:
        shape = _shapes.build(self.dims, self.refs, sized)
        rank = max(x.dim(), len(shape))
        # a constant 1 keeps the input's size (bidirectional broadcast); decided from the
        # constants alone, so no symbolic size is ever compared
        keep = [True] * (rank - len(shape)) + [d.tensor is None and d.value == 1 for d in self.dims]
        padded = [1] * (rank - len(shape)) + list(shape)
        current = [1] * (rank - x.dim()) + list(x.shape)
        target = [c if k else t for c, t, k in zip(current, padded, keep, strict=True)]
        return x.expand(target) if rank == x.dim() else x.reshape(current).expand(target)


_convert = _shapes.shape_input_converter(OnnxExpand, OnnxExpandShaped)

OP = CustomOp.define(OnnxExpand, name="Expand", torch=converters(("Expand",), _convert))
