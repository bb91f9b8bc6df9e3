"""ONNX Col2Im: sum sliding blocks of columns back into an image (any number of spatial dims)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, const_ints, converters, result


def _positions(image: list[int], block: list[int], dilations: list[int], pads: list[int], strides: list[int]) -> Any:
    """Flat target index (in the padded image) of each (block element, block position) pair."""
    dims = len(image)
    padded = [image[i] + pads[i] + pads[dims + i] for i in range(dims)]
    counts = [(padded[i] - dilations[i] * (block[i] - 1) - 1) // strides[i] + 1 for i in range(dims)]
    rows = []
    for offset in itertools.product(*[range(b) for b in block]):
        row = []
        for start in itertools.product(*[range(c) for c in counts]):
            coord = [start[i] * strides[i] + offset[i] * dilations[i] for i in range(dims)]
            flat = 0
            for i in range(dims):
                flat = flat * padded[i] + coord[i]
            row.append(flat)
        rows.append(row)
    return torch.tensor(rows, dtype=torch.long), padded


class OnnxCol2Im(nn.Module):
    """Col2Im: scatter-add each column entry to its image position, then crop the padding.

    onnx2torch has no Col2Im converter (``F.fold`` covers only 2-D images with symmetric pads).
    """

    def __init__(self, attrs: dict[str, Any], image: list[int] | None, block: list[int] | None) -> None:
        super().__init__()
        self.attrs = attrs
        self.image = image
        self.block = block

    def forward(self, x: torch.Tensor, image: torch.Tensor | None = None, block: torch.Tensor | None = None) -> Any:
        image_shape = self.image if image is None else [int(v) for v in image.tolist()]
        block_shape = self.block if block is None else [int(v) for v in block.tolist()]
        assert image_shape is not None and block_shape is not None
        dims = len(image_shape)
        dilations = list(self.attrs.get("dilations") or [1] * dims)
        pads = list(self.attrs.get("pads") or [0] * 2 * dims)
        strides = list(self.attrs.get("strides") or [1] * dims)
        index, padded = _positions(image_shape, block_shape, dilations, pads, strides)
        n = x.shape[0]
        k = math.prod(block_shape)
        channels = x.shape[1] // k
        cols = x.reshape(n, channels, k * x.shape[2])
        out = torch.zeros(n, channels, math.prod(padded), dtype=x.dtype, device=x.device)
        out = out.index_add(2, index.reshape(-1).to(x.device), cols)
        out = out.reshape(n, channels, *padded)
        for i in range(dims):
            out = out.narrow(2 + i, pads[i], image_shape[i])
        return out


def _convert(node: Any, graph: Any) -> Any:
    image, block = const_ints(node, graph, 1), const_ints(node, graph, 2)
    module = OnnxCol2Im(attributes(node), image, block)
    if image is not None and block is not None:
        return result(module, node, (0,))
    return result(OnnxCol2Im(attributes(node), None, None), node)


OP = CustomOp.define(OnnxCol2Im, name="Col2Im", torch=converters(("Col2Im",), _convert))
