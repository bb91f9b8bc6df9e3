"""ONNX Resize (every version) and Upsample: nearest, linear and cubic, every coordinate mode, antialias."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from custom_ops import _shapes
from custom_ops.base import CustomOp, TorchConverter
from custom_ops.common import attributes, const_floats, const_ints, input_shape, present, result, versions_of


@dataclass(frozen=True)
class ResizeMode:
    """The attributes that decide the interpolation."""

    mode: str = "nearest"
    coordinate_mode: str = "half_pixel"
    nearest_mode: str = "round_prefer_floor"
    cubic_a: float = -0.75
    exclude_outside: bool = False
    extrapolation_value: float = 0.0
    antialias: bool = False
    keep_aspect_ratio_policy: str = "stretch"
    axes: tuple[int, ...] | None = None


def _coeffs(mode: ResizeMode, ratio: float, scale: float) -> np.ndarray:
    if mode.mode == "nearest":
        if float(ratio).is_integer():
            return np.array([0.0, 1.0])
        rule = mode.nearest_mode
        if rule == "round_prefer_floor":
            return np.array([ratio <= 0.5, ratio > 0.5], dtype=np.float64)
        if rule == "round_prefer_ceil":
            return np.array([ratio < 0.5, ratio >= 0.5], dtype=np.float64)
        return np.array([1.0, 0.0]) if rule == "floor" else np.array([0.0, 1.0])
    if mode.mode == "linear":
        if not mode.antialias:
            return np.array([1 - ratio, ratio])
        s = min(scale, 1.0)
        start = int(np.floor(-1 / s) + 1)
        args = (np.arange(start, start + 2 - 2 * start) - ratio) * s
        c = np.clip(1 - np.abs(args), 0, 1)
        return c / c.sum()
    a = mode.cubic_a
    if not mode.antialias:
        r = ratio
        return np.array(
            [
                ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
                ((a + 2) * r - (a + 3)) * r * r + 1,
                ((a + 2) * (1 - r) - (a + 3)) * (1 - r) * (1 - r) + 1,
                ((a * ((1 - r) + 1) - 5 * a) * ((1 - r) + 1) + 8 * a) * ((1 - r) + 1) - 4 * a,
            ]
        )
    s = min(scale, 1.0)

    def kernel(x: float) -> float:
        x = abs(x)
        if x <= 1:
            return (a + 2) * x**3 - (a + 3) * x**2 + 1
        if x < 2:
            return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
        return 0.0

    i_start = int(np.floor(-2 / s) + 1)
    c = np.array([kernel(s * (i - ratio)) for i in range(i_start, 2 - i_start)])
    return c / c.sum()


def axis_plan(
    mode: ResizeMode, in_len: int, out_len: int, scale: float, roi: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Source indices ``(out_len, n)``, weights ``(out_len, n)`` and an extrapolation mask for one axis."""
    y = np.arange(out_len, dtype=np.float64)
    out_w = scale * in_len
    ctm = mode.coordinate_mode
    extrapolated = None
    # ONNX's definition uses the integer output length here (as ONNX Runtime does); onnx's numpy
    # reference uses the fractional ``scale * in_len`` instead, which differs when it is not whole
    if ctm == "align_corners":
        x = np.zeros(out_len) if out_len == 1 else y * (in_len - 1) / (out_len - 1)
    elif ctm == "asymmetric":
        x = y / scale
    elif ctm == "tf_crop_and_resize":
        lo, hi = roi if roi is not None else (0.0, 1.0)
        if out_len == 1:
            x = np.full(out_len, (hi - lo) * (in_len - 1) / 2)
        else:
            x = y * (hi - lo) * (in_len - 1) / (out_len - 1)
        x = x + lo * (in_len - 1)
        extrapolated = (x < 0) | (x > in_len - 1)
    elif ctm == "pytorch_half_pixel":
        x = np.full(out_len, -0.5) if out_len == 1 else (y + 0.5) / scale - 0.5
    elif ctm == "half_pixel":
        x = (y + 0.5) / scale - 0.5
    elif ctm == "tf_half_pixel_for_nn":  # deprecated since opset 13, still what tf2onnx emits for nearest
        x = (y + 0.5) / scale
    elif ctm == "half_pixel_symmetric":
        offset = in_len / 2 * (1 - out_len / out_w)
        x = offset + (y + 0.5) / scale - 0.5
    else:
        raise NotImplementedError(f"coordinate_transformation_mode {ctm!r}")
    floor = np.floor(x).astype(np.int64)
    ratios = np.where(x == floor, 1.0, x - floor)
    coeffs = np.stack([_coeffs(mode, float(r), scale) for r in ratios]) if out_len else np.zeros((0, 2))
    n = coeffs.shape[1]
    pad = int(np.ceil(n / 2))
    xp = x + pad
    p = np.floor(xp).astype(np.int64)
    frac = xp - p
    if n % 2 == 0:
        offset_from_p = np.where(frac == 0, -(n // 2), -(n // 2) + 1)
    else:
        base = -((n - 1) // 2)
        offset_from_p = np.where(frac <= 0.5, base, base + 1)
    idx = (p + offset_from_p)[:, None] + np.arange(n)[None, :] - pad
    if mode.exclude_outside:
        coeffs = np.where((idx < 0) | (idx >= in_len), 0.0, coeffs)
        total = coeffs.sum(axis=-1, keepdims=True)
        coeffs = coeffs / np.where(total == 0, 1.0, total)
    return np.clip(idx, 0, in_len - 1), coeffs, extrapolated


@dataclass(frozen=True)
class _Target:
    scales: tuple[float, ...] | None = None
    sizes: tuple[int, ...] | None = None
    roi: tuple[float, ...] | None = None


def plan(mode: ResizeMode, shape: list[int], target: _Target) -> list[tuple[int, Any, Any, Any]]:
    """Per resized axis: ``(axis, indices, weights, extrapolation mask)``, following ONNX's reference."""
    rank = len(shape)
    axes = list(mode.axes) if mode.axes is not None else list(range(rank))
    axes = [a % rank for a in axes]
    roi = list(target.roi) if target.roi else None
    if roi is not None and mode.axes is not None:
        full = [0.0] * rank + [1.0] * rank
        for i, d in enumerate(axes):
            full[d], full[rank + d] = roi[i], roi[len(axes) + i]
        roi = full
    if target.sizes is not None:
        sizes = list(shape)
        for i, d in enumerate(axes):
            sizes[d] = target.sizes[i]
        scales = [sizes[i] / shape[i] if shape[i] else 1.0 for i in range(rank)]
        if mode.keep_aspect_ratio_policy != "stretch":
            pick = min if mode.keep_aspect_ratio_policy == "not_larger" else max
            common = pick(scales[d] for d in axes)
            scales = [common if i in axes else 1.0 for i in range(rank)]
            sizes = [int(common * shape[i] + 0.5) if i in axes else shape[i] for i in range(rank)]
    else:
        assert target.scales is not None
        scales = [1.0] * rank
        for i, d in enumerate(axes):
            scales[d] = float(target.scales[i])
        sizes = [int(s * n) for s, n in zip(scales, shape, strict=True)]
    steps = []
    for axis in axes:
        unchanged_roi = roi is None or (math.isclose(roi[axis], 0.0) and math.isclose(roi[axis + rank], 1.0))
        if math.isclose(scales[axis], 1.0) and sizes[axis] == shape[axis] and unchanged_roi:
            continue
        axis_roi = None if roi is None else (roi[axis], roi[axis + rank])
        idx, coeffs, mask = axis_plan(mode, shape[axis], sizes[axis], scales[axis], axis_roi)
        steps.append(
            (
                axis,
                torch.from_numpy(idx),
                torch.from_numpy(coeffs),
                None if mask is None or not mask.any() else torch.from_numpy(mask),
            )
        )
    return steps


def apply(x: torch.Tensor, steps: list[tuple[int, Any, Any, Any]], mode: ResizeMode) -> torch.Tensor:
    """Resize ``x`` axis by axis (gather the neighbours, weight them, sum)."""
    dtype = x.dtype
    # float32 math for float inputs (as ONNX Runtime), float64 where integers must round exactly
    y = x.to(torch.float32 if dtype.is_floating_point and dtype != torch.float64 else torch.float64)
    for axis, idx, coeffs, mask in steps:
        out_len, n = idx.shape
        shape = list(y.shape)
        gathered = y.index_select(axis, idx.reshape(-1).to(y.device))
        gathered = gathered.reshape([*shape[:axis], out_len, n, *shape[axis + 1 :]])
        weights = coeffs.to(y.device, y.dtype).reshape([1] * axis + [out_len, n] + [1] * (y.dim() - axis - 1))
        y = (gathered * weights).sum(axis + 1)
        if mask is not None:
            keep = mask.to(y.device).reshape([1] * axis + [out_len] + [1] * (y.dim() - axis - 1))
            y = torch.where(keep, torch.full((), mode.extrapolation_value, dtype=y.dtype), y)
    if dtype.is_floating_point:
        return y.to(dtype)
    info = torch.iinfo(dtype)
    return torch.round(y).clamp(info.min, info.max).to(dtype)


class OnnxResize(nn.Module):
    """Separable resize: per axis a gather of neighbours and their weights, precomputed when the
    input's resized dims, scales/sizes and roi are known at conversion time (computed from the
    run-time values otherwise). Covers nearest (all rounding modes), linear and cubic (with
    ``exclude_outside`` and antialias), every coordinate transformation mode, ``axes`` and
    ``keep_aspect_ratio_policy``.

    onnx2torch maps Resize onto ``F.interpolate``, which covers only some coordinate modes, reads
    scales/sizes at run time, and has no Resize-18/19 (antialias, axes, aspect-ratio policy).
    """

    def __init__(self, mode: ResizeMode, target: _Target | None, fed: tuple[str, ...], shape: list[int] | None) -> None:
        super().__init__()
        self.mode = mode
        self.target = target
        self.fed = fed
        self.steps = plan(mode, shape, target) if target is not None and shape is not None else None
        for i, (_, idx, coeffs, mask) in enumerate(self.steps or []):
            self.register_buffer(f"index_{i}", idx, persistent=False)
            self.register_buffer(f"weight_{i}", coeffs, persistent=False)
            if mask is not None:
                self.register_buffer(f"mask_{i}", mask, persistent=False)

    def forward(self, x: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        if self.steps is not None:
            steps = [
                (axis, getattr(self, f"index_{i}"), getattr(self, f"weight_{i}"), getattr(self, f"mask_{i}", None))
                for i, (axis, *_) in enumerate(self.steps)
            ]
            return apply(x, steps, self.mode)
        given = dict(zip(self.fed, rest, strict=True))
        target = self.target or _Target(
            scales=tuple(given["scales"].tolist()) if "scales" in given and given["scales"].numel() else None,
            sizes=tuple(int(s) for s in given["sizes"].tolist()) if "sizes" in given else None,
            roi=tuple(given["roi"].tolist()) if "roi" in given and given["roi"].numel() else None,
        )
        return apply(x, plan(self.mode, list(x.shape), target), self.mode)


def _mode(node: Any, legacy: bool) -> ResizeMode:
    attrs = attributes(node)
    if legacy:  # Upsample and Resize-10: asymmetric coordinates, nearest rounds down
        return ResizeMode(mode=attrs.get("mode", "nearest"), coordinate_mode="asymmetric", nearest_mode="floor")
    axes = attrs.get("axes")
    return ResizeMode(
        mode=attrs.get("mode", "nearest"),
        coordinate_mode=attrs.get("coordinate_transformation_mode", "half_pixel"),
        nearest_mode=attrs.get("nearest_mode", "round_prefer_floor"),
        cubic_a=float(attrs.get("cubic_coeff_a", -0.75)),
        exclude_outside=bool(attrs.get("exclude_outside", 0)),
        extrapolation_value=float(attrs.get("extrapolation_value", 0.0)),
        antialias=bool(attrs.get("antialias", 0)),
        keep_aspect_ratio_policy=attrs.get("keep_aspect_ratio_policy", "stretch"),
        axes=None if axes is None else tuple(int(a) for a in axes),
    )


def _converter(legacy: bool) -> Any:
    def convert(node: Any, graph: Any) -> Any:
        mode = _mode(node, legacy)
        if mode.mode not in ("nearest", "linear", "cubic"):
            raise NotImplementedError(f"Resize mode {mode.mode!r}")
        attrs = attributes(node)
        if legacy and "scales" in attrs:  # Upsample-7: scales attribute
            target: _Target | None = _Target(scales=tuple(float(s) for s in attrs["scales"]))
            names: list[tuple[int, str]] = []
        elif legacy:
            names = [(1, "scales")]
        else:
            names = [(1, "roi"), (2, "scales"), (3, "sizes")]
        given = {name: i for i, name in names if present(node, i)}
        if names:
            scales = const_floats(node, graph, given["scales"]) if "scales" in given else None
            sizes = const_ints(node, graph, given["sizes"]) if "sizes" in given else None
            roi = const_floats(node, graph, given["roi"]) if "roi" in given else None
            constant = all(
                v is not None for v, name in ((scales, "scales"), (sizes, "sizes"), (roi, "roi")) if name in given
            )
            target = (
                _Target(
                    scales=tuple(scales) if scales else None,
                    sizes=tuple(sizes) if sizes else None,
                    roi=tuple(roi) if roi else None,
                )
                if constant
                else None
            )
        shape = input_shape(node, graph, 0)
        no_scales = "scales" not in given or scales == []  # tf2onnx feeds an empty tensor there
        resizable = names and "sizes" in given and no_scales and ("roi" not in given or roi is not None)
        if target is None and resizable and shape is not None:
            batch_sized = _batch_sized_target(node, graph, given["sizes"], shape, roi)
            if batch_sized is not None:  # sizes hold the batch: only the static axes resize
                target, shape = batch_sized
        static = target is not None and shape is not None and all(d is not None for d in _needed(shape, mode, target))
        if static:
            return result(OnnxResize(mode, target, (), [d or 0 for d in shape]), node, (0,))
        fed = tuple(name for i, name in names if name in given)
        keep = (0, *(i for i, name in names if name in given))
        return result(OnnxResize(mode, target, fed, None), node, keep)

    return convert


def _batch_sized_target(
    node: Any, graph: Any, index: int, shape: list[int | None], roi: list[float] | None
) -> tuple[_Target, list[int | None]] | None:
    """Sizes made of constants and the input's own symbolic dims (a feature map resized to another's
    size: ``Concat(Shape(x)[:1], Shape(y)[1:3], ...)``) as a static target plus a shape in which the
    symbolic dims are 1 on both sides: those axes keep their size, so the plan never reads them."""
    dims = _shapes.shape_expression(node, graph, index)
    if dims is None or len(dims) != len(shape):
        return None
    sizes, dummy = [], []
    for axis, (dim, have) in enumerate(zip(dims, shape, strict=True)):
        if dim.tensor is None:
            sizes.append(dim.value)
            dummy.append(have)
        elif (dim.tensor, dim.axis) == (node.input_values[0], axis) or (
            have is None and _shapes.same_symbol(graph, dim.tensor, dim.axis, node.input_values[0], axis)
        ):  # the axis keeps its size
            sizes.append(1 if have is None else have)
            dummy.append(1 if have is None else have)
        else:
            return None
    return _Target(sizes=tuple(sizes), roi=tuple(roi) if roi else None), dummy


def _needed(shape: list[int | None], mode: ResizeMode, target: _Target) -> list[int | None]:
    """The input dims the plan depends on (those of axes that may change)."""
    rank = len(shape)
    axes = [a % rank for a in mode.axes] if mode.axes is not None else list(range(rank))
    if target.scales is not None and target.sizes is None:
        return [shape[d] for i, d in enumerate(axes) if not math.isclose(target.scales[i], 1.0) or target.roi]
    return [shape[d] for d in axes]


OP = CustomOp.define(
    OnnxResize,
    name="Resize/Upsample",
    torch=(
        TorchConverter("Resize", (10,), _converter(legacy=True)),
        TorchConverter("Resize", tuple(v for v in versions_of("Resize") if v > 10), _converter(legacy=False)),
        TorchConverter("Upsample", tuple(v for v in versions_of("Upsample") if v >= 7), _converter(legacy=True)),
    ),
)
