"""ONNX pooling: AveragePool, MaxPool (with indices), LpPool, their Global* forms and MaxUnpool."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, present, result

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}


def pool_geometry(
    spatial: list[int],
    kernel: list[int],
    strides: list[int],
    dilations: list[int],
    pads: list[int],
    auto_pad: str,
    ceil_mode: bool,
) -> tuple[list[int], list[int], list[int]]:
    """Output sizes, begin pads and end pads (ceil-mode overhang included) per spatial dim, as ONNX defines them."""
    dims = len(spatial)
    outs, begins, ends = [], [], []
    for i in range(dims):
        window = (kernel[i] - 1) * dilations[i] + 1
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            out = (spatial[i] - 1) // strides[i] + 1
            total = max((out - 1) * strides[i] + window - spatial[i], 0)
            small, large = total // 2, total - total // 2
            begin, end = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
        elif auto_pad == "VALID":
            out = (spatial[i] - window) // strides[i] + 1
            begin, end = 0, 0
        else:
            begin, end = pads[i], pads[dims + i]
            size = (spatial[i] + begin + end - window) / strides[i] + 1
            if ceil_mode:
                out = math.ceil(size)
                if (out - 1) * strides[i] >= spatial[i] + begin:
                    out -= 1
            else:
                out = math.floor(size)
        outs.append(out)
        begins.append(begin)
        ends.append(end)
    return outs, begins, ends


def _torch_pads(begins: list[int], ends: list[int]) -> list[int]:
    pads: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends), strict=True):
        pads += [b, e]
    return pads


class OnnxPool(nn.Module):
    """Average, max or Lp pooling over 1-3 spatial dims with ONNX's padding rules (explicit,
    asymmetric, SAME_UPPER/LOWER, VALID), dilations, ``ceil_mode`` and ``count_include_pad``;
    MaxPool's optional indices output; the Global* variants.

    onnx2torch ignores AveragePool's dilations (silently wrong), refuses asymmetric pads and
    SAME padding, has no LpPool, GlobalMaxPool or MaxUnpool, and no version 19/22 of these ops.
    """

    def __init__(
        self,
        kind: str,
        kernel: list[int] | None,
        strides: list[int] | None,
        dilations: list[int] | None,
        pads: list[int] | None,
        auto_pad: str,
        ceil_mode: bool,
        count_include_pad: bool,
        p: float,
        storage_order: int,
        outputs: int,
    ) -> None:
        super().__init__()
        self.kind = kind
        self.kernel = kernel
        self.strides = strides
        self.dilations = dilations
        self.pads = pads
        self.auto_pad = auto_pad
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.p = p
        self.storage_order = storage_order
        self.outputs = outputs

    def forward(self, x: torch.Tensor) -> Any:
        dims = x.dim() - 2
        if self.kernel is None:  # Global*
            axes = tuple(range(2, x.dim()))
            if self.kind == "max":
                return torch.amax(x, dim=axes, keepdim=True)
            if self.kind == "avg":
                return x.mean(dim=axes, keepdim=True)
            return (x.abs() ** self.p).sum(dim=axes, keepdim=True) ** (1.0 / self.p)
        kernel = self.kernel
        strides = self.strides or [1] * dims
        dilations = self.dilations or [1] * dims
        spatial = list(x.shape[2:])
        outs, begins, ends = pool_geometry(
            spatial, kernel, strides, dilations, self.pads or [0] * 2 * dims, self.auto_pad, self.ceil_mode
        )
        # pad so every window lies inside: the ceil-mode overhang goes after the explicit end pads
        reach = [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(outs, strides, kernel, dilations, strict=True)]
        overhang = [max(r - (n + b + e), 0) for r, n, b, e in zip(reach, spatial, begins, ends, strict=True)]
        full_ends = [e + o for e, o in zip(ends, overhang, strict=True)]
        if self.kind == "max":
            return self._max(x, kernel, strides, dilations, begins, full_ends, spatial, outs)
        work = x if x.is_floating_point() else x.to(torch.float32)
        ones = torch.ones((1, 1, *kernel), dtype=work.dtype, device=x.device)
        flat = work.reshape(-1, 1, *spatial)
        if self.kind == "lp":
            flat = flat.abs() ** self.p
        padded = F.pad(flat, _torch_pads(begins, full_ends))
        sums = _CONV[dims](padded, ones, stride=strides, dilation=dilations)
        if self.kind == "lp":
            out = sums ** (1.0 / self.p)
        else:
            valid = torch.ones((1, 1, *spatial), dtype=work.dtype, device=x.device)
            if self.count_include_pad:  # explicit pads count, the ceil overhang does not
                valid = F.pad(valid, _torch_pads(begins, ends), value=1.0)
                valid = F.pad(valid, _torch_pads([0] * dims, overhang))
            else:
                valid = F.pad(valid, _torch_pads(begins, full_ends))
            counts = _CONV[dims](valid, ones, stride=strides, dilation=dilations)
            out = sums / counts
        return out.reshape(*x.shape[:2], *out.shape[2:]).to(x.dtype)

    def _max(
        self,
        x: torch.Tensor,
        kernel: list[int],
        strides: list[int],
        dilations: list[int],
        begins: list[int],
        ends: list[int],
        spatial: list[int],
        outs: list[int],
    ) -> Any:
        dims = len(kernel)
        work = x
        if not x.is_floating_point():
            work = x.to(torch.float64 if x.dtype in (torch.int32, torch.int64) else torch.float32)
        padded = F.pad(work, _torch_pads(begins, ends), value=float("-inf"))
        values, flat_idx = _MAX[dims](padded, kernel, strides, 0, dilations, return_indices=True)
        values = values.to(x.dtype)
        if self.outputs < 2:
            return values
        # indices into the padded plane -> indices into the whole (N, C, *spatial) input
        padded_shape = list(padded.shape[2:])
        coords = []
        rest = flat_idx
        for size in reversed(padded_shape):
            coords.append(rest % size)
            rest = torch.div(rest, size, rounding_mode="floor")
        coords = [c - b for c, b in zip(reversed(coords), begins, strict=True)]
        plane = math.prod(spatial)
        n, c = x.shape[:2]
        if self.storage_order == 0:
            index = torch.zeros_like(flat_idx)
            for coord, size in zip(coords, spatial, strict=True):
                index = index * size + coord
        else:  # column-major within the plane
            index = torch.zeros_like(flat_idx)
            for coord, size in zip(reversed(coords), reversed(spatial), strict=True):
                index = index * size + coord
        base = torch.arange(n * c, device=x.device).reshape(n, c, *([1] * dims)) * plane
        return values, index + base


class OnnxMaxUnpool(nn.Module):
    """MaxUnpool: scatter the pooled values back to the positions MaxPool's indices name.

    onnx2torch has no MaxUnpool converter.
    """

    def __init__(
        self, kernel: list[int], strides: list[int] | None, pads: list[int] | None, shape: list[int] | None = None
    ) -> None:
        super().__init__()
        self.shape = shape
        self.kernel = kernel
        self.strides = strides
        self.pads = pads

    def forward(self, x: torch.Tensor, indices: torch.Tensor, output_shape: torch.Tensor | None = None) -> torch.Tensor:
        dims = x.dim() - 2
        if output_shape is not None:
            shape = [int(s) for s in output_shape.tolist()]
        elif self.shape is not None:
            shape = self.shape
        else:
            strides = self.strides or [1] * dims
            pads = self.pads or [0] * 2 * dims
            shape = [*x.shape[:2]] + [
                (x.shape[2 + i] - 1) * strides[i] + self.kernel[i] - pads[i] - pads[dims + i] for i in range(dims)
            ]
        out = torch.zeros(math.prod(shape), dtype=x.dtype, device=x.device)
        out = out.scatter(0, indices.reshape(-1).long(), x.reshape(-1))
        return out.reshape(shape)


_KIND = {
    "AveragePool": "avg",
    "MaxPool": "max",
    "LpPool": "lp",
    "GlobalAveragePool": "avg",
    "GlobalMaxPool": "max",
    "GlobalLpPool": "lp",
}


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    op = node.operation_type
    if op == "MaxUnpool":
        shape = const_ints(node, graph, 2) if present(node, 2) else None
        module = OnnxMaxUnpool(list(attrs["kernel_shape"]), attrs.get("strides"), attrs.get("pads"), shape)
        if shape is not None or not present(node, 2):
            return result(module, node, (0, 1))
        return result(module, node)
    glob = op.startswith("Global")
    if not glob and int(attrs.get("storage_order", 0)) not in (0, 1):
        raise NotImplementedError("storage_order")
    module = OnnxPool(
        _KIND[op],
        None if glob else [int(k) for k in attrs["kernel_shape"]],
        attrs.get("strides"),
        attrs.get("dilations"),
        attrs.get("pads"),
        str(attrs.get("auto_pad", "NOTSET")),
        bool(attrs.get("ceil_mode", 0)),
        bool(attrs.get("count_include_pad", 0)),
        float(attrs.get("p", 2)),
        int(attrs.get("storage_order", 0)),
        len(node.output_values),
    )
    return result(module, node)


OP = CustomOp.define(
    OnnxPool,
    name="pooling",
    torch=converters((*_KIND, "MaxUnpool"), _convert),
)
