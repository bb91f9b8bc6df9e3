"""External data is read only from files really inside the model's folder (symlinks, hard links, '..')."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

import pipeline
from pipeline.errors import NotAModelError
from pipeline.paths import inside

SECRET = np.arange(64, dtype=np.float32).tobytes()  # stands for a file outside the model (e.g. /etc/passwd)


def _model_with_external_data(folder: Path, location: str) -> Path:
    """An .onnx file whose one weight lives in external data at ``location`` (relative to ``folder``)."""
    weight = numpy_helper.from_array(np.zeros((8, 8), np.float32), "w")
    weight.ClearField("raw_data")
    weight.data_location = onnx.TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(len(SECRET)))):
        entry = weight.external_data.add()
        entry.key, entry.value = key, value
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 8])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 8])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    path.write_bytes(model.SerializeToString())
    return path


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    return secret


def _refused(source: Path, out: Path, needle: str) -> None:
    with pytest.raises(NotAModelError, match=needle):
        pipeline.convert(str(source), out)
    assert not (out / "model.onnx").exists() and not (out / "model.safetensors").exists()


def test_symlinked_data_file_is_refused(tmp_path: Path, outside: Path) -> None:
    source = _model_with_external_data(tmp_path / "model", "w.bin")
    (tmp_path / "model" / "w.bin").symlink_to(outside)
    _refused(source, tmp_path / "out", "symbolic link")
    assert outside.read_bytes() == SECRET


def test_hard_linked_data_file_is_refused(tmp_path: Path, outside: Path) -> None:
    source = _model_with_external_data(tmp_path / "model", "w.bin")
    os.link(outside, tmp_path / "model" / "w.bin")
    _refused(source, tmp_path / "out", "hard link")


def test_data_under_a_symlinked_folder_is_refused(tmp_path: Path, outside: Path) -> None:
    source = _model_with_external_data(tmp_path / "model", "sub/secret.bin")
    (tmp_path / "model" / "sub").symlink_to(outside.parent, target_is_directory=True)
    _refused(source, tmp_path / "out", "symbolic link")
    with pytest.raises(NotAModelError, match="outside the model's folder"):
        inside(tmp_path / "model", "sub/../../outside/secret.bin", "weight")


def test_a_plain_data_file_inside_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "w.bin").write_bytes(SECRET)
    assert inside(folder, "w.bin", "weight") == folder / "w.bin"
    linked = tmp_path / "linked"  # a model folder reached through a symlink is fine: the check is relative to it
    linked.symlink_to(folder, target_is_directory=True)
    assert inside(linked, "w.bin", "weight") == linked / "w.bin"
