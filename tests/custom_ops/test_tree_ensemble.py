"""TreeEnsemble (ai.onnx.ml 5) against ONNX Runtime: node modes, set membership, aggregations, NaN routing."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import numpy_helper

from tests.custom_ops.node_cases import TensorProto, node_model
from tests.onnx_checks import assert_matches_ort

ML = "ai.onnx.ml"


def _ensemble(aggregate: int, first_mode: int) -> dict:
    # tree 0: node0 (x0 vs 0.5) -> node1 (x1 in {1, 3}) | leaf2 ; node1 -> leaf0 | leaf1
    # tree 1: node2 (x1 > 2.0, missing -> true) -> leaf3 | leaf4
    return {
        "aggregate_function": aggregate,
        "n_targets": 2,
        "tree_roots": [0, 2],
        "nodes_featureids": [0, 1, 1],
        "nodes_modes": numpy_helper.from_array(np.array([first_mode, 6, 3], np.uint8)),
        "nodes_splits": numpy_helper.from_array(np.array([0.5, 0.0, 2.0], np.float32)),
        "nodes_truenodeids": [1, 0, 3],
        "nodes_trueleafs": [0, 1, 1],
        "nodes_falsenodeids": [2, 1, 4],
        "nodes_falseleafs": [1, 1, 1],
        "nodes_missing_value_tracks_true": [0, 0, 1],
        "membership_values": numpy_helper.from_array(np.array([1.0, 3.0, np.nan], np.float32)),
        "leaf_targetids": [0, 1, 0, 1, 0],
        "leaf_weights": numpy_helper.from_array(np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)),
    }


@pytest.mark.parametrize("aggregate", [0, 1, 2, 3])
@pytest.mark.parametrize("first_mode", [0, 1, 2, 3, 4, 5])
def test_tree_ensemble(aggregate: int, first_mode: int) -> None:
    x = np.array([[0.2, 1.0], [0.5, 3.0], [0.9, 2.5], [0.1, np.nan], [0.7, 0.0]], np.float32)
    model, feeds = node_model(
        "TreeEnsemble",
        [("x", x, False)],
        opset=5,
        domain=ML,
        output_type=TensorProto.FLOAT,
        **_ensemble(aggregate, first_mode),
    )
    assert_matches_ort(model, feeds)
