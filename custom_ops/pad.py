"""ONNX Pad with constant pads, as a static module (all modes, any axes)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, constant_input, mapping


class OnnxPad(nn.Module):
    """Pad with pads known at conversion time (constant, reflect, edge, wrap modes).

    onnx2torch reads Pad-11+'s pads tensor at run time (``pads.tolist()``), which torch.export
    cannot trace, and has no converter for Pad-18/19/21.
    """

    def __init__(self, begins: list[int], ends: list[int], mode: str, value: float | None) -> None:
        super().__init__()
        self.begins = begins
        self.ends = ends
        self.mode = mode
        self.value = value

    def forward(self, x: torch.Tensor, value: torch.Tensor | None = None) -> torch.Tensor:
        rank = x.dim()
        if self.mode == "constant":
            pads: list[int] = []
            for axis in reversed(range(rank)):
                pads += [self.begins[axis], self.ends[axis]]
            fill = self.value if value is None else value
            if isinstance(fill, torch.Tensor):
                if fill.numel() == 0:
                    fill = 0.0
                else:
                    # pad with zeros, then put the fill value in through a mask (keeps it a tensor)
                    padded = F.pad(x, pads, value=0.0)
                    mask = F.pad(torch.ones_like(x, dtype=torch.bool), pads, value=False)
                    return torch.where(mask, padded, fill.to(x.dtype).reshape(()))
            return (
                F.pad(x, pads, value=float(fill or 0.0))
                if x.is_floating_point()
                else F.pad(x, pads, value=int(fill or 0))
            )
        for axis in range(rank):
            begin, end = self.begins[axis], self.ends[axis]
            if begin == 0 and end == 0:
                continue
            size = x.shape[axis]
            index = torch.arange(-begin, size + end, device=x.device)
            if self.mode == "reflect":
                last = size - 1
                index = last - (last - index.abs()).abs()
            elif self.mode == "edge":
                index = index.clamp(0, size - 1)
            else:  # wrap
                index = torch.remainder(index, size)
            x = x.index_select(axis, index)
        return x


class OnnxPadDynamic(nn.Module):
    """Pad whose pads (or axes) are computed at run time (eager only: torch.export needs them constant)."""

    def __init__(self, mode: str, value: float | None) -> None:
        super().__init__()
        self.mode = mode
        self.value = value

    def forward(
        self,
        x: torch.Tensor,
        pads: torch.Tensor,
        value: torch.Tensor | None = None,
        axes: torch.Tensor | None = None,
    ) -> torch.Tensor:
        rank = x.dim()
        flat = [int(p) for p in pads.reshape(-1).tolist()]
        dims = list(range(rank)) if axes is None else [int(a) % rank for a in axes.reshape(-1).tolist()]
        begins, ends = [0] * rank, [0] * rank
        half = len(flat) // 2
        for i, axis in enumerate(dims):
            begins[axis], ends[axis] = flat[i], flat[half + i]
        if value is not None and value.numel():
            return OnnxPad(begins, ends, self.mode, None)(x, value)
        return OnnxPad(begins, ends, self.mode, self.value)(x)


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    attrs = node.attributes
    mode = attrs.get("mode", "constant")
    if isinstance(mode, bytes):
        mode = mode.decode()
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise NotImplementedError(f"Pad mode {mode!r}")
    if "pads" in attrs:  # Pad-2: pads and value are attributes
        pads = np.asarray(attrs["pads"], dtype=np.int64)
        value_const = float(attrs.get("value", 0.0))
        keep: tuple[int, ...] = (0,)
        axes = None
    else:
        pads_const = constant_input(node, graph, 1)
        dynamic_axes = len(node.input_values) > 3 and node.input_values[3] and constant_input(node, graph, 3) is None
        if pads_const is None or dynamic_axes:
            return OperationConverterResult(torch_module=OnnxPadDynamic(mode, 0.0), onnx_mapping=mapping(node))
        pads = pads_const.astype(np.int64).reshape(-1)
        value = constant_input(node, graph, 2)
        has_value_input = len(node.input_values) > 2 and bool(node.input_values[2])
        value_const = float(value.reshape(-1)[0]) if value is not None and value.size else 0.0
        keep = (0,) if value is not None or not has_value_input else (0, 2)
        axes_const = constant_input(node, graph, 3)
        axes = None if axes_const is None else [int(a) for a in axes_const.reshape(-1)]
        if axes is None and len(node.input_values) > 3 and node.input_values[3]:
            raise NotImplementedError("Pad with axes computed at run time")
    rank = _rank(node, graph, len(pads) // 2 if axes is None else None)
    begins, ends = [0] * rank, [0] * rank
    axes = list(range(rank)) if axes is None else [a % rank for a in axes]
    half = len(pads) // 2
    for i, axis in enumerate(axes):
        begins[axis], ends[axis] = int(pads[i]), int(pads[half + i])
    module = OnnxPad(begins, ends, mode, value_const if keep == (0,) else None)
    return OperationConverterResult(torch_module=module, onnx_mapping=mapping(node, keep))


def _rank(node: Any, graph: Any, fallback: int | None) -> int:
    info = graph.value_info.get(node.input_values[0])
    if info is not None and info.type.tensor_type.HasField("shape"):
        return len(info.type.tensor_type.shape.dim)
    if fallback is None:
        raise NotImplementedError("Pad with axes on an input of unknown rank")
    return fallback


OP = CustomOp.define(
    OnnxPad,
    name="Pad",
    torch=(TorchConverter("Pad", (2, 11, 13, 18, 19, 21, 23, 24, 25), _convert),),
)
