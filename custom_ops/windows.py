"""ONNX signal helpers: HannWindow, HammingWindow, BlackmanWindow and MelWeightMatrix."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, onnx_to_torch_dtype, result


class OnnxWindow(nn.Module):
    """A Hann, Hamming or Blackman window of the given length, periodic or symmetric.

    onnx2torch has no window-function converters.
    """

    def __init__(self, kind: str, periodic: bool, dtype: torch.dtype, size: int | None) -> None:
        super().__init__()
        self.kind = kind
        self.periodic = periodic
        self.dtype = dtype
        self.size = size

    def forward(self, size: torch.Tensor | None = None) -> torch.Tensor:
        length = self.size if size is None else int(size.reshape(-1)[0])
        assert length is not None
        n = torch.arange(length, dtype=torch.float64)
        span = length if self.periodic else length - 1
        angle = 2 * math.pi * n / span
        if self.kind == "HannWindow":
            w = torch.sin(math.pi * n / span) ** 2
        elif self.kind == "HammingWindow":
            alpha = 25.0 / 46.0
            w = alpha - (1 - alpha) * torch.cos(angle)
        else:
            w = 0.42 - 0.5 * torch.cos(angle) + 0.08 * torch.cos(2 * angle)
        return w.to(self.dtype)


class OnnxMelWeightMatrix(nn.Module):
    """The triangular mel filterbank matrix ``(dft_length // 2 + 1, num_mel_bins)``, as ONNX defines it.

    onnx2torch has no MelWeightMatrix converter.
    """

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype

    def forward(
        self, bins: torch.Tensor, dft: torch.Tensor, rate: torch.Tensor, low: torch.Tensor, high: torch.Tensor
    ) -> torch.Tensor:
        import numpy as np

        n_mel, n_dft, sample_rate = int(bins), int(dft), int(rate)
        low_mel = 2595 * np.log1p(float(low) / 700) / np.log(10)
        high_mel = 2595 * np.log1p(float(high) / 700) / np.log(10)
        points = np.arange(0, n_mel + 2)
        points = points * ((high_mel - low_mel) / points.shape[0]) + low_mel
        hertz = 700 * np.expm1(points / 2595 * np.log(10))
        edges = (((n_dft + 1) * hertz) // sample_rate).astype(int)
        out = np.zeros((n_dft // 2 + 1, n_mel))
        for i in range(n_mel):
            left, centre, right = edges[i], edges[i + 1], edges[i + 2]
            if centre == left:
                out[centre, i] = 1
            else:
                for j in range(left, centre + 1):
                    out[j, i] = (j - left) / (centre - left)
            for j in range(centre, right):
                out[j, i] = (right - j) / (right - centre)
        return torch.from_numpy(out).to(self.dtype)


def _mel(node: Any, graph: Any) -> Any:
    dtype = onnx_to_torch_dtype(int(attributes(node).get("output_datatype", 1)))
    return result(OnnxMelWeightMatrix(dtype), node)


def _convert(node: Any, graph: Any) -> Any:
    attrs = attributes(node)
    dtype = onnx_to_torch_dtype(int(attrs.get("output_datatype", 1)))
    size = const_ints(node, graph, 0)
    module = OnnxWindow(node.operation_type, bool(attrs.get("periodic", 1)), dtype, None if size is None else size[0])
    return result(module, node, () if size is not None else None)


OP = CustomOp.define(
    OnnxWindow,
    name="window functions/MelWeightMatrix",
    torch=converters(("HannWindow", "HammingWindow", "BlackmanWindow"), _convert)
    + converters(("MelWeightMatrix",), _mel),
)
