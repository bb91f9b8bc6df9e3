"""ONNX LayerNormalization, RMSNormalization, GroupNormalization, MeanVarianceNormalization, LpNormalization."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter
from custom_ops.common import attributes, converters, onnx_to_torch_dtype, result, versions_of


class OnnxNormalization(nn.Module):
    """Normalise over trailing axes (Layer/RMS), channel groups (Group), given axes (MVN) or one
    axis by its Lp norm, then scale and shift; LayerNormalization's optional Mean and
    InvStdDev outputs included. Statistics are computed in ``stash_type`` (float32 by default).

    onnx2torch's LayerNormalization returns only Y (models that use Mean/InvStdDev fail) and
    needs static scale/bias; RMSNormalization, GroupNormalization, MeanVarianceNormalization and
    LpNormalization-22 have no converter.
    """

    def __init__(
        self,
        kind: str,
        axis: int,
        epsilon: float,
        stash: torch.dtype | None,
        groups: int = 0,
        per_group_affine: bool = False,
        axes: list[int] | None = None,
        p: int = 2,
        outputs: int = 1,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.axis = axis
        self.epsilon = epsilon
        self.stash = stash
        self.groups = groups
        self.per_group_affine = per_group_affine
        self.axes = axes
        self.p = p
        self.outputs = outputs

    def forward(self, x: torch.Tensor, scale: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> Any:
        kind = self.kind
        if kind == "lp":
            axis = self.axis % x.dim()
            norm = torch.linalg.vector_norm(x, ord=self.p, dim=axis, keepdim=True)
            return torch.where(norm == 0, torch.zeros_like(x), x / norm).to(x.dtype)
        if kind == "mvn":
            dims = tuple(a % x.dim() for a in (self.axes or [0, 2, 3]))
            mean = x.mean(dim=dims, keepdim=True)
            var = (x * x).mean(dim=dims, keepdim=True) - mean * mean
            return (x - mean) / (torch.sqrt(var) + 1e-9)
        stash = self.stash or x.dtype
        work = x.to(stash)
        if kind == "group":
            n, c = x.shape[:2]
            grouped = work.reshape(n, self.groups, -1)
            mean = grouped.mean(dim=2, keepdim=True)
            var = ((grouped - mean) ** 2).mean(dim=2, keepdim=True)
            y = ((grouped - mean) / torch.sqrt(var + self.epsilon)).reshape(x.shape).to(x.dtype)
            shape = [1, c] + [1] * (x.dim() - 2)
            assert scale is not None and bias is not None
            if self.per_group_affine:  # GroupNormalization-18: one scale/bias per group
                scale = scale.repeat_interleave(c // self.groups)
                bias = bias.repeat_interleave(c // self.groups)
            return y * scale.reshape(shape) + bias.reshape(shape)
        axis = self.axis % x.dim()
        dims = tuple(range(axis, x.dim()))
        if kind == "rms":
            inv = torch.rsqrt((work * work).mean(dim=dims, keepdim=True) + self.epsilon)
            y = (work * inv).to(x.dtype)
            assert scale is not None
            return y * scale
        count = math.prod(x.shape[axis:])
        mean = work.sum(dim=dims, keepdim=True) / count
        diff = work - mean
        inv = 1.0 / torch.sqrt((diff * diff).sum(dim=dims, keepdim=True) / count + self.epsilon)
        y = (diff * inv).to(x.dtype)
        if scale is not None:
            y = y * scale
        if bias is not None:
            y = y + bias
        if self.outputs == 1:
            return y
        return (y, mean.to(stash), inv.to(stash))[: self.outputs]


def _stash(attrs: dict[str, Any]) -> torch.dtype:
    return onnx_to_torch_dtype(int(attrs.get("stash_type", 1)))


def _layer(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    module = OnnxNormalization(
        "layer",
        int(attrs.get("axis", -1)),
        float(attrs.get("epsilon", 1e-5)),
        _stash(attrs),
        outputs=len(node.output_values),
    )
    return result(module, node)


def _rms(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    module = OnnxNormalization("rms", int(attrs.get("axis", -1)), float(attrs.get("epsilon", 1e-5)), _stash(attrs))
    return result(module, node)


def _group(per_group: bool) -> Any:
    def convert(node: Any, graph: Any) -> Any:
        attrs = attributes(node)
        module = OnnxNormalization(
            "group",
            1,
            float(attrs.get("epsilon", 1e-5)),
            _stash(attrs),
            groups=int(attrs["num_groups"]),
            per_group_affine=per_group,
        )
        return result(module, node)

    return convert


def _mvn(node: Any, graph: Any) -> Any:
    axes = attributes(node).get("axes")
    module = OnnxNormalization("mvn", 0, 0.0, None, axes=None if axes is None else [int(a) for a in axes])
    return result(module, node)


def _lp(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    return result(OnnxNormalization("lp", int(attrs.get("axis", -1)), 0.0, None, p=int(attrs.get("p", 2))), node)


OP = CustomOp.define(
    OnnxNormalization,
    name="normalizations",
    torch=converters(("LayerNormalization",), _layer)
    + converters(("RMSNormalization",), _rms)
    + (
        TorchConverter("GroupNormalization", (18,), _group(per_group=True)),
        TorchConverter(
            "GroupNormalization", tuple(v for v in versions_of("GroupNormalization") if v > 18), _group(per_group=False)
        ),
    )
    + converters(("MeanVarianceNormalization",), _mvn)
    + converters(("LpNormalization",), _lp),
)
