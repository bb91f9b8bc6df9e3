"""ONNX DepthToSpace (DCR and CRD) and SpaceToDepth as reshape/permute modules."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, mapping


class OnnxDepthToSpace(nn.Module):
    """DepthToSpace in either mode: DCR (TensorFlow's ``depth_to_space``) or CRD (``pixel_shuffle``).

    onnx2torch only converts CRD and refuses DCR, the mode tf2onnx emits for
    ``tf.nn.depth_to_space``. Both are one reshape-permute-reshape, traced with the batch as a
    symbolic size. (Handled here rather than by a graph fixup rewriting DCR into CRD: that
    would need an extra channel permutation in the graph for the same result.)
    """

    def __init__(self, block: int, mode: str) -> None:
        super().__init__()
        self.block = block
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        b = self.block
        if self.mode == "CRD":
            return torch.pixel_shuffle(x, b)
        y = x.reshape(n, b, b, c // (b * b), h, w).permute(0, 3, 4, 1, 5, 2)
        return y.reshape(n, c // (b * b), h * b, w * b)


class OnnxSpaceToDepth(nn.Module):
    """SpaceToDepth (the inverse of DCR DepthToSpace): blocks of pixels move into channels.

    onnx2torch has no SpaceToDepth; tf2onnx emits it for ``tf.nn.space_to_depth``.
    """

    def __init__(self, block: int) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        b = self.block
        y = x.reshape(n, c, h // b, b, w // b, b).permute(0, 3, 5, 1, 2, 4)
        return y.reshape(n, c * b * b, h // b, w // b)


def _depth_to_space(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    mode = str(node.attributes.get("mode", "DCR"))
    if mode not in ("DCR", "CRD"):
        raise NotImplementedError(f"DepthToSpace mode {mode!r}")
    module = OnnxDepthToSpace(int(node.attributes["blocksize"]), mode)
    return OperationConverterResult(torch_module=module, onnx_mapping=mapping(node, (0,)))


def _space_to_depth(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    module = OnnxSpaceToDepth(int(node.attributes["blocksize"]))
    return OperationConverterResult(torch_module=module, onnx_mapping=mapping(node, (0,)))


OP = CustomOp.define(
    OnnxDepthToSpace,
    name="DepthToSpace/SpaceToDepth",
    torch=(
        TorchConverter("DepthToSpace", (1, 11, 13), _depth_to_space),
        TorchConverter("SpaceToDepth", (1, 13), _space_to_depth),
    ),
)
