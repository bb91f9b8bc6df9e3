"""Config input specs are checked against the model's signature before anything runs."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import helper

import pipeline
from pipeline.config import ConversionConfig, InputOverride
from pipeline.context import TensorSpec
from pipeline.errors import InputSpecError
from pipeline.inputs import resolve_specs


def test_dtype_that_differs_from_the_signature_names_the_input() -> None:
    specs = [TensorSpec(name="token_ids", shape=(None, 16), dtype="int32")]
    config = ConversionConfig(inputs={"token_ids": InputOverride(dtype="int64")})
    with pytest.raises(InputSpecError, match=r"input 'token_ids': config dtype int64 .* takes int32"):
        resolve_specs(specs, config)
    same = ConversionConfig(inputs={"token_ids": InputOverride(dtype="int32", low=0, high=5)})
    assert resolve_specs(specs, same)[0].dtype == "int32"


def test_dtype_checked_before_onnx_runtime(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Identity", ["ids"], ["out"])],
        "g",
        [helper.make_tensor_value_info("ids", onnx.TensorProto.INT32, [None, 4])],
        [helper.make_tensor_value_info("out", onnx.TensorProto.INT32, [None, 4])],
    )
    source = tmp_path / "m.onnx"
    source.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    config = {"inputs": {"ids": {"dtype": "int64"}}}
    with pytest.raises(InputSpecError, match="input 'ids'") as info:
        pipeline.convert(str(source), tmp_path / "out", config)
    assert info.value.stage == "inputs"
