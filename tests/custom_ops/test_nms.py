"""NonMaxSuppression against ONNX Runtime, flipped corners and centre boxes included."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("center", [0, 1])
@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("score_threshold", [None, 0.3])
def test_nms(rng: np.random.Generator, center: int, flip: bool, score_threshold: float | None) -> None:
    corners = rng.uniform(0, 10, (2, 8, 2)).astype(np.float32)
    sizes = rng.uniform(1, 4, (2, 8, 2)).astype(np.float32)
    if center:
        boxes = np.concatenate([corners, sizes], axis=-1)
    else:
        boxes = np.concatenate([corners, corners + sizes], axis=-1)
        if flip:
            boxes = boxes[..., [2, 3, 0, 1]]
    scores = rng.uniform(0, 1, (2, 3, 8)).astype(np.float32)
    threshold = None if score_threshold is None else np.array([score_threshold], np.float32)
    model, feeds = node_model(
        "NonMaxSuppression",
        [
            ("b", boxes, False),
            ("s", scores, False),
            ("m", np.array([3], np.int64), True),
            ("iou", np.array([0.3], np.float32), True),
            ("st", threshold, True),
        ],
        output_type=TensorProto.INT64,
        center_point_box=center,
    )
    assert_matches_ort(model, feeds)
