"""Trilu against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, 0, 2, -1, -7])
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 3)])
@pytest.mark.parametrize("constant_k", [True, False])
def test_trilu(rng: np.random.Generator, upper: int, k: int | None, shape: tuple, constant_k: bool) -> None:
    k_value = None if k is None else np.array(k, np.int64)
    model, feeds = node_model("Trilu", [("x", floats(rng, *shape), False), ("k", k_value, constant_k)], upper=upper)
    assert_matches_ort(model, feeds)
