"""ONNX Cast and CastLike (every version), float8 saturation included."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, onnx_to_torch_dtype, result

_UNSIGNED = (torch.uint16, torch.uint32, torch.uint64)

# largest finite value of each float8 type, and whether it has infinities
_FLOAT8 = {
    torch.float8_e4m3fn: (448.0, False),
    torch.float8_e4m3fnuz: (240.0, False),
    torch.float8_e5m2: (57344.0, True),
    torch.float8_e5m2fnuz: (57344.0, False),
}


def cast(x: torch.Tensor, dtype: torch.dtype, saturate: bool = True) -> torch.Tensor:
    """``x`` as ``dtype`` with ONNX's rules (float8: saturate or overflow to NaN/inf as asked)."""
    if x.dtype == dtype:
        return x
    if dtype in _FLOAT8 and x.is_floating_point():
        limit, has_inf = _FLOAT8[dtype]
        if saturate:
            if has_inf or dtype == torch.float8_e4m3fn:
                x = torch.clamp(x, -limit, limit)  # infinities saturate too
            else:  # the fnuz types have no infinity: inf becomes NaN
                x = torch.where(torch.isinf(x), torch.full_like(x, float("nan")), torch.clamp(x, -limit, limit))
        elif not has_inf:
            x = torch.where(x.abs() > limit, torch.full_like(x, float("nan")), x)
    if x.dtype == torch.bool or dtype == torch.bool:
        return x != 0 if dtype == torch.bool else x.to(dtype)
    if x.dtype in (torch.uint16, torch.uint32, torch.uint64) or dtype in (torch.uint16, torch.uint32, torch.uint64):
        return (
            x.to(torch.int64).to(dtype) if not x.is_floating_point() else x.to(torch.float64).to(torch.int64).to(dtype)
        )
    return x.to(dtype)


class OnnxCast(nn.Module):
    """Cast to a dtype fixed by the ``to`` attribute (Cast) or by a second input's dtype (CastLike).

    onnx2torch has no CastLike at all (ONNX's function-expanded ops use it everywhere), no Cast
    after version 13, and does not apply ONNX's float8 saturation rules.
    """

    def __init__(self, dtype: torch.dtype | None, saturate: bool) -> None:
        super().__init__()
        self.dtype = dtype
        self.saturate = saturate

    def forward(self, x: torch.Tensor, like: torch.Tensor | None = None) -> torch.Tensor:
        dtype = self.dtype if like is None else like.dtype
        assert dtype is not None
        return cast(x, dtype, self.saturate)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    saturate = bool(attrs.get("saturate", 1))
    if node.operation_type == "CastLike":
        return result(OnnxCast(None, saturate), node)
    to = attrs["to"]
    if isinstance(to, str):  # Cast-1 named the type
        import onnx

        to = onnx.TensorProto.DataType.Value(to.upper())
    return result(OnnxCast(onnx_to_torch_dtype(int(to)), saturate), node, (0,))


OP = CustomOp.define(OnnxCast, name="Cast/CastLike", torch=converters(("Cast", "CastLike"), _convert))
