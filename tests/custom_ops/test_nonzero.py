"""NonZero against ONNX Runtime: one row per dimension."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)])
def test_nonzero(rng: np.random.Generator, shape: tuple) -> None:
    x = rng.integers(0, 2, shape).astype(np.float32)
    model, feeds = node_model("NonZero", [("x", x, False)], output_type=TensorProto.INT64)
    assert_matches_ort(model, feeds)
