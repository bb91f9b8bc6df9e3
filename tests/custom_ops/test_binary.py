"""Element-wise binary ops against ONNX Runtime, unsigned integer types and broadcasting included."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort

ARITHMETIC = ["Add", "Sub", "Mul", "Div", "Max", "Min"]
COMPARISON = ["Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual"]
UNSIGNED = [np.uint16, np.uint32, np.uint64]


def _pair(rng: np.random.Generator, dtype: type, shapes: tuple[tuple[int, ...], tuple[int, ...]]) -> tuple:
    a = rng.integers(1, 60, shapes[0]).astype(dtype)
    b = rng.integers(1, 60, shapes[1]).astype(dtype)
    return a, b


# ONNX Runtime itself has no uint16 Max/Min kernel
ARITHMETIC_CASES = [
    (op, dtype)
    for op in ARITHMETIC
    for dtype in [*UNSIGNED, np.int32, np.float32]
    if not (op in ("Max", "Min") and dtype == np.uint16)
]


@pytest.mark.parametrize(("op", "dtype"), ARITHMETIC_CASES)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,))])
def test_arithmetic(rng: np.random.Generator, op: str, dtype: type, shapes: tuple) -> None:
    a, b = _pair(rng, dtype, shapes)
    if op == "Sub" and dtype in UNSIGNED:
        a = a + np.asarray(60, dtype)  # stay non-negative
    model, feeds = node_model(op, [("a", a, False), ("b", b, False)])
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("op", COMPARISON)
@pytest.mark.parametrize("dtype", [*UNSIGNED, np.int64, np.float32])
def test_comparisons(rng: np.random.Generator, op: str, dtype: type) -> None:
    a, b = _pair(rng, dtype, ((4, 5), (5,)))
    model, feeds = node_model(op, [("a", a, False), ("b", b, False)], output_type=TensorProto.BOOL)
    assert_matches_ort(model, feeds)


def test_uint64_order_above_int64_range() -> None:
    a = np.array([2**63 + 5, 3, 2**64 - 1], dtype=np.uint64)
    b = np.array([4, 2**63, 2**64 - 2], dtype=np.uint64)
    for op in ("Greater", "Less"):
        model, feeds = node_model(op, [("a", a, False), ("b", b, False)], output_type=TensorProto.BOOL)
        assert_matches_ort(model, feeds)
    model, feeds = node_model("Max", [("a", a, False), ("b", b, False)])
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize(
    ("base", "exponent"),
    [(np.int32, np.float32), (np.int64, np.int64), (np.float32, np.int32), (np.float32, np.float32)],
)
def test_pow_keeps_the_base_type(rng: np.random.Generator, base: type, exponent: type) -> None:
    a = rng.integers(1, 5, (3, 4)).astype(base)
    b = rng.integers(0, 4, (3, 4)).astype(exponent)
    model, feeds = node_model("Pow", [("a", a, False), ("b", b, False)])
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.uint64, np.int32])
def test_bitwise(rng: np.random.Generator, op: str, dtype: type) -> None:
    a, b = _pair(rng, dtype, ((3, 4), (3, 4)))
    model, feeds = node_model(op, [("a", a, False), ("b", b, False)])
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("dtype", [np.uint16, np.int8, np.int64])
def test_bitwise_not(rng: np.random.Generator, dtype: type) -> None:
    model, feeds = node_model("BitwiseNot", [("a", rng.integers(0, 100, (5,)).astype(dtype), False)])
    assert_matches_ort(model, feeds)


def test_variadic_max(rng: np.random.Generator) -> None:
    xs = [rng.standard_normal(s).astype(np.float32) for s in ((3, 1), (1, 4), (4,))]
    model, feeds = node_model("Max", [(f"x{i}", x, False) for i, x in enumerate(xs)])
    assert_matches_ort(model, feeds)
