"""The output-folder rule: only a folder the pipeline wrote is replaced; anything else is refused untouched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import outdir
from pipeline.errors import OutputFolderError
from tests.conftest import run_cli


def _earlier_result(target: Path, status: str = "passed") -> None:
    """A published result as a conversion leaves it (report, model file, logs), made by outdir itself."""
    staging = target.parent / f".{target.name}.partial-test"
    (staging / "logs").mkdir(parents=True)
    (staging / "model.pt2").write_bytes(b"earlier program")
    (staging / "report.json").write_text(json.dumps({"status": status, "name": "earlier"}))
    outdir.replace(staging, target, errored=False)


def _refused(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: [output] ")
    assert len(proc.stderr.strip().splitlines()) <= 2  # the message and its hint
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


def test_out_on_a_file_is_refused_and_kept(tmp_path: Path) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("mine")
    _refused(run_cli("convert", "example:seed_cnn", "--out", str(victim)), "is a file")
    assert victim.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["precious.txt"]


def test_out_on_a_foreign_folder_is_refused_and_kept(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "precious.txt").write_text("mine")
    _refused(run_cli("convert", "example:seed_cnn", "--out", str(folder)), "not written by keras2torch")
    assert [p.name for p in folder.iterdir()] == ["precious.txt"] and (folder / "precious.txt").read_text() == "mine"
    # a batch refuses it the same way
    config = tmp_path / "b.yaml"
    config.write_text("models:\n  - {name: m, source: example:seed_cnn}\n")
    _refused(run_cli("batch", str(config), "--out", str(folder)), "not written by keras2torch")
    assert [p.name for p in folder.iterdir()] == ["precious.txt"]


def test_out_on_the_source_folder_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    source = models / "m.keras"
    source.write_bytes(b"stands for a model")
    _refused(run_cli("convert", str(source), "--out", str(models)), "model's own files")
    _refused(run_cli("convert", str(source), "--out", str(tmp_path)), "model's own files")  # holds it, deeper
    assert source.read_bytes() == b"stands for a model"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["m.keras", "models"]


def test_out_dot_and_unwritable_places_are_refused_before_any_work(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    _refused(run_cli("convert", "example:seed_cnn", "--out", ".", cwd=tmp_path), "current folder")
    # /proc refuses new entries even to root (chmod 0o555 would not stop root, which these tests may run as)
    _refused(run_cli("convert", "example:seed_cnn", "--out", "/proc/k2t-test/x"), "cannot be written")
    assert not Path("/proc/k2t-test").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]  # no .partial, no probe left


def test_name_cannot_escape_out(tmp_path: Path) -> None:
    proc = run_cli("convert", "example:seed_cnn", "--name", "../../victim", cwd=tmp_path)
    assert proc.returncode == 2 and "--name '../../victim' cannot name an output folder" in proc.stderr
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent / "victim").exists()


def test_failed_rerun_keeps_the_earlier_result(tmp_path: Path) -> None:
    target = tmp_path / "out"
    _earlier_result(target)
    proc = run_cli("convert", str(tmp_path / "typo.keras"), "--out", str(target))
    assert proc.returncode == 2 and "the earlier result" in proc.stderr, proc.stderr
    assert (target / "model.pt2").read_bytes() == b"earlier program"
    assert json.loads((target / "report.json").read_text())["status"] == "passed"
    error = json.loads((target / outdir.LAST_ERROR / "report.json").read_text())
    assert error["status"] == "error" and "typo.keras" in error["error"]["message"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_only_a_folder_entirely_ours_is_replaced(tmp_path: Path) -> None:
    target = tmp_path / "out"
    _earlier_result(target, status="error")
    outdir.check_target(target)  # ours: may be replaced
    staging = tmp_path / "staging"
    staging.mkdir()
    (staging / "report.json").write_text(json.dumps({"status": "error"}))
    assert outdir.replace(staging, target, errored=True) == target  # an earlier error is not kept
    assert sorted(p.name for p in target.iterdir()) == [outdir.MARKER, "report.json"]
    (target / "notes.txt").write_text("added by hand")
    with pytest.raises(OutputFolderError, match=r"entries keras2torch did not write \(notes.txt\)"):
        outdir.check_target(target)
    link = tmp_path / "link"
    link.symlink_to(target)
    with pytest.raises(OutputFolderError, match="symbolic link"):
        outdir.check_target(link)
    assert (target / "notes.txt").read_text() == "added by hand"


def _tiny_onnx(path: Path) -> Path:
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    weight = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [None, 3])],
        [weight],
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    return path


def test_real_conversion_survives_a_failed_rerun_and_is_replaced_by_a_good_one(tmp_path: Path) -> None:
    import pipeline

    source, out = _tiny_onnx(tmp_path / "src" / "m.onnx"), tmp_path / "out"
    assert pipeline.convert(str(source), out).passed
    program = (out / "model.pt2").read_bytes()
    failed = pipeline.convert(str(tmp_path / "src" / "typo.onnx"), out, raise_on_error=False)
    assert failed.status == "error" and failed.out_dir == out / outdir.LAST_ERROR
    assert (out / "model.pt2").read_bytes() == program
    assert json.loads((out / "report.json").read_text())["status"] == "passed"
    again = pipeline.convert(str(source), out)  # a result replaces the folder, the kept error with it
    assert again.passed and again.out_dir == out and not (out / outdir.LAST_ERROR).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_outputs_from_before_the_marker_are_recognised_by_their_report(tmp_path: Path) -> None:
    legacy = tmp_path / "old"
    (legacy / "logs").mkdir(parents=True)
    (legacy / "report.json").write_text(json.dumps({"status": "passed"}))
    (legacy / "model.pt2").write_bytes(b"program")
    outdir.check_target(legacy)  # ours by its report and its entries
    (legacy / "precious.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="not written by keras2torch"):
        outdir.check_target(legacy)
    (tmp_path / "lookalike").mkdir()
    (tmp_path / "lookalike" / "report.json").write_text("[1, 2]")  # someone else's report.json
    with pytest.raises(OutputFolderError, match="not written by keras2torch"):
        outdir.check_target(tmp_path / "lookalike")
