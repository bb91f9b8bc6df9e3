"""ONNX ReverseSequence: reverse each example's first ``sequence_lens[b]`` steps."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, mapping


class OnnxReverseSequence(nn.Module):
    """Per-example reversal along the time axis as one ``gather`` (steps past the length stay put).

    onnx2torch has no ReverseSequence; tf2onnx emits it for the backward half of Keras'
    Bidirectional wrapper around layers it turns into a Loop (GRU, SimpleRNN).
    """

    def __init__(self, batch_axis: int, time_axis: int) -> None:
        super().__init__()
        self.batch_axis = batch_axis
        self.time_axis = time_axis

    def forward(self, x: torch.Tensor, sequence_lens: torch.Tensor) -> torch.Tensor:
        steps = x.shape[self.time_axis]
        t = torch.arange(steps, device=x.device)
        lengths = sequence_lens.to(torch.int64)
        if self.time_axis < self.batch_axis:  # index grid [T, B]
            src = lengths.unsqueeze(0) - 1 - t.unsqueeze(1)
            src = torch.where(src >= 0, src, t.unsqueeze(1).expand_as(src))
        else:  # [B, T]
            src = lengths.unsqueeze(1) - 1 - t.unsqueeze(0)
            src = torch.where(src >= 0, src, t.unsqueeze(0).expand_as(src))
        index = src.reshape(list(src.shape) + [1] * (x.dim() - 2)).expand_as(x)
        return torch.gather(x, self.time_axis, index)


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    batch_axis = int(node.attributes.get("batch_axis", 1))
    time_axis = int(node.attributes.get("time_axis", 0))
    if {batch_axis, time_axis} != {0, 1}:
        raise NotImplementedError(f"ReverseSequence with batch_axis={batch_axis}, time_axis={time_axis}")
    return OperationConverterResult(torch_module=OnnxReverseSequence(batch_axis, time_axis), onnx_mapping=mapping(node))


OP = CustomOp.define(
    OnnxReverseSequence, name="ReverseSequence", torch=(TorchConverter("ReverseSequence", (10,), _convert),)
)
