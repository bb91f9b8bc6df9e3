"""ONNX SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss (every version)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxLoss(nn.Module):
    """Negative log-likelihood of class scores (after log-softmax for SoftmaxCrossEntropyLoss),
    with class weights, ``ignore_index`` and ``none``/``sum``/``mean`` reduction; also the log
    probabilities as SoftmaxCrossEntropyLoss's optional second output.

    onnx2torch has no converter for either loss.
    """

    def __init__(self, softmax: bool, reduction: str, ignore_index: int | None, outputs: int) -> None:
        super().__init__()
        self.softmax = softmax
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.outputs = outputs

    def forward(self, scores: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> Any:
        log_prob = F.log_softmax(scores, dim=1) if self.softmax else scores
        ignore = -100 if self.ignore_index is None else self.ignore_index
        target = target.long()
        loss = F.nll_loss(log_prob, target, weight=weight, ignore_index=ignore, reduction=self.reduction)
        loss = loss.to(scores.dtype)
        return (loss, log_prob) if self.outputs > 1 else loss


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    ignore = attrs.get("ignore_index")
    module = OnnxLoss(
        node.operation_type == "SoftmaxCrossEntropyLoss",
        str(attrs.get("reduction", "mean")),
        None if ignore is None else int(ignore),
        len(node.output_values),
    )
    return result(module, node)


OP = CustomOp.define(
    OnnxLoss,
    name="SoftmaxCrossEntropyLoss/NegativeLogLikelihoodLoss",
    torch=converters(("SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"), _convert),
)
