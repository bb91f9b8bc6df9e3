"""The training check inside a conversion: on by default, its stages timed, its report sections,
its verdict in the conversion's status; ``check_training: false`` turns it off."""

from __future__ import annotations

from pathlib import Path

from pipeline.config_files import from_mapping
from pipeline.conversion import Conversion
from pipeline.sources import Source, SourceKind
from pipeline.stages.validate import PairResult


def test_compiled_model_conversion_reports_training(tmp_path: Path) -> None:
    import keras

    import pipeline
    from pipeline.examples import seed_cnn

    model = seed_cnn()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="categorical_crossentropy")
    result = pipeline.convert(model, tmp_path / "out", {"edge_inputs": False})
    assert result.passed
    training = result.report["training"]
    assert training["passed"] and training["step"]["torch_optimizer"] == "KerasRMSprop"
    stages = [s["name"] for s in result.report["stages"]]
    assert {"training_code", "training_tf", "training_torch", "training_compare"} <= set(stages)
    assert "## Training" in (tmp_path / "out" / "report.md").read_text()
    assert "<h2>Training</h2>" in (tmp_path / "out" / "report.html").read_text()
    assert "def make_optimizer(module):" in (tmp_path / "out" / "model.py").read_text()
    assert not list((tmp_path / "out").glob("training_*"))  # intermediate files do not stay


def test_failed_training_check_fails_the_conversion(tmp_path: Path) -> None:
    conv = Conversion(
        source=Source(SourceKind.EXAMPLE, "example:seed_cnn"), config=from_mapping({}), name="m", workspace=None
    )  # type: ignore[arg-type]
    conv.validation = {"tf_vs_module": PairResult(passed=True, max_abs_error=0.0)}
    assert conv.status == "passed"
    conv.training = {"passed": False, "first_divergence": "Keras layer 'bn1', weight 'moving_mean'"}
    assert conv.status == "failed"
    conv.training = {"passed": None, "skipped": "model.py did not run"}
    assert conv.status == "passed"


def test_check_training_key() -> None:
    assert from_mapping({}).check_training is True
    assert from_mapping({"check_training": False}).check_training is False
