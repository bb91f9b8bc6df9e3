"""Reduce* converters against ONNX Runtime: attribute axes (opset 13), input axes (opset 18), export."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import assert_exports_with_dynamic_batch, floats, node_model
from tests.onnx_checks import assert_matches_ort

OPS = [
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
]


def _data(rng: np.random.Generator, op: str, shape: tuple[int, ...]) -> np.ndarray:
    x = floats(rng, *shape)
    return np.abs(x) + 0.5 if op == "ReduceLogSum" else x


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("axes", [None, [1], [-1, 0], [0, 1, 2]])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_axes_as_input(rng: np.random.Generator, op: str, axes: list[int] | None, keepdims: int) -> None:
    x = _data(rng, op, (2, 3, 4))
    axes_value = None if axes is None else np.array(axes, dtype=np.int64)
    model, feeds = node_model(op, [("x", x, False), ("axes", axes_value, True)], opset=18, keepdims=keepdims)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("op", OPS)
def test_axes_as_attribute(rng: np.random.Generator, op: str) -> None:
    if op == "ReduceSum":  # ReduceSum took its axes as an input already at opset 13
        model, feeds = node_model(op, [("x", _data(rng, op, (3, 4, 5)), False)], opset=11, axes=[0, 2], keepdims=0)
    else:
        model, feeds = node_model(op, [("x", _data(rng, op, (3, 4, 5)), False)], opset=13, axes=[0, 2], keepdims=0)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMax", "ReduceSumSquare"])
def test_axes_fed_at_run_time_and_noop(rng: np.random.Generator, op: str) -> None:
    x = floats(rng, 2, 3, 4)
    model, feeds = node_model(op, [("x", x, False), ("axes", np.array([2, 0], np.int64), False)], opset=18)
    assert_matches_ort(model, feeds)
    empty = np.zeros((0,), np.int64)
    model, feeds = node_model(op, [("x", x, False), ("axes", empty, True)], opset=18, noop_with_empty_axes=1)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_integer_sum_keeps_dtype(rng: np.random.Generator, dtype: type) -> None:
    x = rng.integers(-5, 5, (3, 4)).astype(dtype)
    model, feeds = node_model("ReduceSum", [("x", x, False), ("axes", np.array([1], np.int64), True)], opset=13)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("op", ["ReduceMax", "ReduceMean", "ReduceSum"])
def test_exports_with_dynamic_batch(rng: np.random.Generator, op: str) -> None:
    model, feeds = node_model(op, [("x", floats(rng, 3, 4, 5), False), ("axes", np.array([-1], np.int64), True)])
    assert_exports_with_dynamic_batch(model, feeds)
