"""Attention (opset 23) against ONNX Runtime: 3-D and 4-D, masks, causal, caches, GQA, softcap, scores."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort

F = TensorProto.FLOAT


@pytest.mark.parametrize(
    "attrs",
    [
        {},
        {"is_causal": 1},
        {"scale": 0.3},
        {"softcap": 2.0},
        {"qk_matmul_output_mode": 0},
        {"qk_matmul_output_mode": 3},
    ],
)
@pytest.mark.parametrize("kv_heads", [3, 1])
def test_4d(rng: np.random.Generator, attrs: dict[str, Any], kv_heads: int) -> None:
    q, k, v = floats(rng, 2, 3, 4, 8), floats(rng, 2, kv_heads, 6, 8), floats(rng, 2, kv_heads, 6, 5)
    outputs: list[tuple[str, int]] = [("y", F)]
    if "qk_matmul_output_mode" in attrs:
        outputs += [("", F), ("", F), ("qk", F)]
    model, feeds = node_model(
        "Attention", [("q", q, False), ("k", k, False), ("v", v, False)], outputs=outputs, opset=23, **attrs
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("mask_type", [np.float32, np.bool_])
@pytest.mark.parametrize("causal", [0, 1])
def test_masks_and_cache(rng: np.random.Generator, mask_type: type, causal: int) -> None:
    q, k, v = floats(rng, 1, 2, 3, 4), floats(rng, 1, 2, 3, 4), floats(rng, 1, 2, 3, 4)
    past_k, past_v = floats(rng, 1, 2, 2, 4), floats(rng, 1, 2, 2, 4)
    mask = rng.integers(0, 2, (3, 5)).astype(mask_type)
    mask[:, 0] = 1  # no fully masked row
    if mask_type == np.float32:
        mask = np.where(mask > 0, 0.0, -np.inf).astype(np.float32)
    model, feeds = node_model(
        "Attention",
        [
            ("q", q, False),
            ("k", k, False),
            ("v", v, False),
            ("mask", mask, False),
            ("pk", past_k, False),
            ("pv", past_v, False),
        ],
        outputs=[("y", F), ("present_k", F), ("present_v", F)],
        opset=23,
        is_causal=causal,
    )
    assert_matches_ort(model, feeds)


def test_3d_with_heads(rng: np.random.Generator) -> None:
    q, k, v = floats(rng, 2, 4, 12), floats(rng, 2, 5, 6), floats(rng, 2, 5, 6)
    model, feeds = node_model(
        "Attention", [("q", q, False), ("k", k, False), ("v", v, False)], opset=23, q_num_heads=4, kv_num_heads=2
    )
    assert_matches_ort(model, feeds)
