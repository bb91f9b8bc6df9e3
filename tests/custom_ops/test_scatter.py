"""ScatterElements, Scatter, ScatterND and TensorScatter against ONNX Runtime, with reductions."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_scatter_elements(rng: np.random.Generator, reduction: str, axis: int) -> None:
    data = floats(rng, 3, 4)
    n = data.shape[axis]
    # distinct indices per slice for "none" (ONNX leaves duplicates undefined)
    indices = np.stack([rng.permutation(n)[:2] - (n if i % 2 else 0) for i in range(4 if axis == 0 else 3)])
    indices = indices.T if axis == 0 else indices
    updates = floats(rng, *indices.shape)
    model, feeds = node_model(
        "ScatterElements",
        [("d", data, False), ("i", indices.astype(np.int64), False), ("u", updates, False)],
        opset=18,
        axis=axis,
        reduction=reduction,
    )
    assert_matches_ort(model, feeds)


def test_scatter_9(rng: np.random.Generator) -> None:
    indices = np.array([[1, 0, 2], [0, 2, 1]], np.int64)
    model, feeds = node_model(
        "Scatter", [("d", floats(rng, 3, 3), False), ("i", indices, False), ("u", floats(rng, 2, 3), False)], opset=9
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("depth", [1, 2])
def test_scatter_nd(rng: np.random.Generator, reduction: str, depth: int) -> None:
    data = floats(rng, 4, 3, 2)
    indices = np.array([[0, 1], [2, -1], [3, 0]], np.int64)[:, :depth]
    if depth == 1:
        indices = np.array([[0], [2], [-1]], np.int64)
    updates = floats(rng, 3, *data.shape[depth:])
    model, feeds = node_model(
        "ScatterND", [("d", data, False), ("i", indices, False), ("u", updates, False)], opset=18, reduction=reduction
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("mode", ["linear", "circular"])
def test_tensor_scatter(rng: np.random.Generator, mode: str) -> None:
    cache, update = floats(rng, 2, 3, 5, 4), floats(rng, 2, 3, 2, 4)
    write = np.array([1, 4 if mode == "circular" else 3], np.int64)
    model, feeds = node_model(
        "TensorScatter", [("c", cache, False), ("u", update, False), ("w", write, False)], opset=24, mode=mode
    )
    assert_matches_ort(model, feeds)
