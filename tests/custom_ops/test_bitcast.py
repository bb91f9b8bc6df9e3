"""BitCast against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort

CASES = [
    (np.float32, TensorProto.INT32),
    (np.int64, TensorProto.DOUBLE),
    (np.uint16, TensorProto.INT16),
    (np.int8, TensorProto.UINT8),
]


@pytest.mark.parametrize(("source", "target"), CASES)
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_bitcast(rng: np.random.Generator, source: type, target: int, shape: tuple) -> None:
    x = (rng.standard_normal(shape) * 100).astype(source)
    model, feeds = node_model("BitCast", [("x", x, False)], opset=26, output_type=target, to=target)
    assert_matches_ort(model, feeds)
