"""Element-wise binary and variadic ops: arithmetic, Pow, Max/Min, comparisons, bitwise ops."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import converters, narrow, result, widen

_UNSIGNED = (torch.uint16, torch.uint32, torch.uint64)
_COMPARE = {
    "Equal": torch.eq,
    "Greater": torch.gt,
    "GreaterOrEqual": torch.ge,
    "Less": torch.lt,
    "LessOrEqual": torch.le,
}
_BITWISE = {
    "BitwiseAnd": torch.bitwise_and,
    "BitwiseOr": torch.bitwise_or,
    "BitwiseXor": torch.bitwise_xor,
}


def _ordered(x: torch.Tensor) -> torch.Tensor:
    """Unsigned values as int64 with the same order (uint64: the sign bit flipped)."""
    if x.dtype == torch.uint64:
        return x.view(torch.int64) ^ torch.iinfo(torch.int64).min
    return widen(x)


class OnnxBinary(nn.Module):
    """Add, Sub, Mul, Div, Pow, Max, Min, comparisons and bitwise ops with ONNX's typing rules.

    torch has no CPU kernels for most ops on uint16/uint32/uint64, which ONNX allows (onnx2torch
    passes them straight to torch and fails); Pow must keep the base's dtype (torch promotes an
    integer base with a float exponent to float); LessOrEqual/GreaterOrEqual-16, Equal-19 and the
    Bitwise* ops are missing from onnx2torch.
    """

    def __init__(self, op_type: str) -> None:
        super().__init__()
        self.op_type = op_type

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        op = self.op_type
        dtype = xs[0].dtype
        if op in _COMPARE:
            a, b = xs
            if dtype in _UNSIGNED:
                a, b = _ordered(a), _ordered(b)
            return _COMPARE[op](a, b)
        if op == "BitwiseNot":
            return narrow(torch.bitwise_not(widen(xs[0])), dtype)
        if op == "Pow":
            return narrow(torch.pow(widen(xs[0]), widen(xs[1])), dtype)
        if op in ("Max", "Min"):
            ordered = dtype == torch.uint64
            values = [_ordered(x) if ordered else widen(x) for x in xs]
            out = values[0]
            for value in values[1:]:
                out = torch.maximum(out, value) if op == "Max" else torch.minimum(out, value)
            if ordered:
                return (out ^ torch.iinfo(torch.int64).min).view(torch.uint64)
            return narrow(out, dtype)
        a, b = (widen(x) for x in xs)
        if op == "Add":
            out = a + b
        elif op == "Sub":
            out = a - b
        elif op == "Mul":
            out = a * b
        elif op == "Div":
            if a.is_floating_point():
                out = a / b
            elif dtype == torch.uint64:  # int64 division would see large values as negative
                out = torch.div(a.to(torch.float64), b.to(torch.float64), rounding_mode="trunc").to(torch.int64)
            else:
                out = torch.div(a, b, rounding_mode="trunc")
        elif op in _BITWISE:
            out = _BITWISE[op](a, b)
        else:
            raise NotImplementedError(op)
        return narrow(out, dtype)


def _convert(node: Any, graph: Any) -> Any:
    return result(OnnxBinary(node.operation_type), node)


OP = CustomOp.define(
    OnnxBinary,
    name="element-wise binary",
    torch=converters(("Add", "Sub", "Mul", "Div", "Pow", "Greater", "Less", "Equal"), _convert, first=7)
    + converters(("Max", "Min"), _convert, first=8)
    + converters(("GreaterOrEqual", "LessOrEqual"), _convert)
    + converters((*_BITWISE, "BitwiseNot"), _convert),
)
