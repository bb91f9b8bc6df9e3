"""Ids for an input read by a lookup layer: mostly keys of its vocabulary, some ids outside it.

Uniform ids over the span of a sparse vocabulary (keys 3, 12, 40, ...) almost never hit a key,
so a lookup would be validated on its out-of-vocabulary branch alone. Three in four values are
drawn from the layer's keys (:attr:`pipeline.context.TensorSpec.known_values`), the rest stay
uniform over the input's range, which reaches past the smallest and largest key. A layer that
accepts nothing else (``TensorSpec.known_only``: an IntegerLookup without OOV indices, where
Keras raises on other ids) gets keys alone.
"""

from __future__ import annotations

import numpy as np

from pipeline.context import TensorSpec

KEY_SHARE = 0.75


def with_known_values(values: np.ndarray, spec: TensorSpec, rng: np.random.Generator) -> np.ndarray:
    """``values`` (uniform over the spec's range) with about :data:`KEY_SHARE` of them (all when
    ``spec.known_only``) replaced by keys."""
    if not spec.known_values or values.size == 0:
        return values
    keys = np.asarray(spec.known_values, dtype=values.dtype)
    picked = rng.random(values.shape) < (1.0 if spec.known_only else KEY_SHARE)
    return np.where(picked, rng.choice(keys, size=values.shape), values).astype(values.dtype)


def nearest_known(value: int, spec: TensorSpec) -> int:
    """``value``, or the key nearest to it when ``spec`` accepts keys only (edge-case input sets)."""
    if not spec.known_only or not spec.known_values:
        return value
    return int(min(spec.known_values, key=lambda key: (abs(key - value), key)))
