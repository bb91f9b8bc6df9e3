"""Window functions and MelWeightMatrix against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
@pytest.mark.parametrize("constant", [True, False])
def test_window(op: str, periodic: int, constant: bool) -> None:
    size = np.array(10, np.int32)
    model, feeds = node_model(op, [("n", size, constant)], output_type=TensorProto.FLOAT, periodic=periodic)
    assert_matches_ort(model, feeds)


def test_mel_weight_matrix() -> None:
    inputs = [
        ("bins", np.array(8, np.int64), False),
        ("dft", np.array(16, np.int64), False),
        ("rate", np.array(8192, np.int64), False),
        ("low", np.array(0, np.float32), False),
        ("high", np.array(4096, np.float32), False),
    ]
    model, feeds = node_model("MelWeightMatrix", inputs, output_type=TensorProto.FLOAT)
    assert_matches_ort(model, feeds)
