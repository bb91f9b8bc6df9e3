"""Integer inputs of an ``.onnx`` source that index a table are drawn inside it (pipeline/onnx_ranges.py)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pipeline import inputs as inputs_mod
from pipeline.config import ConversionConfig
from pipeline.onnx_ranges import with_table_ranges
from pipeline.onnx_utils import graph_input_specs


def embeddings_model() -> onnx.ModelProto:
    """BERT's embedding sum: token ids index a 50-row table, token types (through a Cast) a 2-row one."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [
            helper.make_node("Gather", ["word_table", "token_ids"], ["words"], name="embeddings/word/Gather"),
            helper.make_node("Cast", ["token_type_ids"], ["types32"], to=TensorProto.INT32, name="embeddings/Cast"),
            helper.make_node("Gather", ["type_table", "types32"], ["types"], name="embeddings/type/Gather"),
            helper.make_node("Add", ["words", "types"], ["summed"], name="embeddings/add"),
            helper.make_node("Mul", ["summed", "scale"], ["out"], name="embeddings/scale"),
        ],
        "embeddings",
        [
            helper.make_tensor_value_info("token_ids", TensorProto.INT64, ["N", 6]),
            helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, ["N", 6]),
            helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["N", 6, 4]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 6, 4])],
        [
            numpy_helper.from_array(rng.normal(size=(50, 4)).astype(np.float32), "word_table"),
            numpy_helper.from_array(rng.normal(size=(2, 4)).astype(np.float32), "type_table"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _run_every_set(model: onnx.ModelProto, specs: list) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for arrays in inputs_mod.make_input_sets(specs, ConversionConfig()).values():
        session.run(None, dict(arrays))


def test_ids_are_drawn_from_the_rows_of_the_table_they_index() -> None:
    model = embeddings_model()
    default = inputs_mod.resolve_specs(graph_input_specs(model), ConversionConfig())
    with pytest.raises(Exception, match=r"(?i)out of bounds|indices"):  # 0..10 on a two-row table
        _run_every_set(model, default)
    specs = {s.name: s for s in with_table_ranges(graph_input_specs(model), model)}
    assert (specs["token_ids"].low, specs["token_ids"].high) == (0.0, 50.0)
    assert (specs["token_type_ids"].low, specs["token_type_ids"].high) == (0.0, 2.0)
    assert "table" in specs["token_type_ids"].range_reason
    assert (specs["scale"].low, specs["scale"].high) == (-1.0, 1.0)  # float inputs keep theirs
    _run_every_set(model, inputs_mod.resolve_specs(list(specs.values()), ConversionConfig()))
