"""ONNX ConvTranspose with any padding (asymmetric pads, auto_pad, output_shape, output_padding)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp, TorchConverter, constant_input

_MODULES = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}


class OnnxConvTranspose(nn.Module):
    """A transposed convolution (``nn.ConvTransposeNd`` holding the weights) cropped to ONNX's padding.

    onnx2torch refuses asymmetric padding, which Keras' ``Conv2DTranspose(padding="same",
    strides=2)`` exports to (tf2onnx: ``pads=[0, 0, 1, 1]``). The convolution runs unpadded and
    the result is cropped by the begin/end pads (and extended by ``output_padding``); with
    symmetric pads it is a plain ``nn.ConvTransposeNd``.
    """

    def __init__(self, conv: nn.Module, begins: list[int], ends: list[int]) -> None:
        super().__init__()
        self.conv = conv
        self.begins = begins
        self.ends = ends  # may be negative: extra rows at the end (output_padding beyond the pads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if not any(self.begins) and not any(self.ends):
            return y
        bias = self.conv.bias
        if bias is not None:
            y = y - bias.reshape([1, -1] + [1] * (y.dim() - 2))
        grow: list[int] = []
        for end in reversed(self.ends):
            grow += [0, max(-end, 0)]
        if any(grow):
            y = F.pad(y, grow)
        index: list[Any] = [slice(None), slice(None)]
        for begin, end in zip(self.begins, self.ends, strict=True):
            index.append(slice(begin, -end if end > 0 else None))
        y = y[tuple(index)]
        return y if bias is None else y + bias.reshape([1, -1] + [1] * (y.dim() - 2))


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    weights = constant_input(node, graph, 1)
    if weights is None:
        raise NotImplementedError("ConvTranspose with weights computed at run time")
    bias = constant_input(node, graph, 2) if len(node.input_values) > 2 and node.input_values[2] else None
    attrs = node.attributes
    rank = weights.ndim - 2
    if rank not in _MODULES:
        raise NotImplementedError(f"ConvTranspose with {rank} spatial dims")
    kernel = list(attrs.get("kernel_shape", weights.shape[2:]))
    strides = list(attrs.get("strides", [1] * rank))
    dilations = list(attrs.get("dilations", [1] * rank))
    output_padding = list(attrs.get("output_padding", [0] * rank))
    group = int(attrs.get("group", 1))
    auto_pad = str(attrs.get("auto_pad", "NOTSET"))
    pads = list(attrs.get("pads", [0] * 2 * rank))
    output_shape = attrs.get("output_shape")
    if output_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        sizes = _input_sizes(node, graph, rank)
        if output_shape is None:
            output_shape = [s * st for s, st in zip(sizes, strides, strict=True)]
        output_shape = list(output_shape)[-rank:]
        pads = [0] * 2 * rank
        for i in range(rank):
            full = strides[i] * (sizes[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1
            total = full - output_shape[i]
            small, large = total // 2, total - total // 2
            pads[i], pads[i + rank] = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
    begins, ends = pads[:rank], [pads[rank + i] - output_padding[i] for i in range(rank)]
    conv = _MODULES[rank](
        weights.shape[0],
        weights.shape[1] * group,
        kernel,
        stride=strides,
        dilation=dilations,
        groups=group,
        bias=bias is not None,
    )
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(weights))
        if bias is not None:
            conv.bias.copy_(torch.from_numpy(bias))
    if begins == [max(e, 0) for e in ends] and all(
        0 <= p < max(s, d) for p, s, d in zip(output_padding, strides, dilations, strict=True)
    ):
        # symmetric: torch's own padding and output_padding
        conv.padding = tuple(begins)
        conv.output_padding = tuple(output_padding)
        begins, ends = [0] * rank, [0] * rank
    module = OnnxConvTranspose(conv, begins, ends)
    return OperationConverterResult(
        torch_module=module, onnx_mapping=OnnxMapping(inputs=(node.input_values[0],), outputs=node.output_values)
    )


def _input_sizes(node: Any, graph: Any, rank: int) -> list[int]:
    info = graph.value_info.get(node.input_values[0])
    dims = info.type.tensor_type.shape.dim if info is not None and info.type.tensor_type.HasField("shape") else []
    sizes = [d.dim_value if d.HasField("dim_value") else None for d in dims][-rank:]
    if len(sizes) != rank or None in sizes:
        raise NotImplementedError("ConvTranspose with auto_pad/output_shape on an input of unknown spatial size")
    return [int(s) for s in sizes]  # type: ignore[arg-type]


OP = CustomOp.define(
    OnnxConvTranspose, name="ConvTranspose", torch=(TorchConverter("ConvTranspose", (1, 11), _convert),)
)
