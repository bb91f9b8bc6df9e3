"""Models with lookup preprocessing convert with default settings and pass every comparison:
Input -> Discretization -> Embedding -> Dense, int ids -> IntegerLookup -> Embedding -> Dense, and
both layers' one_hot / multi_hot / count outputs read by a Dense.

Both routes are checked: the ONNX route (our Bucketize / LookupTableFindV2 / OneHot / Bincount
handlers) and model.py (torch.bucketize / torch.searchsorted and their encodings, translated
directly); the seeded inputs reach every bucket, known keys and ids outside the vocabulary (keys
alone for an IntegerLookup without OOV indices, where Keras raises on others).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pipeline
from pipeline.inputs import load_sets
from tests.checks import assert_converted

BOUNDS = [0.0, 10.0, 20.0, 40.0]
KEYS = [120, 3, 4000, 7, 25, 64]


def _discretized() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((12,), name="reading")
    buckets = keras.layers.Discretization(bin_boundaries=BOUNDS, name="buckets")(x)
    vectors = keras.layers.Embedding(len(BOUNDS) + 1, 4, name="bucket_embedding")(buckets)
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(keras.layers.Flatten()(vectors))
    return keras.Model(x, keras.layers.Dense(3, name="score")(hidden), name="discretized")


def _looked_up() -> Any:
    import keras

    keras.utils.set_random_seed(0)
    ids = keras.Input((10,), dtype="int64", name="item_ids")
    lookup = keras.layers.IntegerLookup(vocabulary=KEYS, mask_token=0, num_oov_indices=2, name="items")
    vectors = keras.layers.Embedding(len(KEYS) + 3, 4, name="item_embedding")(lookup(ids))
    pooled = keras.layers.GlobalAveragePooling1D()(vectors)
    return keras.Model(ids, keras.layers.Dense(3, name="score")(pooled), name="looked_up")


def _encoded(kind: str, mode: str, **options: Any) -> Any:
    import keras

    keras.utils.set_random_seed(0)
    if kind == "lookup":
        x = keras.Input((10,), dtype="int64", name="item_ids")
        encoded = keras.layers.IntegerLookup(vocabulary=KEYS, output_mode=mode, name="items", **options)(x)
    else:
        x = keras.Input((10,), name="reading")
        encoded = keras.layers.Discretization(bin_boundaries=BOUNDS, output_mode=mode, name="buckets")(x)
    if mode == "one_hot":
        encoded = keras.layers.Flatten()(encoded)
    name = f"{kind}_{mode}" + ("_no_oov" if options.get("num_oov_indices") == 0 else "")
    return keras.Model(x, keras.layers.Dense(3, name="score")(encoded), name=name)


ENCODED = [
    lambda: _encoded("lookup", "one_hot", mask_token=0, num_oov_indices=2),
    lambda: _encoded("lookup", "multi_hot", mask_token=0),
    lambda: _encoded("lookup", "count", num_oov_indices=2),
    lambda: _encoded("lookup", "count", num_oov_indices=0),
    lambda: _encoded("discretization", "multi_hot"),
    lambda: _encoded("discretization", "count"),
]


@pytest.mark.slow
@pytest.mark.parametrize("build", [_discretized, _looked_up, *ENCODED])
def test_lookup_model_converts(tmp_path: Path, build: Any) -> None:
    model = build()
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    result = pipeline.convert(path, tmp_path / "out")
    assert_converted(result)
    report = result.report
    assert report["validation"]["tf_vs_module"]["passed"] is True
    layer = model.layers[1]
    rows = {row["layer"]: row for row in report["translation"]["layers"]}
    assert rows[layer.name]["method"] == "direct", rows[layer.name]
    values = np.concatenate(
        [s[model.inputs[0].name].ravel() for s in load_sets(tmp_path / "out" / "inputs.npz").values()]
    )
    if model.name.startswith("discretiz"):
        assert set(np.digitize(values[np.isfinite(values)], BOUNDS).tolist()) == {0, 1, 2, 3, 4}
    elif model.name.endswith("_no_oov"):
        assert np.isin(values, KEYS).all() and len(set(values.tolist())) == len(KEYS)
    else:
        known = np.isin(values, KEYS)
        assert len(set(values[known].tolist())) >= 4 and not known.all()
