"""ONNX LSTM (all directions and layouts, sequence_lens, initial states) as a torch module."""

from __future__ import annotations

from typing import Any

from custom_ops._recurrent import converter
from custom_ops.base import CustomOp, TorchConverter

_convert = converter("LSTM")


def convert_lstm(node: Any, graph: Any) -> Any:
    """ONNX LSTM as ``nn.LSTM`` holding the node's weights when it fits, else the operator's equations.

    onnx2torch has no converter for LSTM; tf2onnx emits it for TensorFlow/Keras lstm layers. Covers
    forward, reverse and bidirectional, both layouts, peepholes, ``input_forget``, every activation, ``clip``,
    per-example ``sequence_lens`` and initial states (custom_ops/_recurrent.py).
    """
    return _convert(node, graph)


OP = CustomOp.define(convert_lstm, name="LSTM", torch=(TorchConverter("LSTM", (7, 14, 22), convert_lstm),))
