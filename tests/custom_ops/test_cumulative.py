"""CumSum and CumProd against ONNX Runtime: exclusive, reverse, integer types."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("op", ["CumSum", "CumProd"])
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_cumulative(rng: np.random.Generator, op: str, exclusive: int, reverse: int, axis: int, dtype: type) -> None:
    x = rng.integers(1, 4, (3, 4)).astype(dtype)
    opset = 26 if op == "CumProd" else 14
    model, feeds = node_model(
        op,
        [("x", x, False), ("axis", np.array(axis, np.int64), True)],
        opset=opset,
        exclusive=exclusive,
        reverse=reverse,
    )
    assert_matches_ort(model, feeds)
