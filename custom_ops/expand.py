"""ONNX Expand whose target shape is constant or read from other tensors' sizes."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops import _shapes
from custom_ops.base import CustomOp, TorchConverter, mapping


class OnnxExpandShaped(nn.Module):
    """Expand (bidirectional broadcast) to a shape of constants and sizes of other tensors.

    onnx2torch builds ``torch.Size(shape_tensor)`` at run time, which torch.export cannot trace
    when the shape comes from ``Shape`` of a batch-sized tensor (tf2onnx's ``tf.zeros([batch,
    units])``: a recurrent layer's initial state). The shape is resolved at conversion time into
    constants and ``x.shape[axis]`` reads (custom_ops/_shapes.py), which trace as symbolic sizes.
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


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    dims = _shapes.shape_expression(node, graph, 1)
    if dims is None:
        raise NotImplementedError("Expand to a shape computed from tensor values at run time")
    refs = _shapes.references(dims)
    if not refs:
        return OperationConverterResult(torch_module=OnnxExpandShaped(dims, []), onnx_mapping=mapping(node, (0,)))
    inputs = (node.input_values[0], *refs)
    return OperationConverterResult(
        torch_module=OnnxExpandShaped(dims, refs), onnx_mapping=OnnxMapping(inputs=inputs, outputs=node.output_values)
    )


OP = CustomOp.define(OnnxExpandShaped, name="Expand", torch=(TorchConverter("Expand", (8, 13), _convert),))
