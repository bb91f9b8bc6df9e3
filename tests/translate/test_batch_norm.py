"""BatchNormalization against TensorFlow: running statistics, momentum 1 - m, epsilon, scale/center."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("kwargs", "shape"),
    [
        ({}, (5, 5, 3)),
        ({"scale": False}, (5, 5, 3)),
        ({"center": False, "epsilon": 1e-5}, (7, 3)),
        ({"scale": False, "center": False}, (4,)),
        ({"momentum": 0.9}, (3, 3, 3, 2)),
    ],
)
def test_batch_norm_matches_tensorflow(kwargs, shape, rng: np.random.Generator) -> None:
    check(one_layer(L.BatchNormalization(**kwargs), shape), rng)


def test_batch_norm_keeps_running_statistics_and_torch_momentum(rng: np.random.Generator) -> None:
    model = one_layer(L.BatchNormalization(momentum=0.9, epsilon=1e-4, name="bn"), (4, 4, 3))
    result = check(model, rng)
    bn = result.module.bn
    assert isinstance(bn, torch.nn.BatchNorm2d)
    assert bn.momentum == pytest.approx(0.1) and bn.eps == pytest.approx(1e-4)
    np.testing.assert_array_equal(bn.running_mean.numpy(), model.get_layer("bn").moving_mean.numpy())
    assert result.code.weight_map["bn.running_var"].endswith("bn/moving_variance")
    assert {"bn.running_mean", "bn.running_var"} <= result.code.buffers
