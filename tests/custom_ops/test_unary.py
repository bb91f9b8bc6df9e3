"""Element-wise unary math ops against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort

DOMAINS = {
    "Acos": (-0.9, 0.9),
    "Acosh": (1.1, 4.0),
    "Asin": (-0.9, 0.9),
    "Asinh": (-3.0, 3.0),
    "Atan": (-3.0, 3.0),
    "Atanh": (-0.9, 0.9),
    "Cos": (-3.0, 3.0),
    "Cosh": (-3.0, 3.0),
    "Sin": (-3.0, 3.0),
    "Sinh": (-3.0, 3.0),
    "Tan": (-1.2, 1.2),
}


@pytest.mark.parametrize("op", sorted(DOMAINS))
@pytest.mark.parametrize("opset", [9, 22])
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4)])
def test_trigonometric(rng: np.random.Generator, op: str, opset: int, shape: tuple[int, ...]) -> None:
    low, high = DOMAINS[op]
    model, feeds = node_model(op, [("x", rng.uniform(low, high, shape).astype(np.float32), False)], opset=opset)
    assert_matches_ort(model, feeds)


def test_round_halves_to_even() -> None:
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4, 2.6], dtype=np.float32)
    model, feeds = node_model("Round", [("x", x, False)], opset=22)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize(("negative", "positive"), [(1, 1), (0, 1), (1, 0), (0, 0)])
def test_isinf_directions(negative: int, positive: int) -> None:
    x = np.array([-np.inf, -1.0, 0.0, np.nan, 2.0, np.inf], dtype=np.float32)
    model, feeds = node_model(
        "IsInf", [("x", x, False)], output_type=TensorProto.BOOL, detect_negative=negative, detect_positive=positive
    )
    assert_matches_ort(model, feeds)


def test_isnan() -> None:
    x = np.array([-np.inf, np.nan, 0.0, 1.0], dtype=np.float32)
    model, feeds = node_model("IsNaN", [("x", x, False)], output_type=TensorProto.BOOL)
    assert_matches_ort(model, feeds)
