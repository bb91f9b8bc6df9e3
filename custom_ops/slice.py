"""ONNX Slice (every version) as plain Python slicing, negative steps included."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, present, result


def slice_tensor(
    x: torch.Tensor, starts: list[int], ends: list[int], axes: list[int], steps: list[int]
) -> torch.Tensor:
    """``x`` sliced per axis with ONNX's (= numpy's) clamping rules."""
    index: list[Any] = [slice(None)] * x.dim()
    flips = []
    for start, end, axis, step in zip(starts, ends, axes, steps, strict=True):
        axis = axis % x.dim()
        if step > 0:
            index[axis] = slice(None if start == 0 else start, None if end >= 2**31 - 1 else end, step)
            continue
        n = x.shape[axis]
        first, stop, stride = slice(start, end, step).indices(n)
        flips.append(axis)
        index[axis] = slice(n - 1 - first, n - 1 - stop, -stride)
    if flips:
        x = x.flip(flips)
    return x[tuple(index)]


class OnnxSlice(nn.Module):
    """Slice with starts/ends/axes/steps baked in when constant (read at run time otherwise).

    onnx2torch indexes with a list of slices, which torch warns will change meaning, and reads
    the slice parameters from tensors at run time.
    """

    def __init__(self, params: tuple[list[int], list[int], list[int] | None, list[int] | None] | None) -> None:
        super().__init__()
        self.params = params

    def forward(
        self,
        x: torch.Tensor,
        starts: torch.Tensor | None = None,
        ends: torch.Tensor | None = None,
        axes: torch.Tensor | None = None,
        steps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if self.params is not None:
            s, e, a, t = self.params
        else:
            assert starts is not None and ends is not None
            s, e = starts.tolist(), ends.tolist()
            a = None if axes is None else axes.tolist()
            t = None if steps is None else steps.tolist()
        a = list(range(len(s))) if a is None else a
        t = [1] * len(s) if t is None else t
        return slice_tensor(x, s, e, a, t)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    if "starts" in attrs:  # Slice-1
        params = ([int(v) for v in attrs["starts"]], [int(v) for v in attrs["ends"]], attrs.get("axes"), None)
        return result(OnnxSlice(params), node, (0,))
    values = [const_ints(node, graph, i) if present(node, i) else None for i in range(1, 5)]
    if all(values[i] is not None or not present(node, i + 1) for i in range(4)):
        s, e, a, t = values
        assert s is not None and e is not None
        return result(OnnxSlice((s, e, a, t)), node, (0,))
    return result(OnnxSlice(None), node)


OP = CustomOp.define(OnnxSlice, name="Slice", torch=converters(("Slice",), _convert))
