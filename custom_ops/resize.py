"""ONNX Resize (nearest, linear, cubic; every coordinate mode) with sizes fixed at conversion time."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, constant_input, mapping


class OnnxResizeStatic(nn.Module):
    """Resize as one gather-and-weight step per resized axis, with the taps computed at conversion.

    onnx2torch reads scales/sizes at run time (untraceable for torch.export) and maps every
    nearest mode to torch's "asymmetric" one, which is wrong for tf2onnx's
    ``tf_half_pixel_for_nn`` (``tf.image.resize(..., "nearest")``). Here each output position's
    source indices and weights follow the ONNX formulas exactly (separable in the axes), so
    every coordinate transformation and nearest mode is reproduced.
    """

    def __init__(self, axes: list[int], taps: list[tuple[np.ndarray, np.ndarray]]) -> None:
        super().__init__()
        self.axes = axes
        for k, (index, weight) in enumerate(taps):
            self.register_buffer(f"index_{k}", torch.from_numpy(index.astype(np.int64)), persistent=False)
            self.register_buffer(f"weight_{k}", torch.from_numpy(weight.astype(np.float32)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for k, axis in enumerate(self.axes):
            index: torch.Tensor = getattr(self, f"index_{k}")
            weight: torch.Tensor = getattr(self, f"weight_{k}")
            out, n_taps = index.shape
            gathered = torch.index_select(x, axis, index.reshape(-1))
            shape = list(gathered.shape)
            shape[axis : axis + 1] = [out, n_taps]
            gathered = gathered.reshape(shape)
            if n_taps == 1:
                x = gathered.squeeze(axis + 1)
                continue
            w_shape = [1] * len(shape)
            w_shape[axis], w_shape[axis + 1] = out, n_taps
            x = (gathered * weight.to(gathered.dtype).reshape(w_shape)).sum(axis + 1)
        return x


def _original(x: np.ndarray, mode: str, scale: Any, length: int, out: int) -> np.ndarray:
    if mode == "half_pixel":
        return (x + f32(0.5)) / scale - f32(0.5)
    if mode == "half_pixel_symmetric":
        adjustment = f32(out) / (scale * f32(length))
        offset = f32(length) / f32(2) * (f32(1) - adjustment)
        return offset + (x + f32(0.5)) / scale - f32(0.5)
    if mode == "pytorch_half_pixel":
        return (x + f32(0.5)) / scale - f32(0.5) if out > 1 else np.zeros_like(x)
    if mode == "align_corners":
        return x * f32(length - 1) / f32(out - 1) if out > 1 else np.zeros_like(x)
    if mode == "asymmetric":
        return x / scale
    if mode == "tf_half_pixel_for_nn":
        return (x + f32(0.5)) / scale
    raise NotImplementedError(f"coordinate_transformation_mode {mode!r}")


f32 = np.float32


def _nearest(x: np.ndarray, mode: str) -> np.ndarray:
    frac = x - np.floor(x)
    if mode == "round_prefer_floor":
        return np.where(frac == 0.5, np.floor(x), np.round(x))
    if mode == "round_prefer_ceil":
        return np.where(frac == 0.5, np.ceil(x), np.round(x))
    if mode == "floor":
        return np.floor(x)
    if mode == "ceil":
        return np.ceil(x)
    raise NotImplementedError(f"nearest_mode {mode!r}")


def _cubic(t: np.ndarray, a: float) -> np.ndarray:
    def far(s: np.ndarray) -> np.ndarray:
        return ((a * s - 5 * a) * s + 8 * a) * s - 4 * a

    def near(s: np.ndarray) -> np.ndarray:
        return ((a + 2) * s - (a + 3)) * s * s + 1

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def taps_for_axis(length: int, out: int, scale: float, attrs: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Source indices ``[out, taps]`` and weights ``[out, taps]`` of one resized axis."""
    mode = attrs["mode"]
    # float32 like ONNX Runtime, so that ties in nearest rounding fall the same way
    x = _original(
        np.arange(out, dtype=np.float32), attrs["coordinate_transformation_mode"], np.float32(scale), length, out
    )
    if mode == "nearest":
        index = np.clip(_nearest(x, attrs["nearest_mode"]), 0, length - 1).astype(np.int64)[:, None]
        return index, np.ones_like(index, dtype=np.float64)
    base = np.floor(x)
    t = x - base
    if mode == "linear":
        offsets = np.array([0, 1])
        weights = np.stack([1 - t, t], axis=-1)
    elif mode == "cubic":
        offsets = np.array([-1, 0, 1, 2])
        weights = _cubic(t, attrs["cubic_coeff_a"])
    else:
        raise NotImplementedError(f"Resize mode {mode!r}")
    index = base[:, None].astype(np.int64) + offsets[None, :]
    if mode == "cubic" and attrs["exclude_outside"]:
        weights = np.where((index < 0) | (index >= length), 0.0, weights)
        weights = weights / weights.sum(axis=1, keepdims=True)
    return np.clip(index, 0, length - 1), weights


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    a = node.attributes
    attrs = {
        "mode": str(a.get("mode", "nearest")),
        "coordinate_transformation_mode": str(a.get("coordinate_transformation_mode", "half_pixel")),
        "nearest_mode": str(a.get("nearest_mode", "round_prefer_floor")),
        "cubic_coeff_a": float(a.get("cubic_coeff_a", -0.75)),
        "exclude_outside": int(a.get("exclude_outside", 0)),
    }
    if int(a.get("antialias", 0)):
        raise NotImplementedError("Resize with antialias")
    if str(a.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
        raise NotImplementedError("Resize with keep_aspect_ratio_policy")
    if attrs["coordinate_transformation_mode"] == "tf_crop_and_resize":
        raise NotImplementedError("Resize with tf_crop_and_resize")
    dims = _input_dims(node, graph)
    rank = len(dims)
    axes = [int(x) % rank for x in a.get("axes", range(rank))]
    scales = constant_input(node, graph, 2) if len(node.input_values) > 2 and node.input_values[2] else None
    sizes = constant_input(node, graph, 3) if len(node.input_values) > 3 and node.input_values[3] else None
    if scales is not None and scales.size:
        scale_of = {axis: float(s) for axis, s in zip(axes, scales.reshape(-1), strict=True)}
        size_of = {axis: math.floor(dims[axis] * scale_of[axis]) if dims[axis] else None for axis in axes}
    elif sizes is not None and sizes.size:
        size_of = {axis: int(s) for axis, s in zip(axes, sizes.reshape(-1), strict=True)}
        scale_of = {axis: size_of[axis] / dims[axis] if dims[axis] else 1.0 for axis in axes}
    else:
        raise NotImplementedError("Resize with scales/sizes computed at run time")
    resized, taps = [], []
    for axis in axes:
        if scale_of[axis] == 1.0 and (size_of[axis] is None or size_of[axis] == dims[axis]):
            continue  # not resized (the batch axis, of unknown size, has scale 1)
        if not dims[axis] or size_of[axis] is None:
            raise NotImplementedError(f"Resize along axis {axis} of unknown size")
        resized.append(axis)
        taps.append(taps_for_axis(dims[axis], size_of[axis], scale_of[axis], attrs))
    return OperationConverterResult(torch_module=OnnxResizeStatic(resized, taps), onnx_mapping=mapping(node, (0,)))


def _input_dims(node: Any, graph: Any) -> list[int]:
    info = graph.value_info.get(node.input_values[0])
    if info is None or not info.type.tensor_type.HasField("shape"):
        raise NotImplementedError("Resize of an input of unknown rank")
    return [d.dim_value if d.HasField("dim_value") else 0 for d in info.type.tensor_type.shape.dim]


OP = CustomOp.define(OnnxResizeStatic, name="Resize", torch=(TorchConverter("Resize", (10, 11, 13, 18, 19), _convert),))
