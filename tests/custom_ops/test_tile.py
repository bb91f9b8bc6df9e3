"""Tile against ONNX Runtime, constant repeats and repeats from the batch (a ViT class token); export."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.custom_ops.helpers import assert_exports, make_model
from tests.custom_ops.node_cases import floats, node_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize(("shape", "repeats"), [((2, 3), [2, 1]), ((1, 1, 4), [3, 2, 1]), ((2,), [1])])
def test_tile(rng: np.random.Generator, shape: tuple, repeats: list[int]) -> None:
    model, feeds = node_model("Tile", [("x", floats(rng, *shape), False), ("r", np.array(repeats, np.int64), True)])
    assert_matches_ort(model, feeds)


def test_repeats_from_the_batch_export_with_a_dynamic_batch() -> None:
    """``Tile(cls[1, 1, 4], Concat(Shape(x)[:1], [1, 1]))`` + x: the class token once per sample."""
    x = np.random.default_rng(0).normal(size=(3, 1, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
        helper.make_node("Concat", ["batch", "ones"], ["repeats"], axis=0),
        helper.make_node("Tile", ["cls", "repeats"], ["tiled"]),
        helper.make_node("Add", ["tiled", "x"], ["out"]),
    ]
    inits = {
        "zero": np.array([0], np.int64),
        "one": np.array([1], np.int64),
        "ones": np.array([1, 1], np.int64),
        "cls": np.arange(4, dtype=np.float32).reshape(1, 1, 4),
    }
    model = make_model(nodes, {"x": x}, ["out"], initializers=inits, batch_axis={"x": 0})
    module = assert_matches_ort(model, {"x": x}, rtol=0, atol=0, fixups=False, ours={"Tile"}).module
    assert_exports(module, {"x": x}, {"x": 0})
