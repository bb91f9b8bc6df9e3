"""Batches on Ray: a two-node cluster started here, every way a model ends, reuse without Ray, a lost node."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.batch.test_run import EXPECTED, MIXED
from tests.conftest import ROOT, run_cli

NODE_MEMORY = 8 * 2**30  # logical: what Ray schedules by, not a limit
SHIPPED_CHECKS = ("shipped", "exact", "segfault", "hang", "memory_hog", "missing", "bad_key", "too_big")


def _ray_processes() -> set[int]:
    """Ray's own processes on this machine (GCS, raylets, workers), whoever started them."""
    found = set()
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] in ("raylet", "gcs_server") or "/site-packages/ray/" in cmdline:
            found.add(proc.pid)
    return found


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A head node that runs no task and two worker nodes of one CPU each, all on this machine."""
    from ray.cluster_utils import Cluster

    before = _ray_processes()
    small = {"memory": NODE_MEMORY, "object_store_memory": 100 * 2**20}
    ray_cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False, **small})
    try:
        for _ in range(2):
            ray_cluster.add_node(num_cpus=1, **small)
        yield ray_cluster
    finally:
        ray_cluster.shutdown()
        _wait_for(lambda: not (_ray_processes() - before), timeout=30)  # nothing of it left running


def _batch_file(tmp_path: Path, shipped: Path) -> Path:
    """batch_mixed.yaml's failing entries (cheaper limits, no localisation), a passing model given by path."""
    path = tmp_path / "ray.yaml"
    path.write_text(
        "defaults: {timeout_s: 240, memory_gb: 3}\n"
        "models:\n"
        f"  - {{name: shipped, source: '{shipped}'}}\n"
        "  - {name: exact, source: 'example:seed_cnn', tolerance: {atol: 0.0, rtol: 0.0}, localize: never}\n"
        "  - {name: segfault, source: 'tests.batch_models:segfault'}\n"
        "  - {name: hang, source: 'tests.batch_models:hang', timeout_s: 8}\n"
        "  - {name: memory_hog, source: 'tests.batch_models:memory_hog', memory_gb: 1}\n"
        f"  - {{name: missing, source: '{tmp_path}/does_not_exist.keras'}}\n"
        "  - {name: bad_key, source: 'example:seed_cnn', tolerance: {atl: 1.0e-3}}\n"
        "  - {name: too_big, source: 'example:seed_cnn', memory_gb: 64}\n"  # no node can hold it
    )
    return path


@pytest.fixture(scope="module")
def ray_run(
    cluster: Any, model_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("ray")
    config = _batch_file(tmp, model_files["tf_module"])
    out = tmp / "out"
    proc = run_cli(
        "batch", str(config), "--out", str(out), "--engine", "ray", "--address", cluster.address, timeout=600
    )
    return config, out, proc


def _summary(out: Path) -> dict[str, Any]:
    return json.loads((out / "summary.json").read_text())


def test_every_outcome_on_two_nodes(ray_run: tuple[Path, Path, subprocess.CompletedProcess[str]]) -> None:
    _, out, proc = ray_run
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = _summary(out)
    got = {m["name"]: (m["status"], m["kind"]) for m in summary["models"]}
    local = {k: EXPECTED[k] for k in SHIPPED_CHECKS[1:-1]}  # what the local engine gives these entries
    assert got == {"shipped": ("passed", None), **local, "too_big": ("error", "user_error")}
    assert [m["name"] for m in summary["models"]] == list(SHIPPED_CHECKS)
    assert summary["complete"] and summary["workers_started"] == 6  # the bad entry never becomes a task
    engine = summary["engine"]
    assert (engine["name"], engine["nodes"], engine["cpus"]) == ("ray", 3, 2.0) and engine["startup_seconds"] > 0
    by_name = {m["name"]: m for m in summary["models"]}
    assert "SIGSEGV" in by_name["segfault"]["message"]
    assert "timed out after 8 s" in by_name["hang"]["message"] and by_name["hang"]["seconds"] < 60
    assert "over the 1 GB cap" in by_name["memory_hog"]["message"]
    assert "does_not_exist.keras" in by_name["missing"]["message"]
    assert "models[6].tolerance.atl: unknown key" in by_name["bad_key"]["message"]
    assert "no node of the Ray cluster has 1 CPUs and 64 GB" in by_name["too_big"]["message"]
    # each folder came back from its node: the converted model, the killed worker's log
    assert (out / "shipped" / "model.pt2").is_file() and (out / "shipped" / "model.onnx").is_file()
    assert (out / "hang" / "logs" / "tensorflow.log").is_file()
    report = json.loads((out / "shipped" / "report.json").read_text())
    assert report["status"] == "passed" and report["batch"]["ray"]["node"]["id"]
    assert "k2t-ray-" not in (out / "shipped" / "report.json").read_text()  # the node's scratch copy is not named
    assert not [
        p.name for p in out.iterdir() if p.name.startswith(".") and p.name not in (".batch.lock", ".keras2torch.json")
    ]
    # both worker nodes ran models, and each finished model's line names its node
    lines = [line for line in proc.stdout.splitlines() if re.match(r"\[\s*\d+/8\] +(passed|FAILED|ERROR) ", line)]
    nodes = {line.rsplit("[node ", 1)[1].split()[1].rstrip("]") for line in lines if "[node " in line}
    assert len(lines) == 8 and len(nodes) == 2, proc.stdout
    suite = ET.parse(out / "junit.xml").getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("8", "1", "6")


def test_rerun_reuses_everything_without_ray(
    ray_run: tuple[Path, Path, subprocess.CompletedProcess[str]], cluster: Any
) -> None:
    config, out, _ = ray_run
    kept = {p: p.stat().st_mtime_ns for p in out.glob("*/report.json") if p.parent.name != "segfault"}
    cli = ["batch", str(config), "--out", str(out), "--engine", "ray", "--address"]
    proc = run_cli(*cli, cluster.address, timeout=600)
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = _summary(out)  # as with the local engine, only the crash is not a result: it runs again
    assert summary["workers_started"] == 1 and summary["reused"] == 7
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    # without the crashing entry everything is current: an address nothing listens on does not matter
    current = config.with_name("current.yaml")
    current.write_text("".join(line for line in config.read_text().splitlines(True) if "segfault" not in line))
    proc = run_cli(*cli[:1], str(current), *cli[2:], "127.0.0.1:9", timeout=120)
    assert proc.returncode == 1, proc.stderr[-3000:]
    summary = _summary(out)
    assert summary["workers_started"] == 0 and summary["reused"] == 6  # bad_key's message names the new file
    assert "startup_seconds" not in summary["engine"]  # Ray was never started
    assert {p: p.stat().st_mtime_ns for p in kept if p.parent.name != "bad_key"} == {
        p: t for p, t in kept.items() if p.parent.name != "bad_key"
    }


def test_batch_of_one_on_its_own_ray_instance(model_files: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "one.yaml"
    config.write_text(f"models:\n  - {{name: affine, source: '{model_files['tf_module']}', timeout_s: 240}}\n")
    before = _ray_processes()
    proc = run_cli("batch", str(config), "--out", str(tmp_path / "out"), "--engine", "ray", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = _summary(tmp_path / "out")
    assert summary["passed"] == 1 and summary["engine"]["address"] == "local" and summary["engine"]["nodes"] == 1
    assert (tmp_path / "out" / "affine" / "model.pt2").is_file()
    _wait_for(lambda: not (_ray_processes() - before), timeout=30)  # the instance stopped with the batch


def _conversion_node(cluster: Any) -> Any:
    """The worker node whose raylet runs a batch conversion process now, or None."""
    raylets = {node.all_processes["raylet"][0].process.pid: node for node in cluster.worker_nodes}
    for proc in psutil.process_iter(["cmdline"]):
        if "pipeline.worker" in (proc.info["cmdline"] or []) and "convert" in (proc.info["cmdline"] or []):
            for parent in proc.parents():
                if parent.pid in raylets:
                    return raylets[parent.pid]
    return None


def test_lost_node_is_retried_once_elsewhere(cluster: Any, tmp_path: Path) -> None:
    config = tmp_path / "lost.yaml"
    config.write_text("models:\n  - {name: stuck, source: 'tests.batch_models:hang', timeout_s: 8}\n")
    out = tmp_path / "out"
    cli = ["batch", str(config), "--out", str(out), "--engine", "ray", "--address", cluster.address]
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *cli],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(lambda: _conversion_node(cluster) is not None, timeout=120)
        cluster.remove_node(_conversion_node(cluster), allow_graceful=False)  # the node dies mid-task
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, stdout[-3000:] + stderr[-3000:]
    model = _summary(out)["models"][0]
    assert (model["status"], model["kind"]) == ("error", "timeout")  # the second attempt ran to its own end
    ray_info = json.loads((out / "stuck" / "report.json").read_text())["batch"]["ray"]
    assert ray_info["attempt"] == 2 and len(ray_info["lost"]) == 1
    assert "retrying stuck" in stdout and "retried after" in stdout
    assert _summary(out)["workers_started"] == 2


def _normalised(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Each model's line without what differs between two runs of one conversion (seconds, measured sizes)."""
    return [
        (m["name"], m["status"], m["kind"], re.sub(r"[0-9]+(\.[0-9]+)?(e-?[0-9]+)?", "N", m["message"] or ""))
        for m in summary["models"]
    ]


@pytest.mark.slow
def test_mixed_batch_gives_the_local_engines_summary(cluster: Any, tmp_path: Path) -> None:
    local = run_cli("batch", str(MIXED), "--out", str(tmp_path / "local"), "--jobs", "2", timeout=1200)
    on_ray = run_cli(
        "batch",
        str(MIXED),
        "--out",
        str(tmp_path / "ray"),
        "--engine",
        "ray",
        "--address",
        cluster.address,
        timeout=1200,
    )
    assert (local.returncode, on_ray.returncode) == (1, 1), on_ray.stdout[-3000:] + on_ray.stderr[-3000:]
    assert _normalised(_summary(tmp_path / "ray")) == _normalised(_summary(tmp_path / "local"))
    assert {m["name"]: (m["status"], m["kind"]) for m in _summary(tmp_path / "ray")["models"]} == EXPECTED
    for name in ("seed_cnn", "tiny_cnn"):
        assert (tmp_path / "ray" / name / "model.pt2").is_file()
