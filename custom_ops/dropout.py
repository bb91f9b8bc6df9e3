"""ONNX Dropout (every version) for inference: the identity, with an all-true mask."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, optional_inputs, result


class OnnxDropout(nn.Module):
    """Dropout: the identity (and an all-true mask) unless training mode is on and the ratio is positive.

    onnx2torch refuses Dropout nodes that carry a ``seed`` attribute, although at inference the
    seed changes nothing, and has no Dropout-22.
    """

    def __init__(self, ratio: float, training: bool, outputs: int, fed: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.ratio = ratio
        self.training_mode = training
        self.outputs = outputs
        self.fed = fed  # which of ratio/training_mode come in at run time, in order

    def forward(self, x: torch.Tensor, *rest: torch.Tensor) -> Any:
        given = dict(zip(self.fed, rest, strict=True))
        training = self.training_mode if "training_mode" not in given else bool(given["training_mode"].reshape(-1)[0])
        p = self.ratio if "ratio" not in given else float(given["ratio"].reshape(-1)[0])
        if training and p > 0:
            mask = torch.rand_like(x, dtype=torch.float32) >= p
            out = torch.where(mask, x / (1 - p), torch.zeros_like(x))
        else:
            out = F.dropout(x, 0.0, training=False)
            mask = torch.ones_like(x, dtype=torch.bool)
        return (out, mask) if self.outputs > 1 else out


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    ratio = float(attrs.get("ratio", 0.5))
    constants, keep, fed = optional_inputs(node, graph, {1: "ratio", 2: "training_mode"})
    if "ratio" in constants:
        ratio = float(constants["ratio"].reshape(-1)[0])
    training = bool(constants["training_mode"].reshape(-1)[0]) if "training_mode" in constants else False
    module = OnnxDropout(ratio, training, len(node.output_values), fed)
    return result(module, node, keep)


OP = CustomOp.define(OnnxDropout, name="Dropout", torch=converters(("Dropout",), _convert))
