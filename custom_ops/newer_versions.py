"""onnx2torch's own converters, registered for newer versions of ops whose meaning did not change."""

from __future__ import annotations

from typing import Any

from custom_ops.base import CustomOp, TorchConverter
from custom_ops.common import versions_of

# op type, the onnx2torch version whose converter applies, what the newer versions changed
BRIDGED: tuple[tuple[str, int, str], ...] = (
    ("EyeLike", 9, "22: bfloat16 outputs"),
    ("InstanceNormalization", 6, "22: bfloat16 inputs"),
    ("RoiAlign", 16, "22: bfloat16 inputs"),
    ("Identity", 16, "19-25: float8, int4, float4 and other new element types"),
    ("Transpose", 13, "21-25: new element types"),
)


def bridge(op_type: str, version: int) -> Any:
    """onnx2torch's own converters, reused for the newer versions of ops that only added element types.

    onnx2torch matches converters by the op's exact ``since_version``, so an op whose newer
    versions only widened the accepted element types (opsets 19-25) has no converter there.
    """

    def convert(node: Any, graph: Any) -> Any:
        # imported here: custom_ops is also imported by the TensorFlow worker, which must not load torchvision
        from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription

        key = OperationDescription(domain="", operation_type=op_type, version=version)
        return _CONVERTER_REGISTRY[key](node, graph)

    convert.__name__ = f"onnx2torch_{op_type}_{version}"
    return convert


OP = CustomOp.define(
    bridge,
    name="newer versions of onnx2torch's ops",
    torch=tuple(
        TorchConverter(op, tuple(v for v in versions_of(op) if v > since), bridge(op, since))
        for op, since, _ in BRIDGED
    ),
)
