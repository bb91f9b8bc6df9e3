"""ONNX Squeeze and Unsqueeze with constant axes, as static modules."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, constant_input, mapping


class OnnxSqueezeStatic(nn.Module):
    """Squeeze/Unsqueeze whose axes are known at conversion time.

    From opset 13 the axes are an input tensor; onnx2torch sorts and reads it at run time
    (``.item()``), which torch.export rejects as data-dependent. Opset 21+ versions are missing.
    """

    def __init__(self, axes: list[int] | None, unsqueeze: bool) -> None:
        super().__init__()
        self.axes = axes
        self.unsqueeze = unsqueeze

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.unsqueeze:
            assert self.axes is not None
            rank = x.dim() + len(self.axes)
            for axis in sorted(a % rank for a in self.axes):
                x = x.unsqueeze(axis)
            return x
        if self.axes is None:
            return x.squeeze()
        rank = x.dim()
        return x.squeeze(tuple(sorted(a % rank for a in self.axes)))


class OnnxSqueezeDynamic(nn.Module):
    """Squeeze/Unsqueeze with axes computed at run time (eager only: torch.export needs them constant)."""

    def __init__(self, unsqueeze: bool) -> None:
        super().__init__()
        self.unsqueeze = unsqueeze

    def forward(self, x: torch.Tensor, axes: torch.Tensor) -> torch.Tensor:
        return OnnxSqueezeStatic([int(a) for a in axes.reshape(-1).tolist()], self.unsqueeze)(x)


def _converter(unsqueeze: bool) -> Any:
    def convert(node: Any, graph: Any) -> Any:
        from onnx2torch.utils.common import OperationConverterResult

        if "axes" in node.attributes:
            axes: list[int] | None = [int(a) for a in node.attributes["axes"]]
        elif len(node.input_values) > 1 and node.input_values[1]:
            value = constant_input(node, graph, 1)
            if value is None:
                return OperationConverterResult(torch_module=OnnxSqueezeDynamic(unsqueeze), onnx_mapping=mapping(node))
            axes = [int(a) for a in value.reshape(-1)]
        else:
            axes = None
        if unsqueeze and not axes:
            raise NotImplementedError("Unsqueeze without axes")
        return OperationConverterResult(
            torch_module=OnnxSqueezeStatic(axes, unsqueeze), onnx_mapping=mapping(node, (0,))
        )

    return convert


VERSIONS = (1, 11, 13, 21, 23, 24, 25)
OP = CustomOp.define(
    OnnxSqueezeStatic,
    name="Squeeze/Unsqueeze",
    torch=(
        TorchConverter("Squeeze", VERSIONS, _converter(unsqueeze=False)),
        TorchConverter("Unsqueeze", VERSIONS, _converter(unsqueeze=True)),
    ),
)
