"""ONNX Tile (every version) with the repeats baked in when constant or read from other tensors' sizes."""

from __future__ import annotations

import torch
from torch import nn

from custom_ops import _shapes
from custom_ops.base import CustomOp
from custom_ops.common import converters


class OnnxTileStatic(nn.Module):
    """Tile by repeats known at conversion time (``repeats`` None: read from the second input, eager only).

    onnx2torch builds ``torch.Size`` from the repeats tensor at run time, which torch.export
    cannot trace (a ViT's class token is tiled by ``[batch, 1, 1]``).
    """

    def __init__(self, repeats: list[int] | None) -> None:
        super().__init__()
        self.repeats = repeats

    def forward(self, x: torch.Tensor, repeats: torch.Tensor | None = None) -> torch.Tensor:
        counts = self.repeats if repeats is None else [int(r) for r in repeats.tolist()]
        assert counts is not None
        return x.repeat(counts)


class OnnxTileShaped(nn.Module):
    """Tile by repeats made of constants and sizes of other tensors (custom_ops/_shapes.py).

    tf2onnx computes a class token's repeats as ``Concat(Shape(x)[:1], [1, 1])``; read as
    ``x.shape[0]`` the count is a symbolic size torch.export traces with a dynamic batch.
    """

    def __init__(self, dims: list[_shapes.Dim], refs: list[str]) -> None:
        super().__init__()
        self.dims = dims
        self.refs = refs

    def forward(self, x: torch.Tensor, *sized: torch.Tensor) -> torch.Tensor:
        return x.repeat(_shapes.build(self.dims, self.refs, sized))


_convert = _shapes.shape_input_converter(OnnxTileStatic, OnnxTileShaped)

OP = CustomOp.define(OnnxTileStatic, name="Tile", torch=converters(("Tile",), _convert))
