"""ONNX Reshape with a constant target shape, as a static module."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops import _shapes
from custom_ops.base import CustomOp, TorchConverter, constant_input, mapping


class OnnxReshapeStatic(nn.Module):
    """Reshape to a shape known at conversion time (``0`` copies the input dim unless allowzero).

    onnx2torch converts the shape tensor to a list at run time, which torch.export cannot trace
    with a dynamic batch, and has no converter for Reshape-19/21.
    """

    def __init__(self, shape: list[int], allowzero: bool) -> None:
        super().__init__()
        self.shape = shape
        self.allowzero = allowzero

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.allowzero:
            return x.reshape(self.shape)
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(self.shape)]
        return x.reshape(shape)


class OnnxReshapeDynamic(nn.Module):
    """Reshape to a shape computed at run time (eager only: torch.export needs it constant)."""

    def __init__(self, allowzero: bool) -> None:
        super().__init__()
        self.allowzero = allowzero

    def forward(self, x: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        dims = [int(d) for d in shape.tolist()]
        if not self.allowzero:
            dims = [x.shape[i] if d == 0 else d for i, d in enumerate(dims)]
        return x.reshape(dims)


class OnnxReshapeShaped(nn.Module):
    """Reshape to constants and sizes of other tensors (custom_ops/_shapes.py), traceable by torch.export.

    For targets tf2onnx computes from ``Shape`` of a tensor whose shape ONNX shape inference
    could not work out (a Loop's outputs), so the fixups could not fold them.
    """

    def __init__(self, dims: list[_shapes.Dim], refs: list[str], allowzero: bool) -> None:
        super().__init__()
        self.dims, self.refs, self.allowzero = dims, refs, allowzero

    def forward(self, x: torch.Tensor, *sized: torch.Tensor) -> torch.Tensor:
        shape = _shapes.build(self.dims, self.refs, sized)
        if not self.allowzero:
            shape = [
                x.shape[i] if d.tensor is None and d.value == 0 else s
                for i, (d, s) in enumerate(zip(self.dims, shape, strict=True))
            ]
        return x.reshape(shape)


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    allowzero = bool(node.attributes.get("allowzero", 0))
    shape = constant_input(node, graph, 1)
    if shape is None:
        shaped = _shapes.shaped_result(
            node, graph, 1, lambda dims, refs: OnnxReshapeShaped(dims, refs, allowzero), node.input_values[:1]
        )
        if shaped is not None:
            return shaped
        return OperationConverterResult(torch_module=OnnxReshapeDynamic(allowzero), onnx_mapping=mapping(node))
    dims = [int(d) for d in shape.reshape(-1)]
    return OperationConverterResult(torch_module=OnnxReshapeStatic(dims, allowzero), onnx_mapping=mapping(node, (0,)))


OP = CustomOp.define(
    OnnxReshapeStatic,
    name="Reshape",
    torch=(TorchConverter("Reshape", (5, 13, 14, 19, 21, 23, 24, 25), _convert),),
)
