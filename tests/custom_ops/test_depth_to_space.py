"""DepthToSpace (DCR, CRD) and SpaceToDepth match ONNX Runtime and export with a dynamic batch."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.custom_ops.helpers import assert_exports, make_model
from tests.onnx_checks import assert_matches_ort


@pytest.mark.parametrize("mode", ["DCR", "CRD"])
@pytest.mark.parametrize("block,shape", [(2, (2, 8, 3, 5)), (3, (1, 18, 2, 2))])
def test_depth_to_space(mode: str, block: int, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    node = helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=block, mode=mode)
    model = make_model([node], {"x": x}, ["y"], batch_axis={"x": 0})
    module = assert_matches_ort(model, {"x": x}, rtol=0, atol=0, fixups=False).module
    if block == 2:
        assert_exports(module, {"x": x}, {"x": 0})


@pytest.mark.parametrize("block,shape", [(2, (2, 3, 4, 6)), (3, (1, 2, 6, 3))])
def test_space_to_depth(block: int, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    node = helper.make_node("SpaceToDepth", ["x"], ["y"], blocksize=block)
    model = make_model([node], {"x": x}, ["y"], batch_axis={"x": 0})
    module = assert_matches_ort(model, {"x": x}, rtol=0, atol=0, fixups=False).module
    if block == 2:
        assert_exports(module, {"x": x}, {"x": 0})
