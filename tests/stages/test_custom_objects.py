"""Custom objects: `module:Class` found beside the config or the model, the missing class named from the archive."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import ConversionConfig
from pipeline.config_files import load_for_model
from pipeline.errors import UnsafeModelError, UserError
from pipeline.sources import Source, SourceKind
from pipeline.stages.custom_objects import local_module_file, module_files, search_folders
from pipeline.stages.load import load_model
from tests.conftest import ROOT, run_cli

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


def test_module_beside_the_config_file_wins_and_sys_path_is_left_alone(project: Path, tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(project / "model.keras", models / "model.keras")
    (models / f"{MODULE}.py").write_text("raise ImportError('the copy beside the model must not win')\n")
    config_file = project / "convert.yaml"
    config_file.write_text(f"allow_custom_objects: true\ncustom_objects: ['{MODULE}:Scale']\n")
    path_before = list(sys.path)
    try:
        loaded = _load(models / "model.keras", load_for_model(config_file, None))
        assert sys.path == path_before
        assert Path(sys.modules[MODULE].__file__ or "").parent == project.resolve()
        folders = search_folders(load_for_model(config_file, None), str(models / "model.keras"))
        assert folders == [project.resolve(), models.resolve()]
        assert local_module_file(MODULE, folders) == project.resolve() / f"{MODULE}.py"
        with_source = replace(load_for_model(config_file, None), source=str(models / "model.keras"))
        assert module_files(with_source) == {f"{MODULE}:Scale": str(project.resolve() / f"{MODULE}.py")}
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


def test_a_batch_result_is_stale_once_the_module_beside_the_config_changes(project: Path, tmp_path: Path) -> None:
    from pipeline.batch import fingerprint

    folder = tmp_path / "batch"
    shutil.copytree(project, folder)
    config = ConversionConfig(
        source="model.keras", base_dir=str(folder), allow_custom_objects=True, custom_objects=(f"{MODULE}:Scale",)
    )
    before = fingerprint(config, "code", {})
    (folder / f"{MODULE}.py").write_text(LAYER_CODE + "\n# edited\n")
    assert fingerprint(config, "code", {}) != before


def test_entry_that_is_nowhere_names_where_it_was_looked_for(project: Path, tmp_path: Path) -> None:
    models = tmp_path / "elsewhere"
    models.mkdir()
    shutil.copy(project / "model.keras", models / "model.keras")
    config = ConversionConfig(allow_custom_objects=True, custom_objects=("k2t_absent_layers:Scale",))
    with pytest.raises(UserError) as raised:
        _load(models / "model.keras", config)
    assert "k2t_absent_layers" in raised.value.message and str(models.resolve()) in raised.value.message
    assert raised.value.hint and "beside the config file or the model file" in raised.value.hint


def test_h5_custom_class_is_named_from_the_files_model_config(tmp_path: Path) -> None:
    import tf_keras

    class Doubler(tf_keras.layers.Layer):
        def call(self, x: object) -> object:
            return x * 2  # type: ignore[operator]

    inputs = tf_keras.Input((3,))
    tf_keras.Model(inputs, Doubler(name="double")(tf_keras.layers.Dense(2)(inputs))).save(tmp_path / "m.h5")
    with pytest.raises(UnsafeModelError) as raised:
        load_model(Source(SourceKind.H5, str(tmp_path / "m.h5")), ConversionConfig())
    assert "Doubler (" in raised.value.message and "Dense" not in raised.value.message
    assert raised.value.hint and '"my_layers:Doubler"' in raised.value.hint


def _readme_config() -> str:
    """The README's example config for custom objects, as printed there."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```yaml\n# my_project/convert.yaml\n", 1)[1].split("```", 1)[0]
    return "# my_project/convert.yaml\n" + block


@pytest.mark.slow
def test_the_readme_example_converts_as_written(tmp_path: Path) -> None:
    """my_project/{convert.yaml, my_layers.py, model.keras}, converted from the folder above without PYTHONPATH."""
    import keras

    project = tmp_path / "my_project"
    project.mkdir()
    (project / "my_layers.py").write_text(LAYER_CODE)
    (project / "convert.yaml").write_text(_readme_config())
    spec = importlib.util.spec_from_file_location("my_layers", project / "my_layers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("my_layers")
    sys.modules["my_layers"] = module
    try:
        spec.loader.exec_module(module)
        inputs = keras.Input((3,), name="x")
        keras.Model(inputs, module.Scale(3.0)(keras.layers.Dense(2)(inputs))).save(project / "model.keras")
    finally:
        sys.modules.pop("my_layers")
        if saved is not None:
            sys.modules["my_layers"] = saved
    command = ["convert", "my_project/model.keras", "--config", "my_project/convert.yaml", "--out", "out"]
    proc = run_cli(*command, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    refused = run_cli("convert", "my_project/model.keras", "--out", "refused", cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert "Scale (module my_layers)" in refused.stderr and 'custom_objects: ["my_layers:Scale"]' in refused.stderr
