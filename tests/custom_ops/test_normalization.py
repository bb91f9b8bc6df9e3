"""Layer, RMS, Group, MeanVariance and Lp normalization against ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest

from tests.custom_ops.node_cases import TensorProto, floats, node_model
from tests.onnx_checks import assert_matches_ort

F = TensorProto.FLOAT


@pytest.mark.parametrize("axis", [-1, 1, 2])
@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm(rng: np.random.Generator, axis: int, outputs: int, bias: bool) -> None:
    x = floats(rng, 2, 3, 4)
    norm_shape = x.shape[axis:]
    inputs = [
        ("x", x, False),
        ("scale", floats(rng, *norm_shape), True),
        ("bias", floats(rng, *norm_shape) if bias else None, True),
    ]
    names = [("y", F), ("mean", F), ("inv_std", F)][:outputs]
    model, feeds = node_model("LayerNormalization", inputs, outputs=names, opset=17, axis=axis, epsilon=1e-3)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("axis", [-1, 1])
def test_rms_norm(rng: np.random.Generator, axis: int) -> None:
    x = floats(rng, 2, 3, 4)
    model, feeds = node_model(
        "RMSNormalization", [("x", x, False), ("scale", floats(rng, *x.shape[axis:]), False)], opset=23, axis=axis
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_group_norm(rng: np.random.Generator, groups: int) -> None:
    x = floats(rng, 2, 4, 3, 3)
    model, feeds = node_model(
        "GroupNormalization",
        [("x", x, False), ("scale", floats(rng, 4), True), ("bias", floats(rng, 4), True)],
        opset=21,
        num_groups=groups,
    )
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("axes", [None, [0, 2, 3], [1]])
def test_mean_variance(rng: np.random.Generator, axes: list[int] | None) -> None:
    attrs = {} if axes is None else {"axes": axes}
    model, feeds = node_model("MeanVarianceNormalization", [("x", floats(rng, 2, 3, 4, 5), False)], opset=13, **attrs)
    assert_matches_ort(model, feeds)


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("axis", [0, -1])
def test_lp_normalization(rng: np.random.Generator, p: int, axis: int) -> None:
    model, feeds = node_model("LpNormalization", [("x", floats(rng, 3, 4), False)], opset=22, p=p, axis=axis)
    assert_matches_ort(model, feeds)
