"""cap_ir_version: models stamped IR 14 by onnx's helpers load in ONNX Runtime."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from pipeline.fixups.ir_version import cap_ir_version
from pipeline.onnx_utils import MAX_ORT_IR_VERSION
from tests.fixups.onnx_models import apply, model
from tests.onnx_checks import run_ort


def _relu(ir_version: int) -> object:
    return model(
        [helper.make_node("Relu", ["x"], ["y"])], {"x": ([2, 3], TensorProto.FLOAT)}, ["y"], ir_version=ir_version
    )


def test_fires_above_what_onnxruntime_loads() -> None:
    import onnxruntime as ort

    before = _relu(MAX_ORT_IR_VERSION + 1)
    with pytest.raises(Exception, match=r"(?i)ir_version|unsupported model ir version"):
        ort.InferenceSession(before.SerializeToString(), providers=["CPUExecutionProvider"])
    after, changes = apply(cap_ir_version, before)
    assert changes == [f"IR version {MAX_ORT_IR_VERSION + 1} -> {MAX_ORT_IR_VERSION}"]
    x = np.random.default_rng(0).normal(size=(2, 3)).astype(np.float32)
    expected = ReferenceEvaluator(before).run(None, {"x": x})[0]  # what the model meant, before the fix
    np.testing.assert_array_equal(run_ort(after, {"x": x})[0], expected)


def test_declines_at_a_version_onnxruntime_loads() -> None:
    after, changes = apply(cap_ir_version, _relu(MAX_ORT_IR_VERSION))
    assert changes == [] and after.ir_version == MAX_ORT_IR_VERSION
