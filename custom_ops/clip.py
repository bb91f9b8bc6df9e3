"""ONNX Clip (every version) with bounds baked in when constant, tensors otherwise."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, optional_inputs, result


class OnnxClip(nn.Module):
    """Clamp to ``[min, max]``; each bound is optional and may come in at run time.

    onnx2torch refuses Clip whose min/max are not constants, and turns integer bounds into
    floats.
    """

    def __init__(self, low: float | int | None, high: float | int | None, fed: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.low = low
        self.high = high
        self.fed = fed

    def forward(self, x: torch.Tensor, *bounds: torch.Tensor) -> torch.Tensor:
        given = dict(zip(self.fed, bounds, strict=True))
        low: Any = given.get("min", self.low)
        high: Any = given.get("max", self.high)
        if isinstance(low, torch.Tensor):
            low = low.to(x.dtype)
        if isinstance(high, torch.Tensor):
            high = high.to(x.dtype)
        if low is None and high is None:
            return x
        return torch.clamp(x, low, high)


def _number(value: Any, integer: bool) -> float | int:
    item = value.reshape(-1)[0].item()
    return int(item) if integer else float(item)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    if "min" in attrs or "max" in attrs or len(node.input_values) == 1:  # Clip-1/6 attributes
        return result(OnnxClip(attrs.get("min"), attrs.get("max")), node, (0,))
    constants, keep, fed = optional_inputs(node, graph, {1: "min", 2: "max"})
    bounds = {name: _number(value, value.dtype.kind in "iub") for name, value in constants.items()}
    module = OnnxClip(bounds.get("min"), bounds.get("max"), fed)
    return result(module, node, keep)


OP = CustomOp.define(OnnxClip, name="Clip", torch=converters(("Clip",), _convert))
