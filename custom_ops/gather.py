"""ONNX Gather (numpy.take along an axis) without reading indices as Python numbers."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, mapping


class OnnxGatherTake(nn.Module):
    """Gather as ``index_select`` plus a reshape; negative indices wrap as in ONNX.

    onnx2torch indexes with the index tensor (``x[:, idx]``); a 0-d index (a Loop's time step)
    then becomes ``.item()``, a data-dependent value under torch.export.
    """

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = axis

    def forward(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        axis = self.axis % x.dim()
        index = indices.to(torch.int64)
        index = torch.where(index < 0, index + x.shape[axis], index)
        taken = torch.index_select(x, axis, index.reshape(-1))
        return taken.reshape(list(x.shape[:axis]) + list(indices.shape) + list(x.shape[axis + 1 :]))


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    return OperationConverterResult(
        torch_module=OnnxGatherTake(int(node.attributes.get("axis", 0))), onnx_mapping=mapping(node)
    )


OP = CustomOp.define(OnnxGatherTake, name="Gather", torch=(TorchConverter("Gather", (1, 11, 13), _convert),))
