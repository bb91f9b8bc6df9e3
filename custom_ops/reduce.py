"""ONNX Reduce* ops (L1, L2, LogSum, LogSumExp, Max, Mean, Min, Prod, Sum, SumSquare), every version."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, present, result

KINDS = {
    "ReduceL1": "l1",
    "ReduceL2": "l2",
    "ReduceLogSum": "logsum",
    "ReduceLogSumExp": "logsumexp",
    "ReduceMax": "max",
    "ReduceMean": "mean",
    "ReduceMin": "min",
    "ReduceProd": "prod",
    "ReduceSum": "sum",
    "ReduceSumSquare": "sumsquare",
}


def _elementwise(x: torch.Tensor, kind: str) -> torch.Tensor:
    """What a reduction over no axis leaves of each element."""
    if kind == "l1":
        return x.abs()
    if kind == "l2":
        return x.abs()
    if kind == "sumsquare":
        return x * x
    if kind == "logsum":
        return torch.log(x)
    return x


def _empty_value(x: torch.Tensor, kind: str) -> float | int | bool:
    if kind in ("sum", "l1", "l2", "sumsquare"):
        return 0
    if kind == "prod":
        return 1
    if kind in ("logsum", "logsumexp"):
        return float("-inf")
    if kind == "mean":
        return float("nan")
    if x.dtype == torch.bool:
        return kind == "min"
    if x.is_floating_point():
        return float("-inf") if kind == "max" else float("inf")
    info = torch.iinfo(x.dtype)
    return info.min if kind == "max" else info.max


def reduce(x: torch.Tensor, kind: str, dims: list[int] | None, keepdims: bool, noop: bool) -> torch.Tensor:
    """ONNX reduction ``kind`` of ``x`` over ``dims`` (None or empty: all, unless ``noop``)."""
    rank = x.dim()
    if not dims:
        if noop:
            return _elementwise(x, kind)
        dims = list(range(rank))
    axes = sorted({d % rank for d in dims}) if rank else []
    if not axes:
        return _elementwise(x, kind)
    if any(x.shape[d] == 0 for d in axes):
        shape = [1 if d in axes else x.shape[d] for d in range(rank)]
        if not keepdims:
            shape = [s for d, s in enumerate(shape) if d not in axes]
        return torch.full(shape, _empty_value(x, kind), dtype=x.dtype, device=x.device)
    dtype = x.dtype
    dim = tuple(axes)
    if kind == "sum":
        return x.sum(dim, keepdim=keepdims, dtype=dtype)
    if kind == "sumsquare":
        return (x * x).sum(dim, keepdim=keepdims, dtype=dtype)
    if kind == "l1":
        return x.abs().sum(dim, keepdim=keepdims, dtype=dtype)
    if kind == "l2":
        wide = x if x.is_floating_point() else x.to(torch.float64)
        return torch.sqrt((wide * wide).sum(dim, keepdim=keepdims)).to(dtype)
    if kind == "mean":
        if x.is_floating_point():
            return x.mean(dim, keepdim=keepdims)
        return x.to(torch.float64).mean(dim, keepdim=keepdims).to(dtype)
    if kind == "max":
        return torch.amax(x, dim, keepdim=keepdims)
    if kind == "min":
        return torch.amin(x, dim, keepdim=keepdims)
    if kind == "logsum":
        return torch.log(x.sum(dim, keepdim=keepdims))
    if kind == "logsumexp":
        return torch.logsumexp(x, dim, keepdim=keepdims)
    if kind == "prod":
        out = x
        for d in reversed(axes):
            out = torch.prod(out, d, keepdim=True, dtype=dtype)
        return out if keepdims else out.reshape([x.shape[d] for d in range(rank) if d not in axes])
    raise NotImplementedError(kind)


class OnnxReduce(nn.Module):
    """A Reduce* op with its axes baked in when they are attributes or constants (read at run time otherwise).

    onnx2torch has no Reduce* converter from opset 18 (axes became an input) and reads
    ReduceSum-13's axes tensor at run time, which torch.export cannot trace.
    """

    def __init__(self, kind: str, axes: list[int] | None, keepdims: bool, noop: bool) -> None:
        super().__init__()
        self.kind = kind
        self.axes = axes
        self.keepdims = keepdims
        self.noop = noop

    def forward(self, x: torch.Tensor, axes: torch.Tensor | None = None) -> torch.Tensor:
        dims = self.axes if axes is None else [int(a) for a in axes.reshape(-1).tolist()]
        return reduce(x, self.kind, dims, self.keepdims, self.noop)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    kind = KINDS[node.operation_type]
    keepdims = bool(attrs.get("keepdims", 1))
    noop = bool(attrs.get("noop_with_empty_axes", 0))
    if "axes" in attrs:
        return result(OnnxReduce(kind, [int(a) for a in attrs["axes"]], keepdims, noop), node, (0,))
    if present(node, 1):
        axes = const_ints(node, graph, 1)
        if axes is None:
            return result(OnnxReduce(kind, None, keepdims, noop), node, (0, 1))
        return result(OnnxReduce(kind, axes, keepdims, noop), node, (0,))
    return result(OnnxReduce(kind, None, keepdims, noop), node, (0,))


OP = CustomOp.define(OnnxReduce, name="Reduce*", torch=converters(tuple(KINDS), _convert))
