"""ONNX BatchNormalization in training mode (batch statistics and updated running statistics)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxBatchNormTraining(nn.Module):
    """Training-mode BatchNormalization: normalise with the batch's mean and (biased) variance and
    also return the running mean/variance updated with ``momentum``.

    onnx2torch converts only the inference form and refuses nodes that ask for the running
    statistics outputs; inference-mode nodes still go through onnx2torch.
    """

    def __init__(self, epsilon: float, momentum: float, outputs: int) -> None:
        super().__init__()
        self.epsilon = epsilon
        self.momentum = momentum
        self.outputs = outputs

    def forward(
        self, x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, mean: torch.Tensor, var: torch.Tensor
    ) -> Any:
        dims = [0, *range(2, x.dim())]
        batch_mean = x.mean(dim=dims)
        batch_var = x.var(dim=dims, unbiased=False)
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x - batch_mean.reshape(shape)) / torch.sqrt(batch_var.reshape(shape) + self.epsilon)
        y = y * scale.reshape(shape) + bias.reshape(shape)
        running_mean = mean * self.momentum + batch_mean * (1 - self.momentum)
        running_var = var * self.momentum + batch_var * (1 - self.momentum)
        return (y, running_mean, running_var)[: self.outputs] if self.outputs > 1 else y


def _onnx2torch(node: Any, graph: Any, version: int) -> Any:
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription

    return _CONVERTER_REGISTRY[OperationDescription(domain="", operation_type="BatchNormalization", version=version)](
        node, graph
    )


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    if not attrs.get("training_mode", 0) and len([o for o in node.output_values if o]) == 1:
        return _onnx2torch(node, graph, 15)
    module = OnnxBatchNormTraining(
        float(attrs.get("epsilon", 1e-5)), float(attrs.get("momentum", 0.9)), len(node.output_values)
    )
    return result(module, node)


OP = CustomOp.define(
    OnnxBatchNormTraining, name="BatchNormalization (training)", torch=converters(("BatchNormalization",), _convert, 15)
)
