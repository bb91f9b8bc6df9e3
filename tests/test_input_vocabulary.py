"""Ids drawn from a lookup layer's keys: about three in four, the rest uniform over the range."""

from __future__ import annotations

import numpy as np

from pipeline.context import TensorSpec
from pipeline.input_vocabulary import nearest_known, with_known_values


def test_keys_replace_most_uniform_ids() -> None:
    spec = TensorSpec("ids", [None, 50], "int64", low=0, high=1000, known_values=[3, 500, 999])
    uniform = np.random.default_rng(0).integers(0, 1000, (40, 50))
    drawn = with_known_values(uniform, spec, np.random.default_rng(1))
    share = np.isin(drawn, spec.known_values).mean()
    assert drawn.dtype == uniform.dtype and 0.7 < share < 0.8
    assert set(np.unique(drawn[np.isin(drawn, spec.known_values)]).tolist()) == {3, 500, 999}
    plain = TensorSpec("ids", [None, 50], "int64", low=0, high=1000)
    assert with_known_values(uniform, plain, np.random.default_rng(1)) is uniform


def test_keys_alone_when_nothing_else_is_valid() -> None:
    spec = TensorSpec("ids", [None, 50], "int64", low=-5, high=121, known_values=[-5, 3, 120], known_only=True)
    drawn = with_known_values(np.random.default_rng(0).integers(-5, 121, (8, 50)), spec, np.random.default_rng(1))
    assert np.isin(drawn, spec.known_values).all()
    assert [nearest_known(v, spec) for v in (0, 120, 90, -100)] == [3, 120, 120, -5]
    assert nearest_known(0, TensorSpec("ids", [None], "int64", known_values=[3])) == 0
