"""ONNX GRU (all directions and layouts, sequence_lens, initial states) as a torch module."""

from __future__ import annotations

from typing import Any

from custom_ops._recurrent import converter
from custom_ops.base import CustomOp, TorchConverter

_convert = converter("GRU")


def convert_gru(node: Any, graph: Any) -> Any:
    """ONNX GRU as ``nn.GRU`` holding the node's weights when it fits, else the operator's equations.

    onnx2torch has no converter for GRU; tf2onnx emits it for TensorFlow/Keras gru layers. Covers
    forward, reverse and bidirectional, both layouts, ``linear_before_reset`` both ways, every activation, ``clip``,
    per-example ``sequence_lens`` and initial states (custom_ops/_recurrent.py).
    """
    return _convert(node, graph)


OP = CustomOp.define(convert_gru, name="GRU", torch=(TorchConverter("GRU", (3, 7, 14, 22), convert_gru),))
