"""weights_as_constants: graph inputs that have an initializer are weights with defaults, never fed.

IR 3 files (the ONNX model zoo's Caffe2 exports) list every weight as a graph input too, and IR 4+
graphs may give optional inputs an initializer as default; ONNX Runtime runs both fed with the
remaining inputs only, and so must every stage of a conversion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import pipeline
from pipeline.fixups import DEFAULT_FIXUPS, FixupContext, run_fixups
from pipeline.fixups.graph_inputs import weights_as_constants
from pipeline.onnx_utils import graph_input_specs
from tests.fixups.onnx_models import apply, assert_same_outputs, model
from tests.onnx_checks import run_ort

F = TensorProto.FLOAT


def listed_weights_model(ir_version: int = 3, opset: int = 8) -> onnx.ModelProto:
    """A small conv net whose weights are graph inputs as well as initializers; one weight is read
    only through ``Shape`` (as tf2onnx's einsum lowering reshapes by ``Shape(weight)``)."""
    rng = np.random.default_rng(0)
    weights = {
        "conv_w": rng.normal(size=(4, 3, 3, 3)).astype(np.float32),
        "conv_b": rng.normal(size=(4,)).astype(np.float32),
        "scale": rng.uniform(0.5, 2.0, (1, 4, 1, 1)).astype(np.float32),
        "table": rng.normal(size=(2, 32)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1], name="net/conv/Conv2D"),
        helper.make_node("Mul", ["c", "scale"], ["scaled"], name="net/conv/mul"),
        helper.make_node("Relu", ["scaled"], ["r"], name="net/relu/Relu"),
        helper.make_node("Shape", ["table"], ["target"], name="net/flat/Shape"),
        helper.make_node("Reshape", ["r", "target"], ["y"], name="net/flat/Reshape"),
    ]
    inputs = {"x": ([1, 3, 4, 4], F), **{k: (list(v.shape), F) for k, v in weights.items()}}
    made = model(nodes, inputs, ["y"], weights, opset=opset, ir_version=ir_version)
    made.graph.output[0].CopyFrom(helper.make_tensor_value_info("y", F, [2, 32]))
    return made


def _x() -> np.ndarray:
    return np.random.default_rng(1).normal(size=(1, 3, 4, 4)).astype(np.float32)


def test_listed_weights_become_constants_and_ir_3_becomes_4() -> None:
    before = listed_weights_model()
    assert [i.name for i in graph_input_specs(before)] == ["x"]  # what a conversion feeds
    after, changes = apply(weights_as_constants, before)
    kept = "4 graph input(s) with an initializer kept as constants (defaults, not fed)"
    assert changes == [kept, "IR version 3 -> 4"]
    assert [i.name for i in after.graph.input] == ["x"] and after.ir_version == 4
    assert_same_outputs(before, after, {"x": _x()})


def test_every_fixup_after_it_leaves_only_the_data_input() -> None:
    """Folding ``Shape(table)`` drops the weight's initializer; its listing must not stay as an input."""
    before = listed_weights_model()
    context = FixupContext(inputs=graph_input_specs(before))
    fixed, records = run_fixups(before, DEFAULT_FIXUPS, context)
    fired = [r.name for r in records]
    assert fired[0] == "weights_as_constants" and "fold_shape_arithmetic" in fired and "fold_into_conv" in fired
    assert [i.name for i in fixed.graph.input] == ["x"]
    assert_same_outputs(before, fixed, {"x": _x()})


def test_optional_input_keeps_its_default() -> None:
    """IR 4+: an input with an initializer is optional; not fed, its initializer is the value."""
    nodes = [helper.make_node("Mul", ["x", "gain"], ["y"], name="gain/mul")]
    before = model(nodes, {"x": (["N", 3], F), "gain": ([3], F)}, ["y"], {"gain": np.array([1, 2, 3], np.float32)})
    after, changes = apply(weights_as_constants, before)
    assert changes == ["1 graph input(s) with an initializer kept as constants (defaults, not fed)"]
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(run_ort(after, {"x": x})[0], [[1, 2, 3], [1, 2, 3]])
    assert_same_outputs(before, after, {"x": x})


def test_declines_when_no_input_has_an_initializer() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    before = model(nodes, {"x": ([2], F)}, ["y"])
    after, changes = apply(weights_as_constants, before)
    assert changes == [] and after is before


def test_imports_and_exports_fed_with_data_inputs_only() -> None:
    import torch

    before = listed_weights_model()
    module = pipeline.onnx_to_torch(before)
    x = _x()
    program = torch.export.export(module, (torch.from_numpy(x),))
    expected = run_ort(before, {"x": x})[0]
    np.testing.assert_allclose(program.module()(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["ir3", "light_resnet50"])
def test_onnx_file_converts_end_to_end(tmp_path: Path, kind: str) -> None:
    """The whole path (input derivation, fixups, import, torch.export, validation) on an IR 3 file,
    and on the onnx package's own model-zoo ResNet50 test model (its weights as ConstantOfShape)."""
    if kind == "ir3":
        source = tmp_path / "ir3.onnx"
        onnx.save(listed_weights_model(), source)
    else:
        source = Path(onnx.__file__).parent / "backend/test/data/light/light_resnet50.onnx"
    result = pipeline.convert(source, tmp_path / "out")
    assert result.status == "passed", result.error
    assert result.report["validation"]["ort_vs_torch"]["passed"] is True
    assert [s["name"] for s in result.report["inputs"]] == (["x"] if kind == "ir3" else ["gpu_0/data_0"])
    if kind == "ir3":
        assert "weights_as_constants" in {f["name"] for f in result.report["fixups"]}
