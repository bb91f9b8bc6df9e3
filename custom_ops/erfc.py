"""Erfc (complementary error function): TensorFlow op, ONNX custom-domain op, torch module.

The TensorFlow worker imports this file for its handler: torch is imported only when the torch
module is built (:func:`torch_module`), never at import.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from custom_ops.base import DOMAIN, CustomOp, TfHandler, TorchConverter, mapping

OP_TYPE = "Erfc"


@cache
def torch_module() -> type:
    """``erfc(x) = 1 - erf(x)``, computed directly (no cancellation for large ``x``).

    TensorFlow has an ``Erfc`` op, which Keras 3's exact GELU uses (ConvNeXt); tf2onnx has no
    conversion for it and ONNX no such op. It travels as ``ai.keras2torch::Erfc``, with an ONNX
    function (``1 - Erf(x)``) as ONNX Runtime's reference.
    """
    import torch
    from torch import nn

    class OnnxErfc(nn.Module):
        """``erfc(x)`` with ``torch.special.erfc``."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.special.erfc(x)

    return OnnxErfc


def tf_handler(ctx: Any, node: Any, name: str, args: Any) -> None:
    """tf2onnx: the TF node becomes our custom-domain node; ``to`` carries its element type."""
    node.type = OP_TYPE
    node.domain = DOMAIN
    node.set_attr("to", ctx.get_dtype(node.input[0]))


def onnx_function(opset: int) -> Any:
    """``Y = Cast(1, to) - Erf(X)``: standard ops only, valid at every opset from 13."""
    from onnx import AttributeProto, TensorProto, helper

    one = helper.make_node("Constant", [], ["one_f"], value=helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]))
    cast = helper.make_node("Cast", ["one_f"], ["one"])
    cast.attribute.append(AttributeProto(name="to", ref_attr_name="to", type=AttributeProto.INT))
    nodes = [one, cast, helper.make_node("Erf", ["X"], ["E"]), helper.make_node("Sub", ["one", "E"], ["Y"])]
    return helper.make_function(
        DOMAIN, OP_TYPE, ["X"], ["Y"], nodes, [helper.make_opsetid("", opset)], attributes=["to"]
    )


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OperationConverterResult

    return OperationConverterResult(torch_module=torch_module()(), onnx_mapping=mapping(node, (0,)))


OP = CustomOp.define(
    torch_module,
    name=OP_TYPE,
    tf=(TfHandler(("Erfc",), tf_handler),),
    torch=(TorchConverter(OP_TYPE, (1,), _convert, domain=DOMAIN),),
    onnx_function=onnx_function,
)
