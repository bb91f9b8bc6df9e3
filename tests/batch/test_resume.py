"""Resuming: what a result's fingerprint follows, and when an earlier result is still current."""

from __future__ import annotations

from pathlib import Path

from pipeline.batch.resume import code_digest, fingerprint, reusable, tool_versions
from pipeline.config import ConversionConfig


def test_fingerprint_follows_source_and_config_not_limits(tmp_path: Path) -> None:
    model = tmp_path / "m.keras"
    model.write_bytes(b"v1")
    code, versions = code_digest(), tool_versions()
    cfg = ConversionConfig(name="m", source="m.keras", base_dir=str(tmp_path))
    first = fingerprint(cfg, code, versions)
    assert fingerprint(cfg.with_overrides(timeout_s=5.0, memory_gb=1.0, name="other"), code, versions) == first
    assert fingerprint(cfg.with_overrides(opset=15), code, versions) != first
    assert fingerprint(cfg.with_overrides(kwargs={"alpha": 0.5}), code, versions) != first
    assert fingerprint(cfg, code + "x", versions) != first
    model.write_bytes(b"v22")
    assert fingerprint(cfg, code, versions) != first
    callable_cfg = ConversionConfig(source="tests.batch_models:hang")
    assert fingerprint(callable_cfg, code, versions) == fingerprint(callable_cfg, code, versions)
    # a result cut short by a limit is current only under the same limit
    info = {"fingerprint": first, "limits": {"timeout_s": 20.0, "memory_gb": 4.0}}
    timed_out = {"status": "error", "error": {"kind": "timeout"}, "batch": info}
    assert reusable(timed_out, info, retry_failed=False)
    assert not reusable(timed_out, {**info, "limits": {"timeout_s": 60.0, "memory_gb": 4.0}}, retry_failed=False)
    assert reusable(timed_out, {**info, "limits": {"timeout_s": 20.0, "memory_gb": 8.0}}, retry_failed=False)
    assert not reusable(timed_out, info, retry_failed=True)
    assert not reusable({"status": "passed", "batch": info}, {**info, "fingerprint": "other"}, retry_failed=False)
