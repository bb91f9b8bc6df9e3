"""TfIdfVectorizer over integer tokens against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort

POOL = [2, 3, 5, 4, 5, 6, 7, 8, 6, 7]  # unigrams 2 3 5 4, bigrams (5 6) (7 8) (6 7)
COUNTS = [0, 4]
INDEXES = [0, 1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("mode", ["TF", "IDF", "TFIDF"])
@pytest.mark.parametrize(("min_n", "max_n"), [(1, 1), (2, 2), (1, 2)])
@pytest.mark.parametrize("max_skip", [0, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(12,), (2, 6)])
def test_tfidf(mode: str, min_n: int, max_n: int, max_skip: int, weighted: bool, shape: tuple) -> None:
    x = np.array([1, 1, 3, 3, 3, 7, 8, 6, 7, 5, 6, 8], np.int32).reshape(shape)
    attrs = dict(
        mode=mode,
        min_gram_length=min_n,
        max_gram_length=max_n,
        max_skip_count=max_skip,
        ngram_counts=COUNTS,
        ngram_indexes=INDEXES,
        pool_int64s=POOL,
    )
    if weighted:
        attrs["weights"] = [0.5, 1.0, 2.0, 1.5, 0.25, 3.0, 1.0]
    model, feeds = node_model("TfIdfVectorizer", [("x", x, False)], output_type=TensorProto.FLOAT, **attrs)
    assert_matches_ort(model, feeds)
