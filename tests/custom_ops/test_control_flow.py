"""Loop (trip count from its counters, unrolled) and If (torch.cond) against ONNX Runtime, exported."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from pipeline.errors import UnsupportedError
from tests.custom_ops.helpers import assert_exports, make_model
from tests.onnx_checks import assert_matches_ort, run_torch

T, B, H = 5, 3, 4


def _loop_model(data_dependent: bool = False) -> tuple[object, dict[str, np.ndarray]]:
    """h_{i+1} = tanh(h_i W + X[i]) while i + 1 < 3 (so 3 steps, though M = 10), scanning every h."""
    body_nodes = [
        helper.make_node("Gather", ["X", "i"], ["xt"], axis=0),
        helper.make_node("MatMul", ["h", "W"], ["hw"]),
        helper.make_node("Add", ["hw", "xt"], ["s"]),
        helper.make_node("Tanh", ["s"], ["h2"]),
        helper.make_node("Identity", ["h2"], ["scan"]),
    ]
    if data_dependent:
        body_nodes += [
            helper.make_node("ReduceSum", ["h2"], ["total"], keepdims=0),
            helper.make_node("Greater", ["total", "zero_f"], ["c2"]),
        ]
    else:
        body_nodes += [helper.make_node("Add", ["i", "one"], ["i1"]), helper.make_node("Less", ["i1", "three"], ["c2"])]
    body = helper.make_graph(
        body_nodes,
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", H]),
        ],
        [
            helper.make_tensor_value_info("c2", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h2", TensorProto.FLOAT, ["batch", H]),
            helper.make_tensor_value_info("scan", TensorProto.FLOAT, ["batch", H]),
        ],
        [
            numpy_helper.from_array(np.array(1, np.int64), "one"),
            numpy_helper.from_array(np.array(3, np.int64), "three"),
            numpy_helper.from_array(np.array(0.0, np.float32), "zero_f"),
        ],
    )
    rng = np.random.default_rng(0)
    feeds = {
        "X": rng.normal(size=(T, B, H)).astype(np.float32),
        "h0": rng.normal(size=(B, H)).astype(np.float32),
    }
    inits = {"M": np.array(10, np.int64), "cond": np.array(True), "W": rng.normal(size=(H, H)).astype(np.float32)}
    loop = helper.make_node("Loop", ["M", "cond", "h0"], ["h_last", "hs"], body=body)
    shapes = {"h_last": ["batch", H], "hs": ["steps", "batch", H]}
    model = make_model(
        [loop], feeds, ["h_last", "hs"], initializers=inits, batch_axis={"X": 1, "h0": 0}, output_shapes=shapes
    )
    return model, feeds


def test_loop_runs_as_many_steps_as_its_counters_say() -> None:
    model, feeds = _loop_model()
    module = assert_matches_ort(model, feeds, fixups=False).module
    _, hs = run_torch(model, feeds, fixups=False).outputs
    assert hs.shape == (3, B, H)
    assert_exports(module, feeds, {"X": 1, "h0": 0})


def test_loop_whose_condition_reads_data_is_refused_with_the_reason() -> None:
    model, feeds = _loop_model(data_dependent=True)
    with pytest.raises(UnsupportedError, match="condition depends on tensor values"):
        run_torch(model, feeds, fixups=False)


def _if_model() -> tuple[object, dict[str, np.ndarray]]:
    then_branch = helper.make_graph(
        [helper.make_node("Add", ["x", "bias"], ["t"])], "then", [], [helper.make_tensor_value_info("t", 1, None)]
    )
    else_branch = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["m"]), helper.make_node("Relu", ["m"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", 1, None)],
    )
    rng = np.random.default_rng(1)
    inits = {"bias": rng.normal(size=(H,)).astype(np.float32), "W": rng.normal(size=(H, H)).astype(np.float32)}
    node = helper.make_node("If", ["flag"], ["y"], then_branch=then_branch, else_branch=else_branch)
    feeds = {"flag": np.array(True), "x": rng.normal(size=(B, H)).astype(np.float32)}
    return make_model([node], feeds, ["y"], initializers=inits, batch_axis={"x": 0}), feeds


@pytest.mark.parametrize("flag", [True, False])
def test_if_takes_the_branch_the_condition_picks(flag: bool) -> None:
    model, feeds = _if_model()
    feeds = {**feeds, "flag": np.array(flag)}
    module = assert_matches_ort(model, feeds, fixups=False).module
    if flag:  # the exported program keeps both branches: run it with the other condition
        program = torch.export.export(
            module,
            (torch.tensor(True), torch.from_numpy(feeds["x"])),
            dynamic_shapes=(None, {0: torch.export.Dim("batch", min=1, max=64)}),
            strict=False,
        ).module()
        x = torch.from_numpy(np.concatenate([feeds["x"], feeds["x"]]))
        with torch.no_grad():
            for value in (True, False):
                np.testing.assert_allclose(
                    program(torch.tensor(value), x).numpy(), module(torch.tensor(value), x).numpy(), rtol=1e-6
                )
    else:
        assert_exports(module, feeds, {"x": 0})


def test_if_on_a_condition_known_at_conversion_keeps_one_branch() -> None:
    """A condition computed from constants and static shapes picks its branch when converting."""
    model, feeds = _if_model()
    graph = model.graph
    size = helper.make_node("Size", ["x"], ["n"])
    expected_n = helper.make_node("Equal", ["n", "twelve"], ["static_flag"])
    graph.initializer.append(numpy_helper.from_array(np.array(B * H, np.int64), "twelve"))
    graph.node.insert(0, size)
    graph.node.insert(1, expected_n)
    graph.node[2].input[0] = "static_flag"
    for value in list(graph.input):
        if value.name == "flag":
            graph.input.remove(value)
        else:  # a static shape makes Size constant
            value.type.tensor_type.shape.dim[0].dim_value = B
    feeds = {"x": feeds["x"]}
    module = assert_matches_ort(model, feeds, fixups=False).module
    ifs = [m for m in module.modules() if type(m).__name__ == "OnnxIf"]
    assert ifs and ifs[0].else_branch is None  # B * H elements: the then branch
