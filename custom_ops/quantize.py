"""ONNX quantization ops: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, QLinearMatMul,
QLinearConv, MatMulInteger, ConvInteger (computed in float/int arithmetic, as the reference does)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.cast import cast
from custom_ops.common import attributes, converters, onnx_to_torch_dtype, result
from custom_ops.conv import OnnxConv

_RANGES = {
    torch.uint8: (0, 255),
    torch.int8: (-128, 127),
    torch.uint16: (0, 65535),
    torch.int16: (-32768, 32767),
    torch.int32: (-(2**31), 2**31 - 1),
}


def _along(param: torch.Tensor, x: torch.Tensor, axis: int, block: int) -> torch.Tensor:
    """A scale/zero point reshaped (and block-expanded) to broadcast against ``x``."""
    if param.dim() == 0 or (param.numel() == 1 and block == 0):
        return param.reshape(())
    axis = axis % x.dim()
    if block:
        param = param.repeat_interleave(block, dim=axis).narrow(axis, 0, x.shape[axis])
        return param
    shape = [1] * x.dim()
    shape[axis] = -1
    return param.reshape(shape)


def quantize(x: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor:
    """``saturate(round_half_even(x / scale) + zero)`` in ``dtype``."""
    if dtype.is_floating_point:  # float8: no rounding to integers, saturating cast
        shifted = x.to(torch.float32) / scale.to(torch.float32)
        if zero is not None:
            shifted = shifted + zero.to(torch.float32)
        return cast(shifted, dtype, True)
    low, high = _RANGES[dtype]
    value = torch.round(x.to(torch.float32) / scale.to(torch.float32))
    if zero is not None:
        value = value + zero.to(torch.float32)
    return value.clamp(low, high).to(dtype)


class OnnxQuantize(nn.Module):
    """Linear quantization ops (per tensor, per axis or per block), their dynamic variant and the
    quantized/integer MatMul and Conv ops.

    onnx2torch has no converter for any of them.
    """

    def __init__(
        self, op: str, axis: int = 1, block: int = 0, dtype: torch.dtype | None = None, conv: OnnxConv | None = None
    ) -> None:
        super().__init__()
        self.op = op
        self.axis = axis
        self.block = block
        self.dtype = dtype
        self.conv = conv

    def forward(
        self,
        in0: torch.Tensor,
        in1: torch.Tensor | None = None,
        in2: torch.Tensor | None = None,
        in3: torch.Tensor | None = None,
        in4: torch.Tensor | None = None,
        in5: torch.Tensor | None = None,
        in6: torch.Tensor | None = None,
        in7: torch.Tensor | None = None,
        in8: torch.Tensor | None = None,
    ) -> Any:
        # named positional inputs: the importer passes an absent optional input by leaving its name out
        args = [in0, in1, in2, in3, in4, in5, in6, in7, in8]
        op = self.op
        if op == "QuantizeLinear":
            x, scale, zero = args[:3]
            assert x is not None and scale is not None
            dtype = zero.dtype if zero is not None else (self.dtype or torch.uint8)
            zero_b = None if zero is None else _along(zero, x, self.axis, self.block)
            return quantize(x, _along(scale, x, self.axis, self.block), zero_b, dtype)
        if op == "DequantizeLinear":
            x, scale, zero = args[:3]
            assert x is not None and scale is not None
            value = x.to(torch.float32)
            if zero is not None:
                value = value - _along(zero, x, self.axis, self.block).to(torch.float32)
            return (value * _along(scale, x, self.axis, self.block).to(torch.float32)).to(self.dtype or scale.dtype)
        if op == "DynamicQuantizeLinear":
            x = in0
            assert x is not None
            high = torch.clamp(x.max(), min=0).to(torch.float32)
            low = torch.clamp(x.min(), max=0).to(torch.float32)
            span = torch.where(high == low, torch.ones_like(high), high - low)
            scale = span / 255.0
            zero = torch.round(torch.clamp(-low / scale, 0, 255))
            y = torch.clamp(torch.round(x.to(torch.float32) / scale) + zero, 0, 255)
            return y.to(torch.uint8), scale.to(x.dtype), zero.to(torch.uint8)
        if op in ("MatMulInteger", "ConvInteger"):
            a, b, a_zero, b_zero = args[:4]
            assert a is not None and b is not None
            a_i, b_i = a.to(torch.int64), b.to(torch.int64)
            if a_zero is not None:
                a_i = a_i - a_zero.to(torch.int64)
            if b_zero is not None:
                zero = b_zero.to(torch.int64)
                if op == "ConvInteger" and zero.numel() > 1:  # one zero point per output channel
                    zero = zero.reshape(-1, *([1] * (b.dim() - 1)))
                b_i = b_i - zero
            if op == "MatMulInteger":
                return torch.matmul(a_i.to(torch.float64), b_i.to(torch.float64)).to(torch.int32)
            assert self.conv is not None
            return self.conv(a_i.to(torch.float64), b_i.to(torch.float64)).to(torch.int32)
        # QLinearMatMul / QLinearConv
        a, a_scale, a_zero, b, b_scale, b_zero, y_scale, y_zero, bias_in = args
        assert a is not None and b is not None and a_scale is not None and b_scale is not None
        assert y_scale is not None
        a_i = a.to(torch.float64) - (a_zero.to(torch.float64) if a_zero is not None else 0)
        if op == "QLinearConv":
            wz = 0 if b_zero is None else b_zero.to(torch.float64)
            if isinstance(wz, torch.Tensor) and wz.numel() > 1:
                wz = wz.reshape(-1, *([1] * (b.dim() - 1)))
            b_i = b.to(torch.float64) - wz
            assert self.conv is not None
            bias_t = bias_in.to(torch.float64) if bias_in is not None else None
            acc = self.conv(a_i, b_i, bias_t)
            w_scale = b_scale.to(torch.float64)
            if w_scale.numel() > 1:
                w_scale = w_scale.reshape(1, -1, *([1] * (acc.dim() - 2)))
            value = acc * (a_scale.to(torch.float64) * w_scale / y_scale.to(torch.float64))
        else:
            b_i = b.to(torch.float64) - (b_zero.to(torch.float64) if b_zero is not None else 0)
            acc = torch.matmul(a_i, b_i)
            value = acc * (a_scale.to(torch.float64) * b_scale.to(torch.float64) / y_scale.to(torch.float64))
        dtype = y_zero.dtype if y_zero is not None else a.dtype
        if y_zero is not None:
            value = value + y_zero.to(torch.float64)
        low, high = _RANGES[dtype]
        return torch.round(value).clamp(low, high).to(dtype)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    op = node.operation_type
    dtype = onnx_to_torch_dtype(int(attrs["output_dtype"])) if attrs.get("output_dtype") else None
    conv = OnnxConv("conv", attrs) if op in ("ConvInteger", "QLinearConv") else None
    module = OnnxQuantize(op, int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)), dtype, conv)
    return result(module, node)


OP = CustomOp.define(
    OnnxQuantize,
    name="quantization",
    torch=converters(
        (
            "QuantizeLinear",
            "DequantizeLinear",
            "DynamicQuantizeLinear",
            "QLinearMatMul",
            "QLinearConv",
            "MatMulInteger",
            "ConvInteger",
        ),
        _convert,
    ),
)
