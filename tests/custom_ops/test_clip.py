"""Clip against ONNX Runtime: constant, run-time and absent bounds, integer types."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize(("low", "high"), [(-0.5, 0.5), (None, 0.2), (0.0, None), (None, None)])
@pytest.mark.parametrize("constant", [True, False])
def test_float_bounds(rng: np.random.Generator, low: float | None, high: float | None, constant: bool) -> None:
    def bound(v: float | None) -> np.ndarray | None:
        return None if v is None else np.array(v, np.float32)

    model, feeds = node_model(
        "Clip", [("x", floats(rng, 3, 4), False), ("lo", bound(low), constant), ("hi", bound(high), constant)], opset=13
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8])
def test_integer(rng: np.random.Generator, dtype: type) -> None:
    x = rng.integers(0, 100, (5,)).astype(dtype)
    model, feeds = node_model(
        "Clip", [("x", x, False), ("lo", np.array(20, dtype), True), ("hi", np.array(70, dtype), False)], opset=13
    )
    assert_matches_ort(model, feeds)


def test_clip_6_attributes(rng: np.random.Generator) -> None:
    model, feeds = node_model("Clip", [("x", floats(rng, 3, 4), False)], opset=6, min=-0.1, max=0.3)
    assert_matches_ort(model, feeds)
