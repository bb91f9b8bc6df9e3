"""Element-wise activations with attributes: Celu, Elu, Gelu, HardSigmoid, HardSwish, Mish, Selu, Shrink,
Softplus, Softsign, Swish, ThresholdedRelu."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, result


class OnnxActivation(nn.Module):
    """An element-wise activation with its attributes (alpha, lambd, bias, approximate) baked in.

    onnx2torch has no converter for Gelu, Mish, Shrink, Swish or ThresholdedRelu, none of the
    others at version 22, and its Selu refuses any alpha/gamma but the defaults.
    """

    def __init__(
        self,
        op_type: str,
        alpha: float,
        bias: float,
        lambd: float,
        approximate: str,
        beta: float = 0.5,
        gamma: float = 1.0,
    ) -> None:
        super().__init__()
        self.op_type = op_type
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.bias = bias
        self.lambd = lambd
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        op = self.op_type
        if op == "Celu":
            return F.celu(x, alpha=self.alpha)
        if op == "Elu":
            return F.elu(x, alpha=self.alpha)
        if op == "Selu":
            return self.gamma * torch.where(x > 0, x, self.alpha * (torch.exp(x) - 1))
        if op == "HardSigmoid":
            return torch.clamp(self.alpha * x + self.beta, 0, 1)
        if op == "HardSwish":
            return x * torch.clamp(x / 6 + 0.5, 0, 1)
        if op == "Softplus":
            return torch.log1p(torch.exp(-x.abs())) + torch.clamp(x, min=0)
        if op == "Softsign":
            return x / (1 + x.abs())
        if op == "Gelu":
            return F.gelu(x, approximate=self.approximate)
        if op == "Mish":
            return F.mish(x)
        if op == "Swish":
            return x * torch.sigmoid(self.alpha * x)
        if op == "ThresholdedRelu":
            return torch.where(x > self.alpha, x, torch.zeros_like(x))
        if op == "Shrink":
            zero = torch.zeros_like(x)
            return torch.where(x < -self.lambd, x + self.bias, torch.where(x > self.lambd, x - self.bias, zero)).to(
                x.dtype
            )
        raise NotImplementedError(op)


_DEFAULT_ALPHA = {"HardSigmoid": 0.2, "Selu": 1.67326319217681884765625}


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    op = node.operation_type
    module = OnnxActivation(
        op,
        alpha=float(attrs.get("alpha", _DEFAULT_ALPHA.get(op, 1.0))),
        bias=float(attrs.get("bias", 0.0)),
        lambd=float(attrs.get("lambd", 0.5)),
        approximate=str(attrs.get("approximate", "none")),
        beta=float(attrs.get("beta", 0.5)),
        gamma=float(attrs.get("gamma", 1.05070102214813232421875)),
    )
    return result(module, node)


OP = CustomOp.define(
    OnnxActivation,
    name="activations",
    torch=converters(("Gelu", "Mish", "Shrink", "Swish", "ThresholdedRelu"), _convert)
    + converters(("Elu", "Selu", "HardSigmoid", "HardSwish", "Softplus", "Softsign"), _convert)
    + converters(("Celu",), _convert, first=13),
)
