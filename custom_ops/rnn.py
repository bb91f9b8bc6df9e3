"""ONNX RNN (all directions and layouts, sequence_lens, initial states) as a torch module."""

from __future__ import annotations

from typing import Any

from custom_ops._recurrent import converter
from custom_ops.base import CustomOp, TorchConverter

_convert = converter("RNN")


def convert_rnn(node: Any, graph: Any) -> Any:
    """ONNX RNN as ``nn.RNN`` holding the node's weights when it fits, else the operator's equations.

    onnx2torch has no converter for RNN; tf2onnx emits it for TensorFlow/Keras rnn layers. Covers
    forward, reverse and bidirectional, both layouts, every activation, ``clip``,
    per-example ``sequence_lens`` and initial states (custom_ops/_recurrent.py).
    """
    return _convert(node, graph)


OP = CustomOp.define(convert_rnn, name="RNN", torch=(TorchConverter("RNN", (7, 14, 22), convert_rnn),))
