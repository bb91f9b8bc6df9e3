"""The training check on whole keras.applications models (BatchNorm in training mode): slow."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.harness import run_check


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet50", "MobileNetV2"])
def test_application_trains_as_keras(name: str, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model = getattr(keras.applications, name)(weights=None, input_shape=(96, 96, 3), classes=10)
    result = run_check(model, tmp_path)
    assert result["parameters"]["equal"], result["parameters"]
    assert result["passed"], result["first_divergence"]
    assert result["precision"] == {"keras": "float64", "torch": "float64", "why": ""}
    # every gradient in both modes and every weight's and moving statistic's change, in float64
    assert max(result["worst"].values()) < 1e-6, result["worst"]
    assert all(o["passed"] for o in result["outputs_training_mode"] + result["outputs_after_step"])
