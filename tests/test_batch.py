"""Batch conversions: isolation of every way a model can end, config errors per entry, resuming, interrupts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import psutil
import pytest

from pipeline.batch import _reusable, code_digest, fingerprint, tool_versions
from pipeline.config import ConversionConfig
from pipeline.config_files import load_batch, load_for_model
from pipeline.errors import ConfigError
from pipeline.outdir import MARKER
from tests.conftest import ROOT, run_cli

ERROR_CONTENT = {"report.json", "report.md", "report.html", "logs", MARKER}  # an error's folder at most
MIXED = ROOT / "tests" / "configs" / "batch_mixed.yaml"
EXPECTED = {  # name -> (status, kind)
    "seed_cnn": ("passed", None),
    "tiny_cnn": ("passed", None),
    "exact": ("failed", "validation"),
    "segfault": ("error", "crash"),
    "hang": ("error", "timeout"),
    "memory_hog": ("error", "out_of_memory"),
    "missing": ("error", "user_error"),
    "bad_key": ("error", "config_error"),
}


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


def _table(stdout: str) -> str:
    """The summary table and totals line the CLI prints at the end."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("model ") and "status" in line)
    end = next(i for i in range(start, len(lines)) if " passed, " in lines[i] and "(" in lines[i])
    return "\n".join(lines[start : end + 1])


# --------------------------------------------------------------------------- config parsing (no conversion)


def test_bad_entry_is_an_error_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(
        "defaults:\n"
        "  opset: 15\n"
        "models:\n"
        "  - {name: good, source: example:seed_cnn}\n"
        "  - name: typo\n"
        "    source: example:seed_cnn\n"
        "    opst: 17\n"
        "  - {name: no_source}\n"
        "  - {name: good, source: example:seed_cnn}\n"
        "  - just a string\n"
        "  - {source: example:seed_cnn, tolerance: {atol: -1}}\n"
    )
    batch = load_batch(path, strict=False)
    assert [e.name for e in batch.entries] == ["good", "typo", "no_source", "models[3]", "models[4]", "seed_cnn"]
    assert [m.name for m in batch.models] == ["good"] and batch.models[0].opset == 15
    errors = {e.name: str(e.error) for e in batch.entries if e.error is not None}
    assert f"{path}:7: models[1].opst: unknown key (did you mean 'opset'?)" in errors["typo"]
    assert f"{path}:8: models[2]: missing required key 'source'" in errors["no_source"]
    assert "models[3].name: duplicate model name 'good' (also models[0])" in errors["models[3]"]
    assert f"{path}:10: models[4]: expected a mapping" in errors["models[4]"]
    assert "models[5].tolerance.atol: must be >= 0" in errors["seed_cnn"]
    with pytest.raises(ConfigError, match="opst"):
        load_batch(path)  # strict: the first bad entry raises
    # `convert --config` picks its entry; a bad key elsewhere in the file does not matter, its own does
    assert load_for_model(path, "good").opset == 15
    with pytest.raises(ConfigError, match="opst"):
        load_for_model(path, "typo")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("models: [\n  {name: a\n", "not valid YAML"),
        ("name: single\nsource: example:seed_cnn\n", "not a batch file"),
        ("models: []\n", "expected a non-empty list"),
        ("defaults: {opset: 99}\nmodels:\n  - {source: example:seed_cnn}\n", "defaults.opset"),
        ("models:\n  - {source: example:seed_cnn}\nextra: 1\n", "unknown key next to 'models'"),
    ],
)
def test_unusable_batch_file_aborts(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(text)
    out = tmp_path / "out"
    proc = run_cli("batch", str(path), "--out", str(out), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and needle in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


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
    assert _reusable(timed_out, info, retry_failed=False)
    assert not _reusable(timed_out, {**info, "limits": {"timeout_s": 60.0, "memory_gb": 4.0}}, retry_failed=False)
    assert _reusable(timed_out, {**info, "limits": {"timeout_s": 20.0, "memory_gb": 8.0}}, retry_failed=False)
    assert not _reusable(timed_out, info, retry_failed=True)
    assert not _reusable({"status": "passed", "batch": info}, {**info, "fingerprint": "other"}, retry_failed=False)


# --------------------------------------------------------------------------- real batches


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    out = tmp_path_factory.mktemp("batch") / "out"
    proc = run_cli("batch", str(MIXED), "--out", str(out), "--jobs", "2", timeout=900)
    return out, proc


def test_every_failure_is_isolated_and_recorded(mixed_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, proc = mixed_run
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = _summary(out)
    got = {m["name"]: (m["status"], m["kind"]) for m in summary["models"]}
    assert got == EXPECTED
    assert [m["name"] for m in summary["models"]] == list(EXPECTED)  # file order
    assert (summary["passed"], summary["failed"], summary["errors"]) == (2, 1, 5)
    assert summary["complete"] and summary["workers_started"] == 7  # the bad entry never starts one
    assert "] tiny_cnn: export: starting the tensorflow worker" in proc.stdout  # each model's stage, plain lines
    by_name = {m["name"]: m for m in summary["models"]}
    assert "SIGSEGV" in by_name["segfault"]["message"]
    assert "timed out after 20 s" in by_name["hang"]["message"] and by_name["hang"]["seconds"] < 60
    assert "over the 2 GB cap" in by_name["memory_hog"]["message"]
    assert "does_not_exist.keras" in by_name["missing"]["message"]
    assert f"{MIXED}:25: models[7].tolerance.atl: unknown key" in by_name["bad_key"]["message"]
    for name, (status, _) in EXPECTED.items():
        report = json.loads((out / by_name[name]["report"]).read_text())
        assert report["status"] == status and report["batch"]["fingerprint"]
        assert (out / name / "report.md").is_file()
        if status == "error":  # an error leaves only the report and logs
            assert {p.name for p in (out / name).iterdir()} <= ERROR_CONTENT
    assert (out / "seed_cnn" / "model.pt2").is_file() and (out / "tiny_cnn" / "model.pt2").is_file()
    assert (out / "hang" / "logs" / "tensorflow.log").is_file()  # the killed worker's log is kept
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name not in (".batch.lock", MARKER)]
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "1", "5")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert cases["exact"].find("failure") is not None and cases["hang"].find("error").get("type") == "timeout"
    assert cases["seed_cnn"].find("failure") is None and cases["seed_cnn"].find("error") is None
    md = (out / "summary.md").read_text()
    assert "| hang | **error** | timeout |" in md and "[report](seed_cnn/report.md)" in md


def test_rerun_reuses_every_current_result(mixed_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    out, first = mixed_run
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/report.json")}
    assert len(before) == len(EXPECTED)
    start = time.monotonic()
    proc = run_cli("batch", str(MIXED), "--out", str(out), "--jobs", "2", timeout=300)
    seconds = time.monotonic() - start
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = _summary(out)
    # a crash (a process killed by a signal) is not a result: it is retried; everything else is reused
    assert summary["workers_started"] == 1 and summary["reused"] == len(EXPECTED) - 1
    assert [m["name"] for m in summary["models"] if not m["reused"]] == ["segfault"]
    after = {p: p.stat().st_mtime_ns for p in out.glob("*/report.json")}
    assert {p: t for p, t in after.items() if p.parent.name != "segfault"} == {
        p: t for p, t in before.items() if p.parent.name != "segfault"
    }  # nothing else rewritten

    def rows(stdout: str) -> list[str]:  # the retried crash took its own time
        return [row for row in _table(stdout).splitlines() if "segfault" not in row]

    assert rows(proc.stdout) == rows(first.stdout)
    assert seconds < 90, seconds  # no conversion but the crashed one, which dies while loading


def test_force_and_changed_source_redo_models(tmp_path: Path) -> None:
    config = tmp_path / "b.yaml"
    config.write_text("models:\n  - {name: missing, source: m.keras}\n  - {name: bad, source: m.keras, opset: 99}\n")
    out = tmp_path / "out"
    assert run_cli("batch", str(config), "--out", str(out), timeout=120).returncode == 1
    assert _summary(out)["workers_started"] == 1  # the bad entry never starts a worker
    assert run_cli("batch", str(config), "--out", str(out), timeout=120).returncode == 1
    assert _summary(out)["workers_started"] == 0
    assert run_cli("batch", str(config), "--out", str(out), "--force", timeout=120).returncode == 1
    assert _summary(out)["workers_started"] == 1
    (tmp_path / "m.keras").write_bytes(b"not a zip")  # the source appears: the old result is stale
    assert run_cli("batch", str(config), "--out", str(out), timeout=120).returncode == 1
    summary = _summary(out)
    assert summary["workers_started"] == 1
    assert "not a Keras 3 archive" in summary["models"][0]["message"]


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and exec keeps that: Python would then
    # never see the Ctrl-C this test sends, wherever the suite itself was started from.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_batch(config: Path, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", "batch", str(config), "--out", str(out), "--jobs", "1"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def _wait_for(predicate: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def _gone(pids: list[int]) -> bool:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return not alive


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_interrupted_batch_leaves_nothing_a_rerun_takes_as_done(tmp_path: Path, sig: signal.Signals) -> None:
    config = tmp_path / "b.yaml"
    config.write_text("models:\n  - {name: slow, source: 'tests.batch_models:hang', timeout_s: 15}\n")
    out = tmp_path / "out"
    proc = _start_batch(config, out)
    # wait until the conversion's TensorFlow worker runs: batch -> conversion -> TensorFlow worker
    _wait_for(lambda: len(psutil.Process(proc.pid).children(recursive=True)) >= 2)
    workers = [p.pid for p in psutil.Process(proc.pid).children(recursive=True)]
    _wait_for(lambda: list(out.glob(".slow.partial-*/logs/tensorflow.log")))
    time.sleep(2.0)  # inside the TensorFlow worker
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 130), stderr[-2000:]
    _wait_for(lambda: _gone(workers), timeout=30)  # no orphan keeps converting
    assert not (out / "slow").exists()
    if sig != signal.SIGKILL:  # cleaned up on the way out
        assert "interrupted" in stderr
        assert sorted(p.name for p in out.iterdir()) == [
            ".batch.lock",
            MARKER,
            "junit.xml",
            "summary.json",
            "summary.md",
        ]
        summary = _summary(out)
        assert summary["interrupted"] and not summary["complete"] and summary["models"] == []
        return
    assert list(out.glob(".slow.partial-*"))  # a killed batch leaves its staging folder, hidden ...
    rerun = run_cli("batch", str(config), "--out", str(out), timeout=300)
    assert rerun.returncode == 1
    summary = _summary(out)  # ... which the rerun does not take as a result: it converts again
    assert summary["workers_started"] == 1 and not summary["models"][0]["reused"]
    assert summary["models"][0]["kind"] == "timeout"
    assert not list(out.glob(".slow.*"))


def test_conversion_process_killed_from_outside_is_a_crash(tmp_path: Path) -> None:
    config = tmp_path / "b.yaml"
    config.write_text("models:\n  - {name: victim, source: 'tests.batch_models:hang', timeout_s: 300}\n")
    out = tmp_path / "out"
    proc = _start_batch(config, out)
    _wait_for(lambda: list(out.glob(".victim.partial-*/logs/tensorflow.log")))
    time.sleep(2.0)
    conversion = psutil.Process(proc.pid).children()[0]
    tf_worker = conversion.children()[0].pid
    conversion.send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr[-2000:]
    model = _summary(out)["models"][0]
    assert (model["status"], model["kind"]) == ("error", "crash")
    assert "crashed with signal SIGKILL" in model["message"] and "tensorflow worker" in model["message"]
    _wait_for(lambda: _gone([tf_worker]), timeout=30)  # its worker died with it
    assert not list(out.glob(".victim.*"))
