"""Config ``compile: aot``: an AOTInductor package beside model.pt2, checked against it."""

from __future__ import annotations

from pathlib import Path

import pytest

import pipeline
from pipeline.config_files import from_mapping
from pipeline.errors import ConfigError


def test_compile_mode_is_checked() -> None:
    assert from_mapping({"compile": "aot"}).compile == "aot"
    with pytest.raises(ConfigError, match="compile"):
        from_mapping({"compile": "jit"})


@pytest.mark.slow
def test_aot_package_is_written_and_checked(tmp_path: Path) -> None:
    result = pipeline.convert("example:seed_cnn", tmp_path / "out", {"compile": "aot"}, isolate=True)
    assert result.passed
    assert (result.out_dir / "model_aoti.pt2").is_file()
    stages = {s["name"]: s for s in result.report["stages"]}
    assert stages["aot_compile"]["seconds"] > 0 and stages["aot_run"]["status"] == "ok"
    assert any("agrees with model.pt2" in note for note in result.report["notes"])
