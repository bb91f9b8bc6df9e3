"""pin_input_dims: free non-batch input dims take the sizes validation uses; the batch is named."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from pipeline.context import TensorSpec
from pipeline.fixups import FixupContext
from pipeline.fixups.pin_dims import pin_input_dims
from tests.fixups.onnx_models import apply, assert_same_outputs, model


def _free(dims: list[object]) -> object:
    return model([helper.make_node("Relu", ["x"], ["y"])], {"x": (dims, TensorProto.FLOAT)}, ["y"])


CONTEXT = FixupContext(inputs=[TensorSpec("x", [None, 6, 4], "float32")])


def test_fires_on_free_dims() -> None:
    before = _free(["N", "T", 4])
    after, changes = apply(pin_input_dims, before, CONTEXT)
    assert changes == ["x[0]: N -> batch", "x[1]: T -> 6"]
    dims = after.graph.input[0].type.tensor_type.shape.dim
    assert (dims[0].dim_param, dims[1].dim_value, dims[2].dim_value) == ("batch", 6, 4)
    x = np.random.default_rng(0).normal(size=(2, 6, 4)).astype(np.float32)
    assert_same_outputs(before, after, {"x": x})


def test_declines_when_already_pinned() -> None:
    _, changes = apply(pin_input_dims, _free(["batch", 6, 4]), CONTEXT)
    assert changes == []
