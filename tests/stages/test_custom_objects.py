"""Custom objects: `module:Class` found beside the config or the model, the missing class named from the archive."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import ConversionConfig
from pipeline.config_files import load_for_model
from pipeline.errors import UnsafeModelError, UserError
from pipeline.sources import Source, SourceKind
from pipeline.stages.load import load_model
from tests.conftest import run_cli

MODULE = "k2t_scale_layers"  # a name nothing installed uses, so only the folders can provide it
LAYER_CODE = '''
import keras


class Scale(keras.layers.Layer):
    """Multiplies by a factor from its config (custom code a Keras archive cannot carry)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``project/k2t_scale_layers.py`` and ``project/model.keras`` using its ``Scale`` layer."""
    import keras

    folder = tmp_path_factory.mktemp("project")
    (folder / f"{MODULE}.py").write_text(LAYER_CODE)
    spec = importlib.util.spec_from_file_location(MODULE, folder / f"{MODULE}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE] = module
    try:
        spec.loader.exec_module(module)
        inputs = keras.Input((3,), name="x")
        model = keras.Model(inputs, module.Scale(3.0, name="scale")(keras.layers.Dense(2, name="dense")(inputs)))
        model.save(folder / "model.keras")
    finally:
        del sys.modules[MODULE]  # from here on only the folder lookup can find it
    return folder


def _load(model: Path, config: ConversionConfig) -> object:
    return load_model(Source(SourceKind.KERAS, str(model)), config)


def test_missing_class_is_named_with_the_config_lines_that_load_it(project: Path) -> None:
    with pytest.raises(UnsafeModelError) as raised:
        _load(project / "model.keras", ConversionConfig())
    error = raised.value
    assert error.exit_code == 2 and f"Scale (module {MODULE})" in error.message
    assert error.hint and f'custom_objects: ["{MODULE}:Scale"]' in error.hint
    assert "allow_custom_objects: true" in error.hint and MODULE not in sys.modules


def test_module_beside_the_config_file_loads_and_leaves_sys_path_alone(project: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(project / "model.keras", models / "model.keras")  # the model elsewhere: only the config's folder has it
    config_file = project / "convert.yaml"
    config_file.write_text(f"allow_custom_objects: true\ncustom_objects: ['{MODULE}:Scale']\n")
    path_before = list(sys.path)
    try:
        loaded = _load(models / "model.keras", load_for_model(config_file, None))
        assert sys.path == path_before
        assert Path(sys.modules[MODULE].__file__ or "").parent == project.resolve()
        out = loaded.function(np.ones((1, 3), np.float32))[0].numpy()  # type: ignore[attr-defined]
        dense = loaded.keras_model.get_layer("dense")  # type: ignore[attr-defined]
        assert np.allclose(out, 3.0 * dense(np.ones((1, 3), np.float32)).numpy(), atol=1e-6)
    finally:
        sys.modules.pop(MODULE, None)


def test_module_beside_the_model_loads_without_a_config_file(project: Path) -> None:
    config = ConversionConfig(allow_custom_objects=True, custom_objects=(f"{MODULE}:Scale",))
    try:
        loaded = _load(project / "model.keras", config)
        assert "scale" in loaded.layers  # type: ignore[attr-defined]
    finally:
        sys.modules.pop(MODULE, None)


def test_entry_that_is_nowhere_names_where_it_was_looked_for(project: Path, tmp_path: Path) -> None:
    models = tmp_path / "elsewhere"
    models.mkdir()
    shutil.copy(project / "model.keras", models / "model.keras")
    config = ConversionConfig(allow_custom_objects=True, custom_objects=("k2t_absent_layers:Scale",))
    with pytest.raises(UserError) as raised:
        _load(models / "model.keras", config)
    assert "k2t_absent_layers" in raised.value.message and str(models.resolve()) in raised.value.message
    assert raised.value.hint and "beside the config file or the model file" in raised.value.hint


@pytest.mark.slow
def test_convert_finds_the_module_beside_the_config_as_the_readme_says(project: Path, tmp_path: Path) -> None:
    config_file = project / "readme.yaml"
    config_file.write_text(f"allow_custom_objects: true\ncustom_objects: ['{MODULE}:Scale']\n")
    model = str(project / "model.keras")
    proc = run_cli("convert", model, "--config", str(config_file), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    refused = run_cli("convert", model, "--out", str(tmp_path / "refused"), cwd=tmp_path)
    assert refused.returncode == 2 and f'custom_objects: ["{MODULE}:Scale"]' in refused.stderr, refused.stderr
