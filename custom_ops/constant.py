"""ONNX Constant and ConstantOfShape (every version)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from custom_ops import _shapes
from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, from_numpy, result


class OnnxConstant(nn.Module):
    """A constant tensor (any of Constant's value attributes); ConstantOfShape with a run-time shape.

    onnx2torch has no Constant or ConstantOfShape after versions 13 and 9, and reads attributes
    in a way that loses empty lists (``value_ints: []``).
    """

    def __init__(self, value: torch.Tensor | None, fill: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("value", value, persistent=False)
        self.register_buffer("fill", fill, persistent=False)

    def forward(self, shape: torch.Tensor | None = None) -> torch.Tensor:
        if shape is None:
            assert self.value is not None
            return self.value
        assert self.fill is not None
        return self.fill.reshape(()).expand([int(d) for d in shape.tolist()]).clone()


class OnnxConstantOfShapeShaped(nn.Module):
    """ConstantOfShape whose shape is constants and sizes of other tensors (custom_ops/_shapes.py).

    A shape computed from ``Shape`` of a batch-sized tensor is data to :class:`OnnxConstant`
    (``shape.tolist()``), which torch.export cannot trace; read as sizes, it traces.
    """

    def __init__(self, dims: list[_shapes.Dim], refs: list[str], fill: torch.Tensor) -> None:
        super().__init__()
        self.dims, self.refs = dims, refs
        self.value = fill.item()
        self.dtype = fill.dtype

    def forward(self, *sized: torch.Tensor) -> torch.Tensor:
        device = sized[0].device if sized else None
        return torch.full(_shapes.build(self.dims, self.refs, sized), self.value, dtype=self.dtype, device=device)


def _tensor(value: np.ndarray) -> torch.Tensor:
    return from_numpy(np.asarray(value))


def _constant(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    if "value" in attrs:
        value = np.asarray(attrs["value"])
    elif "value_float" in attrs:
        value = np.array(attrs["value_float"], dtype=np.float32)
    elif "value_floats" in attrs:
        value = np.array(attrs["value_floats"], dtype=np.float32)
    elif "value_int" in attrs:
        value = np.array(attrs["value_int"], dtype=np.int64)
    elif "value_ints" in attrs:
        value = np.array(attrs["value_ints"], dtype=np.int64)
    else:
        raise NotImplementedError(f"Constant with {sorted(attrs)} (strings and sparse tensors have no torch form)")
    return result(OnnxConstant(_tensor(value)), node, ())


def _constant_of_shape(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    fill = _tensor(np.asarray(attrs["value"]).reshape(())) if "value" in attrs else torch.tensor(0.0)
    shape = const_ints(node, graph, 0)
    if shape is not None:
        return result(OnnxConstant(fill.expand(shape).clone()), node, ())
    shaped = _shapes.shaped_result(node, graph, 0, lambda dims, refs: OnnxConstantOfShapeShaped(dims, refs, fill), ())
    return shaped if shaped is not None else result(OnnxConstant(None, fill), node)


OP = CustomOp.define(
    OnnxConstant,
    name="Constant/ConstantOfShape",
    torch=converters(("Constant",), _constant) + converters(("ConstantOfShape",), _constant_of_shape),
)
