"""The three-way validator: input sets, node placement, blame, and localisation of injected faults.

Faults are injected into real artifacts: a perturbed Conv weight in an ONNX file (the export stage
is to blame), a wrong torch module for one ONNX node (the import stage is to blame), an ONNX file
exported with a fixed batch. The validator must name the node and the Keras layer.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pipeline
from pipeline.config import ConversionConfig
from pipeline.context import TensorSpec
from pipeline.flow import validate_artifacts
from tests.conftest import run_cli

CONV2 = "StatefulPartitionedCall/seed_cnn_1/conv2_1/convolution"


# --------------------------------------------------------------------------- helpers


def _perturb_conv_weight(source: Path, dest: Path, layer: str = "conv2") -> str:
    """Copy an ONNX file with one output channel of ``layer``'s Conv kernel scaled by 1.5; returns the node."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(source))
    initializers = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Conv" and f"/{layer}" in node.name:
            weight = initializers[node.input[1]]
            value = numpy_helper.to_array(weight).copy()
            value[3] *= 1.5
            weight.CopyFrom(numpy_helper.from_array(value, weight.name))
            onnx.save(model, str(dest))
            return node.name
    raise AssertionError(f"no Conv node in {layer}")


def _export_fixed_batch(keras_path: Path, dest: Path, batch: int) -> Path:
    """Export a Keras model with tf2onnx the way a user would by mistake: a fixed batch in the signature."""
    import keras
    import onnx
    import tensorflow as tf
    import tf2onnx

    model = keras.saving.load_model(keras_path, compile=False)
    function = tf.function(lambda x: model(x, training=False))
    proto, _ = tf2onnx.convert.from_function(
        function, input_signature=[tf.TensorSpec([batch, 64, 64, 3], tf.float32, name="image")], opset=15
    )
    onnx.save(proto, str(dest))
    return dest


def _walk(report: dict[str, Any], pair: str) -> dict[str, Any]:
    walk = report["diagnosis"]["localization"][pair]
    assert walk["status"] == "diverged", json.dumps(walk, indent=1)[:3000]
    return walk


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            if key in ("src", "href") and value:
                self.links.append(value)


# --------------------------------------------------------------------------- fast: no conversion


def test_input_sets_cover_batches_and_edges_with_ids_in_range() -> None:
    from pipeline.inputs import SET_PURPOSES, describe_sets, make_input_sets

    specs = [
        TensorSpec("image", [None, 8, 8, 3], "float32", low=0.0, high=255.0),
        TensorSpec("tokens", [None, 6], "int32", low=0.0, high=50.0),
    ]
    sets = make_input_sets(specs, ConversionConfig(batch_size=3))
    assert list(sets) == ["random", "batch1", "zeros", "large", "negative"]
    assert sets["random"]["image"].shape == (3, 8, 8, 3) and sets["batch1"]["image"].shape == (1, 8, 8, 3)
    assert not sets["zeros"]["image"].any()
    large = sets["large"]["image"]  # the extremes of the range, both ends, never outside it
    assert ((large >= 242.25) | (large <= 12.75)).all() and large.min() >= 0 and large.max() <= 255
    assert (large > 128).any() and (large < 128).any()
    assert (sets["negative"]["image"] < 0).all()
    for arrays in sets.values():  # token ids stay inside the vocabulary in every set
        assert arrays["tokens"].dtype == np.int32
        assert arrays["tokens"].min() >= 0 and arrays["tokens"].max() <= 49
    assert sets["large"]["tokens"].max() == 49 and sets["zeros"]["tokens"].max() == 0
    described = {d["name"]: d for d in describe_sets(sets, specs)}
    assert described["random"]["batch"] == 3 and described["large"]["batch"] == 1
    assert all(d["purpose"] == SET_PURPOSES[name] for name, d in described.items())
    ids_only = make_input_sets([specs[1]], ConversionConfig())
    assert list(ids_only) == ["random", "batch1"]  # edge sets only where there is a float input


def test_run_errors_fail_the_pair_and_blame_the_first_artifact_that_cannot_run() -> None:
    from pipeline.config import Tolerance
    from pipeline.stages.diagnose import diagnose
    from pipeline.stages.validate import validate

    rng = np.random.default_rng(0)
    y = {"out": rng.normal(size=(2, 4)).astype(np.float32)}
    y1 = {"out": rng.normal(size=(1, 4)).astype(np.float32)}
    runs = {"tf": {"random": y, "batch1": y1}, "ort": {"batch1": y1}, "torch": {"batch1": y1}}
    errors = {"ort": {"random": "Got invalid dimensions for input: image"}, "torch": {"random": "guard failed"}}
    result = validate(runs, lambda _: Tolerance(), errors)
    assert result["tf_vs_ort"].passed is False
    assert "did not run in ONNX Runtime" in (result["tf_vs_ort"].sets["random"].error or "")
    assert result["tf_vs_ort"].sets["batch1"].passed is True
    verdict = diagnose(
        result, errors, fixed_batch=[{"input": "image", "axis": 0, "size": 1}], batches={"random": 2, "batch1": 1}
    )
    assert verdict["blame"] == ["export"]
    assert any("FIXED BATCH" in f and "'image'" in f for f in verdict["findings"])


def test_localize_mode_is_checked(tmp_path: Path) -> None:
    from pipeline.config_files import load_for_model

    good = tmp_path / "good.yaml"
    good.write_text("localize: always\nedge_inputs: false\n")
    config = load_for_model(good, None)
    assert (config.localize, config.edge_inputs) == ("always", False)
    bad = tmp_path / "bad.yaml"
    bad.write_text("opset: 15\nlocalize: sometimes\n")
    with pytest.raises(pipeline.ConfigError, match=f"{bad}:2: localize: expected one of on_failure, always, never"):
        load_for_model(bad, None)


def test_onnxruntime_records_nodes_per_provider(model_files: dict[str, Path]) -> None:
    from pipeline.stages import onnxruntime_run

    x = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    run = onnxruntime_run.run(model_files["onnx"], {"one": {"image": x}})
    placement = run.placement["nodes_by_provider"]
    assert run.providers[-1] == "CPUExecutionProvider"
    assert set(placement) <= set(run.providers) and placement["CPUExecutionProvider"]["nodes"] > 0
    assert placement["CPUExecutionProvider"]["ops"].get("Conv") == 2


def test_pickled_torch_files_are_refused(tmp_path: Path) -> None:
    from pipeline.artifacts import check_torch_file

    state = tmp_path / "weights.pth"
    state.write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(pipeline.UnsafeModelError, match="pickled"):
        check_torch_file(state)
    archive = tmp_path / "model.pt2"
    config = {"config": {"w": {"path_name": "weight_0", "use_pickle": True}}}
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("model/models/model.json", "{}")
        handle.writestr("model/data/weights/model_weights_config.json", json.dumps(config))
    with pytest.raises(pipeline.UnsafeModelError, match="pickled object"):
        check_torch_file(archive)


def test_error_plot_is_self_contained_svg() -> None:
    import xml.etree.ElementTree as ET

    from pipeline.report_validation import error_plot

    trail = [
        {"index": i, "node": f"n{i}", "op": "Conv", "layer": f"l{i}", "error": e, "passed": e < 1e-4}
        for i, e in enumerate([1e-7, 2e-7, 0.5, 0.4, 0.0])
    ]
    svg = ET.fromstring(error_plot(trail, 1e-4, trail[2], label="Keras layer"))
    circles = [c for c in svg.iter() if c.tag.endswith("circle")]
    assert len(circles) == 5 and [c.get("fill") for c in circles].count("#c62828") == 2
    texts = " ".join(t.text or "" for t in svg.iter() if t.tag.endswith("text"))
    assert "first divergence: l2" in texts and "tolerance 0.0001" in texts


# --------------------------------------------------------------------------- with real conversions


def test_wrong_torch_module_is_named_as_first_divergence(
    model_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A converter that builds the wrong module for one node: the import stage is blamed, that node named."""
    from onnx2torch.utils.common import OperationConverterResult
    from torch import nn

    from pipeline.stages import importer

    target = "StatefulPartitionedCall/seed_cnn_1/conv2_1/Relu"
    original = importer.find_converter

    def find_converter(domain: str, op_type: str, opset: int) -> Any:
        converter, where = original(domain, op_type, opset)
        if op_type != "Relu" or converter is None:
            return converter, where

        def wrong(node: Any, graph: Any) -> OperationConverterResult:
            result = converter(node, graph)
            if node.name == target:
                return OperationConverterResult(torch_module=nn.LeakyReLU(0.3), onnx_mapping=result.onnx_mapping)
            return result

        return wrong, where

    monkeypatch.setattr(importer, "find_converter", find_converter)
    # layout channels_first: model.py takes NCHW, so model.pt2 (the torch runtime under test) stays the
    # ONNX route's program, where the fault is planted
    result = pipeline.convert(str(model_files["keras"]), tmp_path / "out", {"layout": "channels_first"})
    report = result.report
    assert result.status == "failed"
    assert report["validation"]["tf_vs_ort"]["passed"] is True
    assert report["validation"]["ort_vs_torch"]["passed"] is False
    assert report["diagnosis"]["blame"] == ["import"]
    walk = _walk(report, "ort_vs_torch")
    first = walk["first_divergence"]
    assert (first["node"], first["op"], first["layer"]) == (target, "Relu", "conv2")
    assert "LeakyReLU" in first["detail"] and first["inputs_agree"] is True
    assert "tf_vs_ort" not in report["diagnosis"]["localization"]  # only the failing stage is walked
    md = (result.out_dir / "report.md").read_text()
    assert "**Blame: import**" in md and "**First divergence** (stage: import)" in md and target in md
    page = _Html()
    page.feed((result.out_dir / "report.html").read_text())
    assert "svg" in page.tags and "circle" in page.tags and not page.links


def test_a_fixup_that_corrupts_a_weight_is_blamed(
    model_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TF != ORT on the fixed graph, but the unfixed export agrees with TF: the fixups are to blame."""
    import onnx
    from onnx import numpy_helper

    from pipeline import fixups
    from pipeline.fixups.base import Fixup, FixupResult

    def scale_conv2_kernel(model: onnx.ModelProto, context: Any) -> FixupResult[onnx.ModelProto]:
        """Scales one channel of conv2's kernel (a broken fixup, for this test).

        Stands for a fixup with a bug.
        """
        model = onnx.ModelProto.FromString(model.SerializeToString())  # a copy: the input stays as it was
        inits = {i.name: i for i in model.graph.initializer}
        node = next(n for n in model.graph.node if n.op_type == "Conv" and "/conv2" in n.name)
        value = numpy_helper.to_array(inits[node.input[1]]).copy()
        value[5] *= 1.5
        inits[node.input[1]].CopyFrom(numpy_helper.from_array(value, node.input[1]))
        return FixupResult(model, [f"scaled a channel of {node.name}"])

    broken = fixups.DEFAULT_FIXUPS.plus(("scale_conv2_kernel", Fixup.of(scale_conv2_kernel)))
    monkeypatch.setattr(fixups, "DEFAULT_FIXUPS", broken)
    # layout channels_first: model.py takes NCHW, so model.pt2 (the torch runtime under test) stays the
    # ONNX route's program, where the fault is planted
    result = pipeline.convert(str(model_files["keras"]), tmp_path / "out", {"layout": "channels_first"})
    report = result.report
    assert report["validation"]["tf_vs_ort"]["passed"] is False
    assert report["validation"]["ort_vs_torch"]["passed"] is True
    assert report["diagnosis"]["blame"] == ["fixups"]
    first = _walk(report, "tf_vs_ort")["first_divergence"]
    assert first["layer"] == "conv2" and first["suspect_nodes"][0]["op"] == "Conv"


def test_validate_names_the_layer_of_a_perturbed_conv_weight(model_files: dict[str, Path], tmp_path: Path) -> None:
    """``validate`` passes on the correct ONNX file; with one Conv weight changed it blames the export."""
    good = validate_artifacts(str(model_files["keras"]), model_files["onnx"], out_dir=tmp_path / "good")
    assert good.status == "passed", json.dumps(good.report["validation"], indent=1)[:3000]
    assert good.report["mode"] == "validate"
    assert any("by position" in n for n in good.report["notes"])  # tf2onnx named the output output_0
    assert good.report["diagnosis"]["blame"] == [] and good.report["diagnosis"]["localization"] == {}

    node = _perturb_conv_weight(model_files["onnx"], tmp_path / "perturbed.onnx")
    bad = validate_artifacts(str(model_files["keras"]), tmp_path / "perturbed.onnx", out_dir=tmp_path / "bad")
    report = bad.report
    assert bad.status == "failed"
    assert report["validation"]["tf_vs_ort"]["passed"] is False
    assert report["validation"]["ort_vs_torch"]["passed"] is True
    assert report["diagnosis"]["blame"] == ["export"]
    first = _walk(report, "tf_vs_ort")["first_divergence"]
    assert first["layer"] == "conv2" and first["layer_class"] == "Conv2D"
    assert node in [n["node"] for n in first["layer_nodes"]]
    assert [s["node"] for s in first["suspect_nodes"]] == [node]
    assert all(e["passed"] for e in report["diagnosis"]["localization"]["tf_vs_ort"]["trail"][: first["index"]])


def test_fixed_batch_export_is_caught(model_files: dict[str, Path], tmp_path: Path) -> None:
    onnx_file = _export_fixed_batch(model_files["keras"], tmp_path / "fixed.onnx", batch=1)
    result = validate_artifacts(str(model_files["keras"]), onnx_file, out_dir=tmp_path / "out")
    report = result.report
    assert result.status == "failed" and result.error is None
    random_set = report["validation"]["tf_vs_ort"]["sets"]["random"]
    assert random_set["passed"] is False and "did not run in ONNX Runtime" in random_set["error"]
    assert report["validation"]["tf_vs_ort"]["sets"]["batch1"]["passed"] is True
    assert "export" in report["diagnosis"]["blame"]
    assert any("FIXED BATCH" in f and "fixed batch of 1" in f for f in report["diagnosis"]["findings"])
    md = (result.out_dir / "report.md").read_text()
    assert "FIXED BATCH" in md and "**did not run**" in md


def test_validate_cli_with_a_torch_program(model_files: dict[str, Path], tmp_path: Path) -> None:
    converted = pipeline.convert(str(model_files["keras"]), tmp_path / "conv")
    assert converted.passed
    program = tmp_path / "given.pt2"
    shutil.copyfile(converted.out_dir / "model.pt2", program)
    out = tmp_path / "check"
    proc = run_cli(
        "validate", str(model_files["keras"]), "--onnx", str(converted.out_dir / "model.onnx"),
        "--torch", str(program), "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "passed" and report["validated_artifacts"]["torch"] == str(program.resolve())
    assert not any(s["name"] == "import" for s in report["stages"])  # the given program ran, nothing was imported
    assert (out / "report.html").is_file()
    proc = run_cli("validate", str(model_files["keras"]), "--onnx", str(converted.out_dir / "model.onnx"),
                   "--torch", str(tmp_path / "weights.pth"), "--out", str(tmp_path / "x"))  # fmt: skip
    assert proc.returncode == 2 and "weights.pth" in proc.stderr
