"""ONNX ConstantOfShape whose shape is constant or read from other tensors' sizes."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from custom_ops import _shapes
from custom_ops.base import CustomOp, TorchConverter, mapping


class OnnxConstantOfShapeShaped(nn.Module):
    """A tensor filled with one value, shaped by constants and sizes of other tensors.

    onnx2torch reads the shape tensor and the fill value at run time (``torch.Size(shape)``,
    ``.item()``), which torch.export cannot trace; here both are resolved at conversion time.
    """

    def __init__(self, dims: list[_shapes.Dim], refs: list[str], value: float | int | bool, dtype: torch.dtype) -> None:
        super().__init__()
        self.dims, self.refs, self.value, self.dtype = dims, refs, value, dtype

    def forward(self, *sized: torch.Tensor) -> torch.Tensor:
        device = sized[0].device if sized else None
        return torch.full(_shapes.build(self.dims, self.refs, sized), self.value, dtype=self.dtype, device=device)


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    dims = _shapes.shape_expression(node, graph, 0)
    if dims is None:
        raise NotImplementedError("ConstantOfShape with a shape computed from tensor values at run time")
    tensor = node.attributes.get("value")
    array = tensor.to_numpy() if tensor is not None else np.zeros(1, dtype=np.float32)
    dtype = torch.from_numpy(array.reshape(-1)[:1].copy()).dtype
    value = array.reshape(-1)[0].item()
    refs = _shapes.references(dims)
    module = OnnxConstantOfShapeShaped(dims, refs, value, dtype)
    if not refs:
        return OperationConverterResult(torch_module=module, onnx_mapping=mapping(node, ()))
    return OperationConverterResult(
        torch_module=module, onnx_mapping=OnnxMapping(inputs=tuple(refs), outputs=node.output_values)
    )


OP = CustomOp.define(
    OnnxConstantOfShapeShaped,
    name="ConstantOfShape",
    torch=(TorchConverter("ConstantOfShape", (9, 20, 21, 23, 24, 25), _convert),),
)
