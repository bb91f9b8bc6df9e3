"""LayerNormalization, GroupNormalization and UnitNormalization against TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.translate import harness


def _model(shape: tuple[int, ...], body: Callable[[Any, Any], Any], tf_keras: bool = False) -> Callable:
    def build() -> tuple[Any, list[np.ndarray]]:
        import keras

        k = keras
        if tf_keras:
            import tf_keras as k
        inp = k.Input(shape[1:])
        data = np.random.default_rng(1).normal(1.0, 2.0, size=shape).astype("float32")
        return harness.randomize(k.Model(inp, body(k.layers, inp))), [data]

    return build


CASES = {
    "layer_norm_last": _model((3, 5, 6), lambda L, x: L.LayerNormalization()(x)),
    "layer_norm_eps_no_center": _model((3, 6), lambda L, x: L.LayerNormalization(epsilon=1e-6, center=False)(x)),
    "layer_norm_no_scale": _model((3, 5, 6), lambda L, x: L.LayerNormalization(scale=False)(x)),
    "layer_norm_trailing_axes": _model((3, 4, 5, 6), lambda L, x: L.LayerNormalization(axis=[-2, -1])(x)),
    "layer_norm_inner_axis": _model((3, 4, 5), lambda L, x: L.LayerNormalization(axis=1)(x)),
    "layer_norm_after_conv": _model((2, 6, 6, 3), lambda L, x: L.LayerNormalization()(L.Conv2D(4, 3)(x))),
    "group_norm_conv": _model((2, 6, 6, 3), lambda L, x: L.GroupNormalization(groups=2)(L.Conv2D(4, 3)(x))),
    "group_norm_sequence": _model((3, 5, 6), lambda L, x: L.GroupNormalization(groups=3, epsilon=1e-5)(x)),
    "group_norm_instance": _model((3, 6), lambda L, x: L.GroupNormalization(groups=-1)(x)),
    "unit_norm": _model((3, 6), lambda L, x: L.UnitNormalization()(x)),
    "unit_norm_axes": _model((3, 4, 5), lambda L, x: L.UnitNormalization(axis=[1, 2])(x)),
    "unit_norm_after_conv": _model((2, 6, 6, 3), lambda L, x: L.UnitNormalization()(L.Conv2D(4, 3)(x))),
    "tf_keras_layer_norm": _model((3, 5, 6), lambda L, x: L.LayerNormalization(axis=[1, 2])(x), tf_keras=True),
}


translated, test_normalization = harness.family_tests(__name__, CASES)
