"""Errors from the tools under the pipeline name the ONNX node, its op and the Keras layer, and say
what to do (pipeline/locate.py), whichever stage raised them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pipeline.errors import ExportError, Location, OnnxRuntimeError, TorchExportError, UnsupportedError
from pipeline.locate import WORKAROUNDS, complete, node_in_message
from tests.conftest import run_cli

LAYERS = ["net", "embed", "flatten", "matrix_inverse"]
RESHAPE = "StatefulPartitionedCall/net_1/flatten_1/Reshape"


def scoped_model(target: list[int], batch: object = "N") -> onnx.ModelProto:
    """Dense then Reshape, with tf2onnx's scoped node names; ``target`` may not fit (ONNX Runtime fails)."""
    weight = np.random.default_rng(0).normal(size=(8, 8)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["frames", "w"], ["h"], name="StatefulPartitionedCall/net_1/embed_1/MatMul"),
            helper.make_node("Reshape", ["h", "shape"], ["head"], name=RESHAPE),
        ],
        "net",
        [helper.make_tensor_value_info("frames", TensorProto.FLOAT, [batch, 16, 8])],
        [helper.make_tensor_value_info("head", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(np.array(target, np.int64), "shape")],
    )
    made = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    made.ir_version = 8
    return made


def test_onnxruntime_failure_on_a_node_names_its_op_and_keras_layer() -> None:
    from pipeline.stages import onnxruntime_run

    model = scoped_model([-1, 5, 8])  # 16 * 8 elements per row: no whole number of 5 x 8 blocks
    frames = np.ones((2, 16, 8), np.float32)
    with pytest.raises(OnnxRuntimeError) as raised:
        onnxruntime_run.run(model, {"random": {"frames": frames}})
    error = complete(raised.value, [model], LAYERS)
    assert error.location == Location(node=RESHAPE, op="Reshape", layer="flatten")
    text = str(error)
    assert "Keras layer 'flatten'" in text and "op Reshape" in text
    assert error.hint == WORKAROUNDS["onnxruntime"] and "custom_ops" not in text


def test_import_failure_names_the_keras_layer_and_a_workaround() -> None:
    from pipeline.stages.importer import import_model

    name = "StatefulPartitionedCall/net_1/matrix_inverse_1/Inverse"
    graph = helper.make_graph(
        [helper.make_node("Inverse", ["x"], ["y"], name=name, domain="com.microsoft")],
        "inv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 3])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    with pytest.raises(UnsupportedError) as raised:
        import_model(model, LAYERS)
    error = complete(raised.value, [model], LAYERS)
    assert error.location is not None and error.location.layer == "matrix_inverse"
    assert error.location.op == "Inverse" and "opset" in (error.hint or "") and "custom_ops" not in str(error)


def test_torch_module_class_becomes_the_onnx_op() -> None:
    model = scoped_model([-1, 16, 8])
    error = TorchExportError("torch.export could not trace", stage="torch_export")
    error.locations.append(Location(node=RESHAPE, op="OnnxReshape"))
    complete(error, [model], LAYERS)
    assert error.location == Location(node=RESHAPE, op="Reshape", layer="flatten")
    assert error.hint == WORKAROUNDS["torch_export"]


@pytest.mark.parametrize(
    ("message", "node"),
    [
        ("Non-zero status code returned while running Reshape node. Name:'a/b/Reshape' Status", "a/b/Reshape"),
        (
            "[ONNXRuntimeError] : 1 : FAIL : Node (a/dense_1/MatMul) Op (MatMul) [ShapeInferenceError]",
            "a/dense_1/MatMul",
        ),
        ("Failed to convert node 'model/bessel_1/BesselI1e' (fct=<bound method ...>)", "model/bessel_1/BesselI1e"),
        ("nothing here", None),
    ],
)
def test_node_named_in_tool_messages(message: str, node: str | None) -> None:
    assert node_in_message(message) == node


def test_error_without_location_gets_one_from_its_message() -> None:
    error = ExportError(
        "tf2onnx could not convert the model: Failed to convert node 'm/bessel_layer_1/Op'", stage="export"
    )
    complete(error, [], ["bessel_layer"])
    assert error.location == Location(node="m/bessel_layer_1/Op", layer="bessel_layer")
    assert error.hint == WORKAROUNDS["export"]


@pytest.mark.slow
def test_validate_names_the_keras_layer_onnx_runtime_fails_in(tmp_path: Path) -> None:
    """An ONNX file made elsewhere, checked against its Keras model: ONNX Runtime fails inside
    'head's scope, and the one-line error names node, op and Keras layer, and what to do."""
    onnx_file = tmp_path / "made_elsewhere.onnx"
    model = scoped_model([-1, 5, 8])
    model.graph.node[1].name = "StatefulPartitionedCall/causal_arange_1/head_1/Reshape"
    onnx.save(model, onnx_file)
    out = tmp_path / "out"
    config = tmp_path / "c.yaml"
    config.write_text("kwargs: {mask: arange}\ninputs:\n  frames: {shape: [null, 16, 8]}\n")
    args = ("validate", "tests.causal_models:causal_attention", "--onnx", str(onnx_file), "--config", str(config))
    proc = run_cli(*args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr[-2000:]
    first = proc.stderr.splitlines()[0]  # one line: ONNX Runtime's own log lines stay quiet
    assert first.startswith("error: [onnxruntime]"), proc.stderr
    assert "node 'StatefulPartitionedCall/causal_arange_1/head_1/Reshape', op Reshape, Keras layer 'head'" in first
    assert "hint: " + WORKAROUNDS["onnxruntime"] in proc.stderr
