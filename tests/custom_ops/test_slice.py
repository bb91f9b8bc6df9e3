"""Slice against ONNX Runtime: negative starts/ends/steps, clamping, omitted axes/steps; export; no warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.custom_ops.node_cases import assert_exports_with_dynamic_batch, floats, node_model
from tests.onnx_checks import assert_matches_ort, run_torch

CASES = [
    ([0, 1], [2, 3], [0, 1], [1, 1]),
    ([1], [-1], [1], None),
    ([-1], [-100], [2], [-1]),
    ([4], [0], [1], [-2]),
    ([0, 0], [1000, 1000], None, None),
    ([-3], [2**63 - 1], [-1], [2]),
    ([3, 0], [0, 2], [2, 0], [-1, 1]),
]


@pytest.mark.parametrize(("starts", "ends", "axes", "steps"), CASES)
@pytest.mark.parametrize("constant", [True, False])
def test_slice(
    rng: np.random.Generator, starts: list, ends: list, axes: list | None, steps: list | None, constant: bool
) -> None:
    def ints(v: list | None) -> np.ndarray | None:
        return None if v is None else np.array(v, np.int64)

    model, feeds = node_model(
        "Slice",
        [
            ("x", floats(rng, 3, 5, 6), False),
            ("starts", ints(starts), constant),
            ("ends", ints(ends), constant),
            ("axes", ints(axes), constant),
            ("steps", ints(steps), constant),
        ],
        opset=13,
    )
    assert_matches_ort(model, feeds)


def test_slice_1_attributes(rng: np.random.Generator) -> None:
    model, feeds = node_model(
        "Slice", [("x", floats(rng, 4, 5), False)], opset=1, starts=[1, -3], ends=[3, 100], axes=[0, 1]
    )
    assert_matches_ort(model, feeds)


def test_no_list_indexing_warning(rng: np.random.Generator) -> None:
    model, feeds = node_model(
        "Slice",
        [("x", floats(rng, 3, 4), False), ("s", np.array([1], np.int64), True), ("e", np.array([3], np.int64), True)],
        opset=13,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_torch(model, feeds)


def test_exports_with_dynamic_batch(rng: np.random.Generator) -> None:
    model, feeds = node_model(
        "Slice",
        [
            ("x", floats(rng, 2, 5, 6), False),
            ("s", np.array([1, -1], np.int64), True),
            ("e", np.array([4, 0], np.int64), True),
            ("a", np.array([1, 2], np.int64), True),
            ("t", np.array([2, -2], np.int64), True),
        ],
        opset=13,
    )
    assert_exports_with_dynamic_batch(model, feeds)
