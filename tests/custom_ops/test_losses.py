"""SoftmaxCrossEntropyLoss and NegativeLogLikelihoodLoss against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("op", ["SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore_index", [None, 1])
@pytest.mark.parametrize("shape", [(3, 5), (2, 4, 3)])
def test_loss(
    rng: np.random.Generator, op: str, reduction: str, weighted: bool, ignore_index: int | None, shape: tuple
) -> None:
    scores = floats(rng, *shape)
    target = rng.integers(0, shape[1], (shape[0], *shape[2:])).astype(np.int64)
    weight = rng.uniform(0.5, 2.0, shape[1]).astype(np.float32) if weighted else None
    attrs = {"reduction": reduction} | ({} if ignore_index is None else {"ignore_index": ignore_index})
    outputs = [("loss", TensorProto.FLOAT)] + ([("log_prob", TensorProto.FLOAT)] if op.startswith("Softmax") else [])
    model, feeds = node_model(
        op, [("x", scores, False), ("t", target, False), ("w", weight, False)], outputs=outputs, **attrs
    )
    assert_matches_ort(model, feeds)
