"""A `.keras` archive that needs a package which is not installed: the error names the package and classes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

import pipeline
from pipeline.errors import NotAModelError
from pipeline.stages.archive_refs import archive_config, custom_classes, missing_packages


def _archive_from_a_missing_package(tmp_path: Path) -> Path:
    """A real Keras archive whose layer claims to come from ``hub_models_absent`` (as keras_hub's would)."""
    import keras

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(inputs))
    saved = tmp_path / "saved.keras"
    model.save(saved)
    config = json.loads(zipfile.ZipFile(saved).read("config.json"))
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Dense":
            layer.update(module="hub_models_absent.src.layers", class_name="HubDense", registered_name="hub>HubDense")
    target = tmp_path / "hub.keras"
    with zipfile.ZipFile(saved) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.namelist():
            data = json.dumps(config).encode() if item == "config.json" else src.read(item)
            dst.writestr(item, data)
    return target


def test_missing_package_is_named(tmp_path: Path) -> None:
    path = _archive_from_a_missing_package(tmp_path)
    config = archive_config(str(path))
    assert missing_packages(config) == {"hub_models_absent": ["HubDense"]}
    assert custom_classes(config) == ["hub>HubDense"]
    with pytest.raises(NotAModelError) as raised:
        pipeline.convert(path, tmp_path / "out")
    assert raised.value.exit_code == 2 and "hub_models_absent (for HubDense)" in raised.value.message
    assert raised.value.hint and "pip install hub_models_absent" in raised.value.hint
