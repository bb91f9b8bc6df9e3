"""Gather, GatherElements and GatherND against ONNX Runtime: negative indices, batch_dims; export."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import assert_exports_with_dynamic_batch, floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("indices", [np.array(1), np.array(-1), np.array([0, -2, 1]), np.array([[0, 1], [-1, 2]])])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("constant", [True, False])
def test_gather(rng: np.random.Generator, indices: np.ndarray, axis: int, constant: bool) -> None:
    model, feeds = node_model(
        "Gather", [("x", floats(rng, 3, 4, 5), False), ("i", indices.astype(np.int64), constant)], axis=axis
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_gather_elements(rng: np.random.Generator, axis: int) -> None:
    x = floats(rng, 3, 4)
    indices = rng.integers(-x.shape[axis], x.shape[axis], (2, 4) if axis == 0 else (3, 3)).astype(np.int64)
    model, feeds = node_model("GatherElements", [("x", x, False), ("i", indices, False)], axis=axis)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize(
    ("batch_dims", "indices"),
    [
        (0, np.array([[0, 1], [1, -1]])),
        (0, np.array([[1], [0]])),
        (1, np.array([[1], [0]])),
        (1, np.array([[[0, 1]], [[1, 0]]])),
    ],
)
def test_gather_nd(rng: np.random.Generator, batch_dims: int, indices: np.ndarray) -> None:
    model, feeds = node_model(
        "GatherND", [("x", floats(rng, 2, 2, 3), False), ("i", indices.astype(np.int64), False)], batch_dims=batch_dims
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("indices", [np.array(2), np.array([3, 0, -1])])
def test_exports_with_dynamic_batch(rng: np.random.Generator, indices: np.ndarray) -> None:
    model, feeds = node_model(
        "Gather", [("x", floats(rng, 2, 4, 3), False), ("i", indices.astype(np.int64), True)], axis=1
    )
    assert_exports_with_dynamic_batch(model, feeds)
