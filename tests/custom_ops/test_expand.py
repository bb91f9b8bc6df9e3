"""Expand against ONNX Runtime (numpy broadcasting both ways); export."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import assert_exports_with_dynamic_batch, floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize(
    ("shape", "target"), [((3, 1), [3, 4]), ((3, 1), [2, 1, 6]), ((1, 4), [1]), ((2, 1, 3), [4, 1])]
)
@pytest.mark.parametrize("constant", [True, False])
def test_expand(rng: np.random.Generator, shape: tuple, target: list[int], constant: bool) -> None:
    model, feeds = node_model(
        "Expand", [("x", floats(rng, *shape), False), ("s", np.array(target, np.int64), constant)]
    )
    assert_matches_ort(model, feeds)


def test_exports_with_dynamic_batch(rng: np.random.Generator) -> None:
    model, feeds = node_model("Expand", [("x", floats(rng, 2, 1, 3), False), ("s", np.array([4, 1], np.int64), True)])
    assert_exports_with_dynamic_batch(model, feeds)
