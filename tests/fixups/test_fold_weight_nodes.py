"""fold_weight_nodes: nodes that read only weights become weight tensors, computed when they are written."""

from __future__ import annotations

import numpy as np

from pipeline.fixups import FixupContext
from pipeline.fixups.fold_weight_nodes import fold_weight_nodes
from tests.fixups.weight_models import KERNEL, context, conv_bn


def test_folds_the_kernel_transpose_lazily() -> None:
    before = conv_bn()
    original = before.SerializeToString(deterministic=True)
    ctx = context()
    result = fold_weight_nodes(before, ctx)
    assert before.SerializeToString(deterministic=True) == original  # not in place
    assert result.changes == ["folded 1 node(s) that compute only on weights"]
    assert [n.op_type for n in result.model.graph.node] == ["Conv", "Mul", "Add", "Relu"]
    weights = ctx.weights
    assert weights is not None and weights.folded == 1 and weights.origin["W_oihw"] == "W"
    assert weights.shapes["W_oihw"] == [16, 8, 3, 3]
    np.testing.assert_array_equal(weights.tensors["W_oihw"](), KERNEL.transpose(3, 2, 0, 1))


def test_declines_without_weights_or_nodes_to_fold() -> None:
    model = conv_bn()
    assert fold_weight_nodes(model, FixupContext()) == (model, [])
    direct = conv_bn(transposed=False)
    assert fold_weight_nodes(direct, context()) == (direct, [])
