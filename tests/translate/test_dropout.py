"""Regularisation layers: identity at inference (as in TensorFlow), kept and active in .train()."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.Dropout(0.5), (6,)),
        (lambda: L.Dropout(0.5, noise_shape=(None, 1, 1, 1)), (3, 3, 2)),
        (lambda: L.SpatialDropout2D(0.5), (4, 4, 3)),
        (lambda: L.SpatialDropout1D(0.5), (4, 3)),
        (lambda: L.GaussianNoise(0.3), (5,)),
        (lambda: L.GaussianDropout(0.3), (5,)),
        (lambda: L.AlphaDropout(0.3), (5,)),
    ],
)
def test_regularisation_is_identity_at_inference_and_active_in_training(layer, shape, rng) -> None:
    result = check(one_layer(layer(), shape), rng)
    module = result.module.train()
    x = torch.ones(64, *shape)
    assert not torch.equal(module(x), x)  # the noise is there in training


def test_dropout_keeps_its_rate(rng: np.random.Generator) -> None:
    result = check(one_layer(L.Dropout(0.25, name="drop"), (8,)), rng)
    assert isinstance(result.module.drop, torch.nn.Dropout) and result.module.drop.p == 0.25
