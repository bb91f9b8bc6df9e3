"""Dropout at inference against ONNX Runtime: identity and an all-true mask, whatever the seed."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("opset", [12, 13, 22])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize("ratio", [None, 0.3])
def test_dropout_is_identity(rng: np.random.Generator, opset: int, with_mask: bool, ratio: float | None) -> None:
    outputs = [("y", TensorProto.FLOAT)] + ([("mask", TensorProto.BOOL)] if with_mask else [])
    ratio_value = None if ratio is None else np.array(ratio, np.float32)
    model, feeds = node_model(
        "Dropout",
        [("x", floats(rng, 3, 4), False), ("ratio", ratio_value, True)],
        outputs=outputs,
        opset=opset,
        seed=7,
    )
    assert_matches_ort(model, feeds)


def test_training_mode_fed_at_run_time_off(rng: np.random.Generator) -> None:
    model, feeds = node_model(
        "Dropout",
        [
            ("x", floats(rng, 3, 4), False),
            ("ratio", np.array(0.5, np.float32), False),
            ("training_mode", np.array(False), False),
        ],
        outputs=[("y", TensorProto.FLOAT), ("mask", TensorProto.BOOL)],
        opset=13,
    )
    assert_matches_ort(model, feeds)
