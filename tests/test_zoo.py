"""The keras.applications zoo (configs/zoo.yaml): each model converts and validates with default settings.

Slow (a minute or more per model, up to 8 GB per worker process): ``make test-slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline
from pipeline.config_files import load_batch
from tests.checks import assert_converted, fired

ZOO = Path(__file__).resolve().parent.parent / "configs" / "zoo.yaml"
ISSUE_LIST = [
    "MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large", "ResNet50", "ResNet50V2", "DenseNet121",
    "InceptionV3", "InceptionResNetV2", "Xception", "NASNetMobile", "EfficientNetB0", "EfficientNetV2B0",
    "ConvNeXtTiny", "VGG16",
]  # fmt: skip


def test_zoo_config_lists_every_model() -> None:
    batch = load_batch(ZOO)
    assert [m.name for m in batch.models] == ISSUE_LIST
    for entry in batch.models:
        assert entry.source == f"keras.applications:{entry.name}"
        if entry.name.startswith("MobileNetV3"):
            assert entry.kwargs["input_shape"] == [224, 224, 3]


@pytest.mark.slow
@pytest.mark.parametrize("name", ISSUE_LIST)
def test_zoo_model_converts(name: str, tmp_path: Path) -> None:
    config = next(m for m in load_batch(ZOO).models if m.name == name)
    result = pipeline.convert(config.source, tmp_path / name, config, isolate=True, raise_on_error=False)
    assert_converted(result)
    assert result.report["logits_compared"], "softmax heads are compared as logits"
    if name == "ConvNeXtTiny":
        assert "inline_xla_calls" in fired(result)
