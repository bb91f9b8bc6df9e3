"""End to end: every source kind converts and validates; the CLI and the report behave as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pipeline
from tests.conftest import run_cli

PAIRS = ("tf_vs_ort", "ort_vs_torch", "tf_vs_torch")


def _assert_passed(result: pipeline.ConversionResult, pairs: tuple[str, ...] = PAIRS) -> None:
    assert result.status == "passed", json.dumps(result.report.get("validation"), indent=1)[:3000]
    for pair in pairs:
        assert result.report["validation"][pair]["passed"] is True


@pytest.mark.parametrize("kind", ["keras", "h5", "two_io", "tf_module", "keras_export"])
def test_file_sources_convert_and_validate(kind: str, model_files: dict[str, Path], tmp_path: Path) -> None:
    result = pipeline.convert(str(model_files[kind]), tmp_path / "out")
    _assert_passed(result)
    out = result.out_dir
    for artifact in (
        "model.onnx",
        "model_fixed.onnx",
        "model.pt2",
        "model.safetensors",
        "report.json",
        "report.md",
    ):
        assert (out / artifact).is_file(), artifact
    assert result.report["torch"]["dynamic_batch"] is True


def test_two_inputs_two_outputs_keep_names_and_order(model_files: dict[str, Path], tmp_path: Path) -> None:
    result = pipeline.convert(str(model_files["two_io"]), tmp_path / "out")
    _assert_passed(result)
    assert [s["name"] for s in result.report["inputs"]] == ["image", "tokens"]
    assert result.report["outputs"] == ["probs", "score"]
    tokens = next(s for s in result.report["inputs"] if s["name"] == "tokens")
    assert (tokens["low"], tokens["high"]) == (0.0, 50.0)  # the Embedding's vocabulary
    assert "probs:logits" in result.report["validation"]["tf_vs_torch"]["outputs"]


def test_callable_source_with_kwargs(tmp_path: Path) -> None:
    result = pipeline.convert("tests.models:tiny_cnn", tmp_path / "out")
    _assert_passed(result)


def test_onnx_source_skips_tensorflow(model_files: dict[str, Path], tmp_path: Path) -> None:
    result = pipeline.convert(str(model_files["onnx"]), tmp_path / "out")
    assert result.status == "passed"
    validation = result.report["validation"]
    assert validation["ort_vs_torch"]["passed"] is True
    assert validation["tf_vs_ort"]["passed"] is None and validation["tf_vs_torch"]["passed"] is None


def test_keras_model_object_and_torch_module(tmp_path: Path) -> None:
    import torch

    from tests.models import seed_cnn_keras

    model = seed_cnn_keras()
    result = pipeline.convert(model)
    _assert_passed(result)
    x = np.random.default_rng(0).uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
    with torch.no_grad():
        got = result.torch_module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, model(x, training=False).numpy(), rtol=1e-4, atol=1e-6)


def test_onnx_to_torch_alone(model_files: dict[str, Path]) -> None:
    import onnx
    import onnxruntime as ort
    import torch

    model = onnx.load(str(model_files["onnx"]))
    module = pipeline.onnx_to_torch(model)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 64, 64, 3)).astype(np.float32)
    expected = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"image": x}
    )
    with torch.no_grad():
        got = module(torch.from_numpy(x))
    np.testing.assert_allclose(got.numpy(), expected[0], rtol=1e-4, atol=1e-6)


def test_cli_example_and_program_without_onnx2torch(tmp_path: Path) -> None:
    out = tmp_path / "seed"
    proc = run_cli("convert", "example:seed_cnn", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "PASSED" in proc.stdout and "tf_vs_torch" in proc.stdout
    assert "] seed_cnn: export" in proc.stdout and "] seed_cnn: torch_run" in proc.stdout  # progress, plain lines
    # the program loads and runs, at other batch sizes, where onnx2torch cannot be imported
    script = (
        "import sys; sys.modules['onnx2torch'] = None; sys.modules['custom_ops'] = None\n"
        "import torch\n"
        f"m = torch.export.load({str(out / 'model.pt2')!r}).module()\n"
        "for b in (1, 5):\n"
        "    y = m(torch.zeros(b, 64, 64, 3))\n"
        "    assert tuple(y.shape) == (b, 10), y.shape\n"
        "print('ok')\n"
    )
    check = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert check.stdout.strip() == "ok", check.stderr[-2000:]
    from safetensors.numpy import load_file

    weights = load_file(str(out / "model.safetensors"))
    assert sum(v.size for v in weights.values()) == json.loads((out / "report.json").read_text())["torch"]["parameters"]


REQUIRED_TOP = {"status", "stages", "execution_providers", "inputs", "validation", "error", "name", "source"}


def test_report_schema(tmp_path: Path) -> None:
    result = pipeline.convert("example:seed_cnn", tmp_path / "out")
    report = json.loads((result.out_dir / "report.json").read_text())
    assert set(report) >= REQUIRED_TOP
    assert report["status"] == result.status == "passed"  # seed_cnn converts: a schema of a failure is not enough
    assert report["execution_providers"] and report["execution_providers"][-1] == "CPUExecutionProvider"
    for stage in report["stages"]:
        assert set(stage) >= {"name", "seconds", "status"} and stage["seconds"] >= 0
    assert {s["name"] for s in report["stages"]} >= {
        "load",
        "export",
        "fixups",
        "onnxruntime",
        "translate",  # model.py matched TensorFlow: model.pt2 is exported from it, not imported from ONNX
        "module_run",
        "torch_run",
        "validate",
    }
    spec = report["inputs"][0]
    assert set(spec) >= {"name", "shape", "dtype", "low", "high"}
    for pair in PAIRS:
        entry = report["validation"][pair]
        assert isinstance(entry["passed"], bool) and isinstance(entry["max_abs_error"], float)
        for comp in entry["outputs"].values():
            assert set(comp) >= {
                "passed",
                "max_abs_error",
                "max_rel_error",
                "mismatch_fraction",
                "needed_atol",
            }
    md = (result.out_dir / "report.md").read_text()
    assert "tf_vs_ort" in md and "Status" in md


def test_softmax_head_is_compared_as_logits(tmp_path: Path) -> None:
    result = pipeline.convert("example:seed_cnn", tmp_path / "out")
    outputs = result.report["validation"]["tf_vs_ort"]["outputs"]
    assert set(outputs) == {"predictions", "predictions:logits"}


def test_tolerances_from_config_are_applied(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("tolerance: {atol: 0.0, rtol: 0.0}\n")
    result = pipeline.convert("example:seed_cnn", tmp_path / "out", cfg)
    assert result.status == "failed"  # float32 runtimes never agree bit for bit
    comp = result.report["validation"]["ort_vs_torch"]["outputs"]["predictions:logits"]
    assert comp["passed"] is False and comp["needed_atol"] > 0


def test_user_inputs_npz(tmp_path: Path) -> None:
    x = np.random.default_rng(5).uniform(-1, 1, (3, 64, 64, 3)).astype(np.float32)
    np.savez(tmp_path / "in.npz", image=x)
    result = pipeline.convert("example:seed_cnn", tmp_path / "out", inputs=tmp_path / "in.npz")
    _assert_passed(result)
    with np.load(result.out_dir / "inputs.npz") as data:
        np.testing.assert_array_equal(data["user/image"], x)


def test_config_as_dict_is_checked(tmp_path: Path) -> None:
    result = pipeline.convert("example:seed_cnn", tmp_path / "out", {"batch_size": 3, "seed": 7})
    _assert_passed(result)
    assert result.report["inputs"][0]["shape"] == [None, 64, 64, 3]
    with pytest.raises(pipeline.ConfigError, match="batchsize"):
        pipeline.convert("example:seed_cnn", tmp_path / "out2", {"batchsize": 3})
