"""ONNX Conv, ConvTranspose and DeformConv with weights that may be run-time inputs."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from custom_ops.base import CustomOp
from custom_ops.common import attributes, converters, input_shape, result

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


def _same_pads(spatial: list[int], kernel: list[int], strides: list[int], dilations: list[int], upper: bool) -> Any:
    begins, ends = [], []
    for n, k, s, d in zip(spatial, kernel, strides, dilations, strict=True):
        out = -(-n // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
        small, large = total // 2, total - total // 2
        begins.append(small if upper else large)
        ends.append(large if upper else small)
    return begins, ends


def _torch_pads(begins: list[int], ends: list[int]) -> list[int]:
    pads: list[int] = []
    for b, e in zip(reversed(begins), reversed(ends), strict=True):
        pads += [b, e]
    return pads


def _crop(y: torch.Tensor, begins: list[int], ends: list[int]) -> torch.Tensor:
    """Remove ``begins``/``ends`` from each spatial dim (negative values pad with zeros)."""
    if any(b < 0 or e < 0 for b, e in zip(begins, ends, strict=True)):
        y = F.pad(y, _torch_pads([max(-b, 0) for b in begins], [max(-e, 0) for e in ends]))
        begins, ends = [max(b, 0) for b in begins], [max(e, 0) for e in ends]
    for i, (b, e) in enumerate(zip(begins, ends, strict=True)):
        y = y.narrow(2 + i, b, y.shape[2 + i] - b - e)
    return y


class OnnxConv(nn.Module):
    """Convolution, transposed convolution or deformable convolution with ONNX's padding rules
    (explicit and asymmetric pads, SAME_UPPER/LOWER, VALID; ConvTranspose's ``output_shape`` and
    ``output_padding``), groups and dilations; weights, offsets and masks may be run-time inputs.

    onnx2torch's Conv and ConvTranspose require the weights to be initializers (they become
    ``nn.Conv*d`` parameters), so a weight computed in the graph or fed as an input fails; it
    has no DeformConv and no version 22 of the others. Weights that are initializers still go
    through onnx2torch's modules.
    """

    def __init__(self, kind: str, attrs: dict[str, Any]) -> None:
        super().__init__()
        self.kind = kind
        self.kernel = attrs.get("kernel_shape")
        self.strides = attrs.get("strides")
        self.dilations = attrs.get("dilations")
        self.pads = attrs.get("pads")
        self.auto_pad = str(attrs.get("auto_pad", "NOTSET"))
        self.group = int(attrs.get("group", 1))
        self.output_padding = attrs.get("output_padding")
        self.output_shape = attrs.get("output_shape")
        self.offset_group = int(attrs.get("offset_group", 1))

    def _geometry(self, x: torch.Tensor, w: torch.Tensor) -> tuple[list[int], list[int], list[int], list[int]]:
        dims = x.dim() - 2
        kernel = list(self.kernel or w.shape[2:])
        strides = list(self.strides or [1] * dims)
        dilations = list(self.dilations or [1] * dims)
        return kernel, strides, dilations, list(self.pads or [0] * 2 * dims)

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        in2: torch.Tensor | None = None,
        in3: torch.Tensor | None = None,
        in4: torch.Tensor | None = None,
    ) -> torch.Tensor:
        # inputs 2-4: bias (Conv, ConvTranspose) or offset, bias, mask (DeformConv)
        rest = (in2, in3, in4)
        if self.kind == "transpose":
            return self._transpose(x, w, in2)
        dims = x.dim() - 2
        kernel, strides, dilations, pads = self._geometry(x, w)
        spatial = list(x.shape[2:])
        if self.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            begins, ends = _same_pads(spatial, kernel, strides, dilations, self.auto_pad == "SAME_UPPER")
        elif self.auto_pad == "VALID":
            begins, ends = [0] * dims, [0] * dims
        else:
            begins, ends = pads[:dims], pads[dims:]
        if self.kind == "deform":
            return self._deform(x, w, rest, strides, dilations, begins, ends)
        bias = in2
        if begins == ends:
            return _CONV[dims](x, w, bias, strides, begins, dilations, self.group)
        x = F.pad(x, _torch_pads(begins, ends))
        return _CONV[dims](x, w, bias, strides, 0, dilations, self.group)

    def _transpose(self, x: torch.Tensor, w: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        dims = x.dim() - 2
        kernel, strides, dilations, pads = self._geometry(x, w)
        output_padding = list(self.output_padding or [0] * dims)
        spatial = list(x.shape[2:])
        full = [
            s * (n - 1) + op + (k - 1) * d + 1
            for s, n, op, k, d in zip(strides, spatial, output_padding, kernel, dilations, strict=True)
        ]
        if self.output_shape is not None or self.auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            wanted = (
                list(self.output_shape)[-dims:]
                if self.output_shape is not None
                else [n * s for n, s in zip(spatial, strides, strict=True)]
            )
            totals = [f - o for f, o in zip(full, wanted, strict=True)]
            if self.auto_pad == "SAME_UPPER":
                begins, ends = [t // 2 for t in totals], [t - t // 2 for t in totals]
            else:
                begins, ends = [t - t // 2 for t in totals], [t // 2 for t in totals]
        elif self.auto_pad == "VALID":
            begins, ends = [0] * dims, [0] * dims
        else:
            begins, ends = pads[:dims], pads[dims:]
        y = _CONV_T[dims](x, w, None, strides, 0, 0, self.group, dilations)
        if any(output_padding):
            y = F.pad(y, _torch_pads([0] * dims, output_padding))
        y = _crop(y, begins, ends)
        if bias is not None:
            y = y + bias.reshape(1, -1, *([1] * dims))
        return y

    def _deform(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        rest: tuple[Any, ...],
        strides: list[int],
        dilations: list[int],
        begins: list[int],
        ends: list[int],
    ) -> torch.Tensor:
        from torchvision.ops import deform_conv2d

        if x.dim() != 4:
            raise NotImplementedError("DeformConv with other than 2 spatial dims")
        offset, bias, mask = rest
        if begins != ends:
            x = F.pad(x, _torch_pads(begins, ends))
            begins = [0, 0]
        return deform_conv2d(x, offset, w, bias, tuple(strides), tuple(begins), tuple(dilations), mask)


def _onnx2torch(node: Any, graph: Any) -> Any:
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription

    key = OperationDescription(domain="", operation_type=node.operation_type, version=11)
    return _CONVERTER_REGISTRY[key](node, graph)


def _convert(node: Any, graph: Any) -> Any:
    op = node.operation_type
    weights_fixed = len(node.input_values) > 1 and node.input_values[1] in graph.initializers
    bias_fixed = len(node.input_values) < 3 or not node.input_values[2] or node.input_values[2] in graph.initializers
    # onnx2torch's ConvTranspose ignores output_shape: those go to OnnxConv
    sized = op == "ConvTranspose" and "output_shape" in attributes(node)
    if (
        op in ("Conv", "ConvTranspose")
        and weights_fixed
        and bias_fixed
        and not sized
        and input_shape(node, graph, 0) is not None
    ):
        try:
            return _onnx2torch(node, graph)
        except NotImplementedError:
            pass
    kind = {"Conv": "conv", "ConvTranspose": "transpose", "DeformConv": "deform"}[op]
    return result(OnnxConv(kind, attributes(node)), node)


OP = CustomOp.define(
    OnnxConv, name="Conv/ConvTranspose/DeformConv", torch=converters(("Conv", "ConvTranspose", "DeformConv"), _convert)
)
