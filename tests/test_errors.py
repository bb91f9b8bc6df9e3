"""Bad input gets one clear message naming the problem and where, a non-zero exit, no half-written output."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pipeline
from pipeline.outdir import MARKER
from tests.conftest import ROOT, run_cli

ERROR_DIR_CONTENT = {"report.json", "report.md", "report.html", "logs", MARKER}


def _assert_clean_error(proc: subprocess.CompletedProcess[str], out: Path, stage: str, *needles: str) -> dict:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    message = proc.stderr
    assert message.startswith("error: "), message
    for needle in needles:
        assert needle in message, (needle, message)
    assert {p.name for p in out.iterdir()} <= ERROR_DIR_CONTENT, sorted(p.name for p in out.iterdir())
    assert not list(out.parent.glob(f".{out.name}.partial-*"))
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "error"
    assert report["error"]["stage"] == stage
    return report


def test_missing_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("convert", str(tmp_path / "nope.keras"), "--out", str(out))
    _assert_clean_error(proc, out, "load", "not found", "nope.keras")


@pytest.mark.parametrize(
    ("name", "content", "needle"),
    [
        ("bad.keras", b"this is not a zip", "not a Keras 3 archive"),
        ("bad.h5", b"nothing hdf5 here", "not an HDF5 file"),
        ("bad.onnx", b"\x00\x01garbage protobuf\xff", "not a valid ONNX model"),
        ("notes.txt", b"hello", "unrecognised model file"),
    ],
)
def test_file_that_is_not_a_model(tmp_path: Path, name: str, content: bytes, needle: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    out = tmp_path / "out"
    proc = run_cli("convert", str(path), "--out", str(out))
    _assert_clean_error(proc, out, "load", needle, name)


def test_zip_that_is_not_a_keras_archive(tmp_path: Path) -> None:
    path = tmp_path / "fake.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a model")
    out = tmp_path / "out"
    proc = run_cli("convert", str(path), "--out", str(out))
    _assert_clean_error(proc, out, "load", "could not be read as a Keras model", "fake.keras")


def test_directory_that_is_not_a_savedmodel(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    out = tmp_path / "out"
    proc = run_cli("convert", str(folder), "--out", str(out))
    _assert_clean_error(proc, out, "load", "not a SavedModel")


def test_unsupported_tf_op_names_node_op_and_layer(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("convert", "tests.models:unsupported_tf_op", "--out", str(out))
    report = _assert_clean_error(proc, out, "export", "BesselI1e", "bessel_layer")
    assert report["error"]["op"] == "BesselI1e" and report["error"]["layer"] == "bessel_layer"


def test_unsupported_onnx_op_names_node(tmp_path: Path) -> None:
    from tests.models import onnx_without_torch_converter

    source = onnx_without_torch_converter(tmp_path / "inverse.onnx")
    out = tmp_path / "out"
    proc = run_cli("convert", str(source), "--out", str(out))
    report = _assert_clean_error(proc, out, "import", "Inverse", "matrix_inverse")
    assert report["error"]["node"] == "matrix_inverse"


def test_input_spec_that_does_not_fit(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("inputs:\n  image: {shape: [2, 32, 32]}\n")
    out = tmp_path / "out"
    proc = run_cli("convert", "example:seed_cnn", "--config", str(cfg), "--out", str(out))
    _assert_clean_error(proc, out, "inputs", "image", "rank 3", "[None, 64, 64, 3]")


def test_input_name_the_model_does_not_have(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("inputs:\n  pixels: {low: 0, high: 1}\n")
    out = tmp_path / "out"
    proc = run_cli("convert", "example:seed_cnn", "--config", str(cfg), "--out", str(out))
    _assert_clean_error(proc, out, "inputs", "pixels", "image")


def test_inputs_npz_with_wrong_shape(tmp_path: Path) -> None:
    np.savez(tmp_path / "in.npz", image=np.zeros((2, 32, 32, 3), np.float32))
    out = tmp_path / "out"
    proc = run_cli("convert", "example:seed_cnn", "--inputs", str(tmp_path / "in.npz"), "--out", str(out))
    _assert_clean_error(proc, out, "inputs", "image", "[2, 32, 32, 3]")


def test_bad_config_key_names_key_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("opset: 17\ntolerance:\n  atl: 1.0e-3\n")
    proc = run_cli("convert", "example:seed_cnn", "--config", str(cfg), "--out", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{cfg}:3" in proc.stderr and "tolerance.atl" in proc.stderr and "atol" in proc.stderr


def test_lambda_layer_needs_opt_in(model_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("convert", str(model_files["lambda"]), "--out", str(out))
    _assert_clean_error(proc, out, "load", "Lambda", "allow_custom_objects")
    cfg = tmp_path / "trust.yaml"
    cfg.write_text("allow_custom_objects: true\n")
    result = pipeline.convert(str(model_files["lambda"]), tmp_path / "trusted", cfg)
    assert result.passed


def test_api_raises_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(pipeline.SourceNotFoundError) as info:
        pipeline.convert(str(tmp_path / "missing.h5"), tmp_path / "out")
    assert info.value.stage == "load"
    with pytest.raises(pipeline.UnsupportedError) as info:
        pipeline.convert("tests.models:unsupported_tf_op", tmp_path / "out2")
    assert info.value.location is not None and info.value.location.op == "BesselI1e"


def test_interrupted_conversion_leaves_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env_cmd = [sys.executable, "-m", "pipeline", "convert", "example:seed_cnn", "--out", str(out)]
    proc = subprocess.Popen(
        env_cmd,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.time() + 60
    while time.time() < deadline and not list(tmp_path.glob(".out.partial-*/logs/tensorflow.log")):
        time.sleep(0.1)
    time.sleep(1.0)  # inside the TensorFlow worker
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert not out.exists()
    assert not list(tmp_path.glob(".out.*"))
