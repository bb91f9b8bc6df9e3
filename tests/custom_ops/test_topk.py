"""TopK against ONNX Runtime: ties come out in index order."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("largest", [0, 1])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("constant_k", [True, False])
def test_topk_with_ties(rng: np.random.Generator, largest: int, axis: int, constant_k: bool) -> None:
    x = rng.integers(0, 4, (5, 6)).astype(np.float32)  # many ties
    k = np.array([3], np.int64)
    model, feeds = node_model(
        "TopK",
        [("x", x, False), ("k", k, constant_k)],
        outputs=[("values", TensorProto.FLOAT), ("indices", TensorProto.INT64)],
        opset=11,
        axis=axis,
        largest=largest,
    )
    assert_matches_ort(model, feeds)
