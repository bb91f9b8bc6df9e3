"""ONNX Slice with constant starts/ends/axes/steps, as a static module."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, constant_input, mapping


class OnnxSliceStatic(nn.Module):
    """Slice with bounds known at conversion time: Python slicing, and a flip for negative steps.

    onnx2torch builds the slice from the bound tensors at run time (``.numpy()``/``.tolist()``),
    which torch.export cannot trace (NASNet's Cropping2D), and indexes with a list, which torch
    warns will change meaning. Python slice semantics (clamping, negative bounds) are ONNX's.
    """

    def __init__(self, axes: list[int], starts: list[int], ends: list[int], steps: list[int], sizes: list[int]) -> None:
        super().__init__()
        self.axes, self.starts, self.ends, self.steps, self.sizes = axes, starts, ends, steps, sizes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index: list[Any] = [slice(None)] * x.dim()
        flips = []
        for axis, start, end, step, size in zip(self.axes, self.starts, self.ends, self.steps, self.sizes, strict=True):
            axis = axis % x.dim()
            if step > 0:
                index[axis] = slice(start, end, step)
                continue
            # x[s:e:-k] == flip(x)[n-1-s : n-1-e : k], with s and e normalised for length n first
            first, stop, _ = slice(start, end, step).indices(size)
            flips.append(axis)
            index[axis] = slice(size - 1 - first, size - 1 - stop, -step)
        if flips:
            x = torch.flip(x, flips)
        return x[tuple(index)]


def _ints(value: Any) -> list[int]:
    return [int(v) for v in value.reshape(-1)]


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    attrs = node.attributes
    if "starts" in attrs:  # Slice-1: bounds are attributes
        starts, ends = list(attrs["starts"]), list(attrs["ends"])
        axes = list(attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        values = [constant_input(node, graph, i) for i in range(1, 5)]
        names = node.input_values
        for i, value in enumerate(values, start=1):
            if value is None and i < len(names) and names[i]:
                raise NotImplementedError("Slice with bounds computed at run time")
        starts, ends = _ints(values[0]), _ints(values[1])
        axes = _ints(values[2]) if values[2] is not None else list(range(len(starts)))
        steps = _ints(values[3]) if values[3] is not None else [1] * len(starts)
    sizes = [_dim(node, graph, a) if s < 0 else -1 for a, s in zip(axes, steps, strict=True)]
    if 0 in steps:
        raise NotImplementedError("Slice with step 0")
    module = OnnxSliceStatic(axes, starts, ends, steps, sizes)
    return OperationConverterResult(torch_module=module, onnx_mapping=mapping(node, (0,)))


def _dim(node: Any, graph: Any, axis: int) -> int:
    """A static size of the input along ``axis`` (needed to reverse with a negative step)."""
    info = graph.value_info.get(node.input_values[0])
    dims = info.type.tensor_type.shape.dim if info is not None and info.type.tensor_type.HasField("shape") else []
    if not dims or not dims[axis % len(dims)].HasField("dim_value"):
        raise NotImplementedError("Slice with a negative step along an axis of unknown size")
    return int(dims[axis % len(dims)].dim_value)


OP = CustomOp.define(OnnxSliceStatic, name="Slice", torch=(TorchConverter("Slice", (1, 10, 11, 13), _convert),))
