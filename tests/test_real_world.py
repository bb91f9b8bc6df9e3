"""Real-world model kinds convert through the ONNX route and pass with default settings: keras-hub
transformer backbones loaded from `.keras` archives, bfloat16 layers, mixed_float16, a detection head."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline
from pipeline.errors import InputSpecError
from tests import real_world_models
from tests.checks import assert_converted, fired


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["bert", "gpt2", "distilbert", "vit"])
def test_keras_hub_backbone_archive(tmp_path: Path, kind: str) -> None:
    path = real_world_models.save(real_world_models.keras_hub_backbone(kind), tmp_path, kind)
    result = pipeline.convert(path, tmp_path / "out")
    assert_converted(result)
    assert "fold_shape_arithmetic" in fired(result)
    if kind != "vit":  # token ids span the vocabulary found inside the embedding layer
        ids = next(s for s in result.report["inputs"] if s["name"] == "token_ids")
        assert ids["high"] == 100.0 and "vocabulary" in ids["range_reason"]


@pytest.mark.slow
def test_sequence_past_the_position_table_is_the_users_input(tmp_path: Path) -> None:
    path = real_world_models.save(real_world_models.keras_hub_backbone("distilbert"), tmp_path, "distilbert")
    config = {"inputs": {"token_ids": {"shape": [None, 40]}, "padding_mask": {"shape": [None, 40]}}}
    with pytest.raises(InputSpecError) as raised:
        pipeline.convert(path, tmp_path / "out", config)
    assert raised.value.exit_code == 2 and "do not fit" in raised.value.message
    assert "'token_ids' [None, 40]" in raised.value.message and "position_embedding" in str(raised.value)


@pytest.mark.slow
def test_bfloat16_layer(tmp_path: Path) -> None:
    result = pipeline.convert(real_world_models.bfloat16_dense(), tmp_path / "out")
    assert_converted(result)
    assert "emulate_bfloat16" in fired(result)
    assert any("bfloat16" in note for note in result.report.get("notes", []))


@pytest.mark.slow
def test_mixed_float16_policy(tmp_path: Path) -> None:
    result = pipeline.convert(real_world_models.mixed_float16_classifier(), tmp_path / "out")
    assert_converted(result)
    assert any("float16" in note and "widened" in note for note in result.report.get("notes", []))


@pytest.mark.slow
def test_detection_head_resizes_to_another_feature_map(tmp_path: Path) -> None:
    result = pipeline.convert(real_world_models.detection_head(), tmp_path / "out")
    assert_converted(result)
