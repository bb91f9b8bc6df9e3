"""Binarizer and ArrayFeatureExtractor (ai.onnx.ml) against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort

ML = "ai.onnx.ml"


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_binarizer(rng: np.random.Generator, threshold: float) -> None:
    model, feeds = node_model("Binarizer", [("x", floats(rng, 3, 4), False)], opset=1, domain=ML, threshold=threshold)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5)])
def test_array_feature_extractor(rng: np.random.Generator, shape: tuple) -> None:
    model, feeds = node_model(
        "ArrayFeatureExtractor",
        [("x", floats(rng, *shape), False), ("i", np.array([2, 0], np.int64), False)],
        opset=1,
        domain=ML,
    )
    assert_matches_ort(model, feeds)
