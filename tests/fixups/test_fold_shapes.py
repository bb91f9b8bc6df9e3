"""fold_shape_arithmetic: run-time shape computations of the batch become constants torch.export can trace."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper

from pipeline.fixups.fold_shapes import fold_shape_arithmetic
from tests.fixups.onnx_models import apply, assert_same_outputs, model


def _tensordot_like(data_dependent: bool = False) -> object:
    """x [batch, 4, 6] -> Reshape to [prod(shape[:2]), 6] -> MatMul -> Reshape to [max(b, 1) * 2, -1, 3].

    The first target is how tf2onnx exports Tensordot (ReduceProd over axis 0 of a gathered
    shape); the second mixes the batch with -1 and Max, as its einsum decomposition does.
    """
    shape_source = "x" if not data_dependent else "y"
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "first_two"], ["lead"]),
        helper.make_node("ReduceProd", ["lead"], ["rows"], axes=[0], keepdims=0),
        helper.make_node("Unsqueeze", ["rows", "zero"], ["rows1"]),
        helper.make_node("Concat", ["rows1", "six"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["y"]),
        helper.make_node("Shape", [shape_source], ["shape2"]),
        helper.make_node("Gather", ["shape2", "zero"], ["batch"]),
        helper.make_node("Max", ["batch", "one"], ["batch_at_least_1"]),
        helper.make_node("Mul", ["batch_at_least_1", "two"], ["rows2"]),
        helper.make_node("Concat", ["rows2", "minus_one", "three"], ["target2"], axis=0),
        helper.make_node("Reshape", ["y", "target2"], ["out"]),
    ]
    inits = {
        "first_two": np.array([0, 1], np.int64),
        "zero": np.array([0], np.int64),
        "one": np.array([1], np.int64),
        "two": np.array([2], np.int64),
        "six": np.array([6], np.int64),
        "three": np.array([3], np.int64),
        "minus_one": np.array([-1], np.int64),
        "w": np.random.default_rng(0).normal(size=(6, 6)).astype(np.float32),
    }
    if data_dependent:  # the target now reads y's values-derived rows, not a pinned input's shape
        nodes[7] = helper.make_node("Shape", ["flat"], ["shape2"])
    return model(nodes, {"x": (["batch", 4, 6], TensorProto.FLOAT)}, ["out"], initializers=inits)


def test_fires_and_the_graph_computes_the_same() -> None:
    before = _tensordot_like()
    after, changes = apply(fold_shape_arithmetic, before)
    assert changes and not [n for n in after.graph.node if n.op_type in ("Shape", "ReduceProd", "Max")]
    targets = [n.input[1] for n in after.graph.node if n.op_type == "Reshape"]
    values = {i.name: list(np.frombuffer(i.raw_data, np.int64)) for i in after.graph.initializer if i.name in targets}
    assert sorted(values.values()) == [[-1, 4, 3], [-1, 6]]
    for batch in (1, 3):
        x = np.random.default_rng(batch).normal(size=(batch, 4, 6)).astype(np.float32)
        assert_same_outputs(before, after, {"x": x})


def test_declines_when_nothing_is_shape_arithmetic() -> None:
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    _, changes = apply(fold_shape_arithmetic, model(nodes, {"x": (["batch", 4], TensorProto.FLOAT)}, ["y"]))
    assert changes == []


def test_folds_initializer_shapes_comparisons_range_and_tile() -> None:
    """tf2onnx's einsum reshapes a weight by f(Shape(weight)); tf.slice's size=-1 test is Equal + Where;
    a causal mask is a float Range of a sequence length; a constant is Tiled by a known count."""
    nodes = [
        # einsum lowering: Reshape(w, [prod(Shape(w)[:2]), -1])
        helper.make_node("Shape", ["w"], ["w_shape"]),
        helper.make_node("Gather", ["w_shape", "first_two"], ["w_lead"]),
        helper.make_node("ReduceProd", ["w_lead"], ["w_rows"], keepdims=1),
        helper.make_node("Concat", ["w_rows", "minus_one"], ["w_target"], axis=0),
        helper.make_node("Reshape", ["w", "w_target"], ["w_flat"]),
        # tf.slice(x, begin, size) with size=[-1, 3]: Where(Equal(size, -1), Shape(x) - begin, size)
        helper.make_node("Shape", ["x"], ["x_shape"]),
        helper.make_node("Equal", ["size", "minus_one"], ["is_rest"]),
        helper.make_node("Sub", ["x_shape", "begin"], ["rest"]),
        helper.make_node("Where", ["is_rest", "rest", "size"], ["slice_size"]),
        helper.make_node("Add", ["begin", "slice_size"], ["ends"]),
        helper.make_node("Slice", ["x", "begin", "ends"], ["sliced"]),
        helper.make_node("MatMul", ["sliced", "w_flat"], ["mixed"]),
        # causal positions: Range(0.0, float(seq), 1.0), tiled twice
        helper.make_node("Gather", ["x_shape", "one_scalar"], ["seq"]),
        helper.make_node("Cast", ["seq"], ["seq_f"], to=TensorProto.FLOAT),
        helper.make_node("Range", ["zero_f", "seq_f", "one_f"], ["positions"]),
        helper.make_node("Tile", ["positions", "two"], ["tiled"]),
        helper.make_node("Unsqueeze", ["tiled", "zero"], ["tiled_row"]),
        helper.make_node("Add", ["mixed", "tiled_row"], ["out"]),
    ]
    inits = {
        "w": np.random.default_rng(1).normal(size=(3, 1, 8)).astype(np.float32),
        "first_two": np.array([0, 1], np.int64),
        "minus_one": np.array([-1], np.int64),
        "size": np.array([-1, 3], np.int64),
        "begin": np.array([0, 1], np.int64),
        "one_scalar": np.array(1, np.int64),
        "zero": np.array([0], np.int64),
        "two": np.array([2], np.int64),
        "zero_f": np.array(0.0, np.float32),
        "one_f": np.array(1.0, np.float32),
    }
    before = model(nodes, {"x": (["batch", 4], TensorProto.FLOAT)}, ["out"], initializers=inits)
    after, changes = apply(fold_shape_arithmetic, before)
    left = {n.op_type for n in after.graph.node}
    assert changes and not left & {"Shape", "Equal", "Where", "Range", "Tile", "ReduceProd"}, left
    ends = [n.input[2] for n in after.graph.node if n.op_type == "Slice"]
    values = {i.name: np.frombuffer(i.raw_data, np.int64).tolist() for i in after.graph.initializer}
    assert values[ends[0]] == [2**63 - 1, 4]  # the batch end: "to the end"
    for batch in (1, 3):
        x = np.random.default_rng(batch).normal(size=(batch, 4)).astype(np.float32)
        assert_same_outputs(before, after, {"x": x})
