"""Layers and custom layers convert and validate: the seed articles' custom layers, tf.cond, GELU,
depth_to_space, resize, transposed/separable/depthwise convolutions, normalizations, causal attention."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pipeline
from tests import zoo_models
from tests.checks import assert_converted, fired


def test_seed_custom_layers(tmp_path: Path) -> None:
    """Spatial normalization (EuclideanNorm), a learned vector from add_weight, tf.math.sin."""
    result = pipeline.convert(zoo_models.custom_layers(), tmp_path / "out")
    assert_converted(result)
    assert result.report["outputs"] == ["spatial_norm", "add_vector", "sine"]


def test_tf_cond_on_an_input_takes_both_branches(tmp_path: Path) -> None:
    import onnxruntime as ort
    import torch

    model = zoo_models.conditional()
    result = pipeline.convert(model, tmp_path / "out")
    assert_converted(result)
    assert "lower_conditionals" in fired(result)
    session = ort.InferenceSession(str(result.out_dir / "model_fixed.onnx"), providers=["CPUExecutionProvider"])
    image = np.random.default_rng(3).uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
    outputs = []
    for sign in (1.0, -1.0):  # flag > 0: 3x3 conv; else relu(5x5 conv)
        flag = np.full((3, 1), sign, np.float32)
        expected = model([image, flag], training=False).numpy()
        with torch.no_grad():
            got = result.torch_module(torch.from_numpy(image), torch.from_numpy(flag)).numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(session.run(None, {"image": image, "flag": flag})[0], expected, rtol=1e-4, atol=1e-5)
        outputs.append(expected)
    assert not np.allclose(outputs[0], outputs[1])  # the branches really differ


def test_conv_family_and_normalizations(tmp_path: Path) -> None:
    """SeparableConv2D, DepthwiseConv2D, Conv2DTranspose(same, stride 2), LayerNormalization, GroupNormalization."""
    result = pipeline.convert(zoo_models.conv_layers(), tmp_path / "out")
    assert_converted(result)
    assert len(result.report["outputs"]) == 5


def test_gelu_depth_to_space_and_resize(tmp_path: Path) -> None:
    result = pipeline.convert(zoo_models.image_ops(), tmp_path / "out")
    assert_converted(result)
    assert result.report["outputs"] == ["gelu", "gelu_tanh", "depth_to_space", "resize_bilinear", "resize_nearest"]


def test_embedding_causal_conv1d_causal_attention(tmp_path: Path) -> None:
    import torch

    model = zoo_models.sequence_layers()
    result = pipeline.convert(model, tmp_path / "out")
    assert_converted(result)
    # causality: changing the last token must leave earlier positions' outputs unchanged
    tokens = np.random.default_rng(0).integers(0, zoo_models.VOCAB, (2, zoo_models.STEPS)).astype(np.int32)
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % zoo_models.VOCAB
    with torch.no_grad():
        a = result.torch_module(torch.from_numpy(tokens))[-1].numpy()
        b = result.torch_module(torch.from_numpy(changed))[-1].numpy()
    np.testing.assert_allclose(a[:, :-1], b[:, :-1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, -1], b[:, -1])


@pytest.mark.parametrize("opset", [13, 18])
def test_opset_range(opset: int, tmp_path: Path) -> None:
    """The oldest and newest opsets the config accepts both convert (LayerNorm -> ReduceMean-18 at 18)."""
    config = pipeline.ConversionConfig(opset=opset)
    result = pipeline.convert(zoo_models.conv_layers(), tmp_path / "out", config)
    assert_converted(result)
