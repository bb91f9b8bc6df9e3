"""fuse_conv_affine: per-channel Mul/Add after a Conv with a weight kernel merge into new kernel and bias tensors."""

from __future__ import annotations

import numpy as np

from pipeline.fixups import FixupContext
from pipeline.fixups.fuse_conv_affine import fuse_conv_affine
from tests.fixups.weight_models import SCALE, SHIFT, context, conv_bn


def test_merges_scale_and_shift_into_the_kernel_and_a_new_bias() -> None:
    kernel = np.random.default_rng(1).normal(size=(16, 8, 3, 3)).astype(np.float32)
    before = conv_bn(transposed=False)
    original = before.SerializeToString(deterministic=True)
    ctx = context(kernel)
    result = fuse_conv_affine(before, ctx)
    assert before.SerializeToString(deterministic=True) == original  # not in place
    assert result.changes == ["merged 2 per-channel Mul/Add node(s) into Conv weights"]
    assert [n.op_type for n in result.model.graph.node] == ["Conv", "Relu"]
    conv = result.model.graph.node[0]
    weights = ctx.weights
    assert weights is not None and weights.fused == 2
    scale, shift = SCALE.reshape(-1), SHIFT.reshape(-1)
    np.testing.assert_allclose(weights.tensors[conv.input[1]](), kernel * scale.reshape(-1, 1, 1, 1), rtol=1e-6)
    np.testing.assert_allclose(weights.tensors[conv.input[2]](), shift, rtol=1e-6)


def test_declines_without_weights() -> None:
    model = conv_bn(transposed=False)
    assert fuse_conv_affine(model, FixupContext()) == (model, [])
