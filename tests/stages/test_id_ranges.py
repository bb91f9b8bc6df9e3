"""Inputs read by lookup layers: Discretization inputs reach every bucket, IntegerLookup ids are
mostly vocabulary keys with some outside it (the spec the load stage builds, then the seeded sets)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.config import ConversionConfig
from pipeline.inputs import make_input_sets
from pipeline.sources import Source, SourceKind
from pipeline.stages.id_ranges import lookup_range, lookup_vocabulary
from pipeline.stages.load import load_model

KEYS = [120, 3, 4000, 7, 25]


def _model(layer: Any, dtype: str) -> Any:
    import keras

    x = keras.Input((16,), dtype=dtype, name="x")
    return keras.Model(x, layer(x))


def _specs(model: Any) -> list[Any]:
    return load_model(Source(SourceKind.OBJECT, "0"), ConversionConfig(), model).inputs


def test_discretization_inputs_reach_every_bucket() -> None:
    import keras

    bounds = [10.0, 20.0, 40.0]
    (spec,) = _specs(_model(keras.layers.Discretization(bin_boundaries=bounds, name="disc"), "float32"))
    assert (spec.low, spec.high) == (0.0, 50.0) and "Discretization 'disc'" in spec.range_reason
    values = make_input_sets([spec], ConversionConfig())["random"]["x"]
    assert set(np.digitize(values, bounds).ravel().tolist()) == {0, 1, 2, 3}
    single = keras.layers.Discretization(bin_boundaries=[-4.0])
    assert lookup_range([single])[:2] == (-6.0, -2.0)


def test_integer_lookup_ids_are_mostly_keys_and_some_outside() -> None:
    import keras

    layer = keras.layers.IntegerLookup(vocabulary=KEYS, mask_token=0, name="lookup")
    (spec,) = _specs(_model(layer, "int64"))
    assert (spec.low, spec.high) == (0.0, 4003.0) and "IntegerLookup 'lookup'" in spec.range_reason
    assert spec.known_values == sorted([*KEYS, 0])
    sets = make_input_sets([spec], ConversionConfig(batch_size=4))
    ids = np.concatenate([s["x"].ravel() for s in sets.values()])
    known = np.isin(ids, spec.known_values)
    assert len(set(ids[known].tolist())) >= 4 and 0.5 < known.mean() < 0.95
    inverted = keras.layers.IntegerLookup(vocabulary=KEYS, invert=True)
    assert lookup_range([inverted])[:2] == (0.0, 6.0) and lookup_vocabulary([inverted]) is None


def test_ids_without_oov_indices_are_keys_in_every_set() -> None:
    """num_oov_indices=0: Keras raises on any other id, so every set (edge sets too) holds only keys."""
    import keras

    ids = keras.Input((16,), dtype="int64", name="ids")
    reading = keras.Input((4,), name="reading")  # a float input: the edge sets are made too
    lookup = keras.layers.IntegerLookup(vocabulary=[-5, 3, 7, 120], num_oov_indices=0, output_mode="count")
    model = keras.Model([ids, reading], keras.layers.Concatenate()([lookup(ids), reading]))
    spec = next(s for s in _specs(model) if s.name == "ids")
    assert spec.known_only and (spec.low, spec.high) == (-5.0, 121.0) and "no OOV index" in spec.range_reason
    sets = make_input_sets(_specs(model), ConversionConfig(batch_size=4))
    assert {"zeros", "large", "negative"} <= set(sets)
    for feed in sets.values():
        assert np.isin(feed["ids"], [-5, 3, 7, 120]).all()
        model([feed["ids"], feed["reading"]])  # Keras accepts them
