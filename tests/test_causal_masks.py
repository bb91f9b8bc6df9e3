"""Causal masks built from the run-time sequence length (``Range``, comparisons, ``Trilu``) convert
with default settings: once the sequence length is pinned the mask folds into constants, or stays a
static computation, and torch.export never sees a shape taken from tensor values."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

import pipeline
from tests import causal_models
from tests.checks import assert_converted, fired


def _ops(path: Path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node}


@pytest.mark.slow
@pytest.mark.parametrize(("mask", "length"), [("arange", 16), ("tril", 128), ("triu", 16)])
def test_causal_mask_from_sequence_length(tmp_path: Path, mask: str, length: int) -> None:
    config = {"kwargs": {"mask": mask}, "inputs": {"frames": {"shape": [None, length, causal_models.WIDTH]}}}
    result = pipeline.convert("tests.causal_models:causal_attention", tmp_path / "out", config)
    assert_converted(result)
    if mask == "arange":
        assert "Range" in _ops(result.out_dir / "model.onnx")  # the mask is computed from the length
    assert "fold_shape_arithmetic" in fired(result)


@pytest.mark.slow
def test_keras_hub_whisper_backbone(tmp_path: Path) -> None:
    """Whisper's decoder builds its causal mask with Range and Equal on the decoder length."""
    path = tmp_path / "whisper.keras"
    causal_models.whisper_backbone().save(path)
    result = pipeline.convert(path, tmp_path / "out")
    assert_converted(result)
    assert {"Range", "Equal"} <= _ops(result.out_dir / "model.onnx")
    assert not {"Range", "Equal"} & _ops(result.out_dir / "model_fixed.onnx")  # folded into constants
