"""TensorFlow LookupTableFindV2 on integer keys (IntegerLookup) through our tf2onnx handler: the
captured table's contents reach the handler, which writes a dense Gather or an exact match in
standard ONNX ops; TensorFlow, ONNX Runtime and torch agree on known keys, OOV ids and masks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.fixups.tracing import three_way

DENSE = [12, 3, 40, 7, 25]  # span 38 <= 16 * 5 keys: a Gather over a dense table
SPARSE = [5, 1_000_000, 77, -9]  # span 1e6 > 16 * 4: equality against every key
IDS = [12, 3, 40, 7, 25, 0, 1, 13, 41, -4, 100, 7, 5, 1_000_000, 77, -9]


def _model(layer: Any, dtype: str = "int64") -> Any:
    import keras

    x = keras.Input((len(IDS) // 2,), dtype=dtype, name="x")
    return keras.Model(x, layer(x))


def _three_way(model: Any, x: np.ndarray, opset: int = 17) -> Any:
    onnx_model = three_way(model, x, opset)
    assert all(n.domain in ("", "ai.onnx") for n in onnx_model.graph.node)
    assert not any(n.op_type.startswith("LookupTable") for n in onnx_model.graph.node)
    return onnx_model


@pytest.mark.parametrize(
    ("vocabulary", "kwargs", "opset"),
    [
        (DENSE, {}, 17),
        (SPARSE, {}, 13),
        (DENSE, {"mask_token": 0}, 18),
        (SPARSE, {"num_oov_indices": 3}, 17),
        (DENSE, {"mask_token": 0, "num_oov_indices": 2}, 17),
    ],
)
def test_integer_lookup(vocabulary: list[int], kwargs: dict[str, Any], opset: int) -> None:
    import keras

    x = np.array(IDS, np.int64).reshape(2, -1)
    onnx_model = _three_way(_model(keras.layers.IntegerLookup(vocabulary=vocabulary, **kwargs)), x, opset)
    ops = {n.op_type for n in onnx_model.graph.node}
    assert ("Gather" in ops) == (vocabulary is DENSE) and ("Equal" in ops) == (
        vocabulary is SPARSE or "mask_token" in kwargs
    )


def test_inverted_lookup_and_int32_ids() -> None:
    import keras

    x = np.array([[0, 1, 2, 3, 4, 5, 6, 9], [4, 4, 3, 0, -1, 2, 1, 8]], np.int64)
    _three_way(_model(keras.layers.IntegerLookup(vocabulary=DENSE, invert=True)), x)
    ids = np.array(IDS[:8] + IDS[:8], np.int32).reshape(2, -1)
    _three_way(_model(keras.layers.IntegerLookup(vocabulary=DENSE), dtype="int32"), ids)


def test_table_contents_come_from_the_captured_resource() -> None:
    import keras
    import tensorflow as tf

    from custom_ops.lookup_table import KEYS_ATTR, annotate_tables
    from pipeline.stages.export import freeze
    from tests.fixups.tracing import trace

    function = trace(_model(keras.layers.IntegerLookup(vocabulary=SPARSE)))
    frozen = freeze(function, 1 << 30)
    assert annotate_tables(frozen.graph_def, function)
    (node,) = [n for n in frozen.graph_def.node if n.op == "LookupTableFindV2"]
    assert sorted(tf.make_ndarray(node.attr[KEYS_ATTR].tensor).tolist()) == sorted(SPARSE)
