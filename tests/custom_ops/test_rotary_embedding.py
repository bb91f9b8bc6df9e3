"""RotaryEmbedding (opset 23) against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rotary_dim", [0, 4])
@pytest.mark.parametrize("rank", [3, 4])
@pytest.mark.parametrize("with_positions", [True, False])
def test_rotary(rng: np.random.Generator, interleaved: int, rotary_dim: int, rank: int, with_positions: bool) -> None:
    batch, seq, heads, head = 2, 3, 2, 8
    x = floats(rng, batch, heads, seq, head) if rank == 4 else floats(rng, batch, seq, heads * head)
    half = (rotary_dim or head) // 2
    if with_positions:
        cos, sin = floats(rng, 10, half), floats(rng, 10, half)
        positions = rng.integers(0, 10, (batch, seq)).astype(np.int64)
    else:
        cos, sin, positions = floats(rng, batch, seq, half), floats(rng, batch, seq, half), None
    attrs = {"interleaved": interleaved, "rotary_embedding_dim": rotary_dim}
    if rank == 3:
        attrs["num_heads"] = heads
    model, feeds = node_model(
        "RotaryEmbedding",
        [("x", x, False), ("cos", cos, False), ("sin", sin, False), ("pos", positions, False)],
        opset=23,
        **attrs,
    )
    assert_matches_ort(model, feeds)
