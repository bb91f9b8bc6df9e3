"""The node side of the Ray engine: one model's Ray task, and the tars that carry folders to and from it.

The task runs the local engine's conversion process tree for its model
(:func:`pipeline.batch.local.convert_one`), so the timeout, the memory cap, the process-tree kill
and every ``kind`` of the summary hold on the node as they do here. A node whose code or tool
versions differ from the driver's refuses the model: its result would carry the wrong fingerprint.

Nothing assumes a shared file system: a source given by path and an ``inputs_file`` arrive as an
uncompressed tar through Ray's object store, and the finished model folder goes back the same way
(one tar, mapped from the node's disk into the object store, never a second copy on a heap).
Paths of the node's scratch copy are written back as the driver's paths in the report.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.batch.local import convert_one
from pipeline.batch.resume import environment
from pipeline.batch.summary import ModelOutcome, outcome_from_report, publish_error
from pipeline.context import to_json
from pipeline.errors import UserError


def pack(path: Path, arcname: str, work: Path) -> Any:
    """A tar of ``path`` (file or folder) written under ``work``, mapped read-only into memory.

    Ray serialises a numpy array out of band, so the object store gets the tar straight from the
    mapped file: no copy of a model's weights on the Python heap of either side.
    """
    import numpy as np

    work.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f"{arcname}.", suffix=".tar", dir=work)
    with os.fdopen(handle, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(path, arcname=arcname)
    return np.memmap(name, dtype=np.uint8, mode="r")


def unpack(blob: Any, dest: Path) -> None:
    """Extract a :func:`pack` tar into ``dest`` (links and paths leaving it are refused)."""
    dest.mkdir(parents=True, exist_ok=True)
    tar_path = dest.with_name(dest.name + ".tar")
    with open(tar_path, "wb") as raw:
        raw.write(memoryview(blob))
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest, filter="data")
    tar_path.unlink()


def node_info() -> dict[str, Any]:
    """The node this process runs on, as the report and the progress line name it."""
    import ray

    return {
        "id": ray.get_runtime_context().get_node_id(),
        "ip": ray.util.get_node_ip_address(),
        "host": socket.gethostname(),
    }


def run_task(request: dict[str, Any], source: Any, inputs: Any) -> dict[str, Any]:
    """One model on a node: the local engine's conversion tree, its folder packed for the trip back."""
    node = node_info()
    work = Path(tempfile.mkdtemp(prefix="k2t-ray-"))
    try:
        if request.get("cwd") and os.path.isdir(request["cwd"]):
            os.chdir(request["cwd"])  # module:callable sources import as they would on the driver
        name, folder, config = request["name"], request["folder"], request["config"]
        info = {**request["info"], "ray": {**request["info"].get("ray", {}), "node": node}}
        out = work / "out"
        found = environment()
        if found != request["expect"]:
            differs = [k for k in found["versions"] if found["versions"][k] != request["expect"]["versions"].get(k)]
            differs += ["pipeline code"] if found["code"] != request["expect"]["code"] else []
            error = UserError(
                f"node {node['host']} ({node['ip']}) runs other pipeline code or tool versions than the driver"
                + (f" ({', '.join(differs)})" if differs else ""),
                stage="batch",
                hint="install the same commit and requirements.lock on every node",
            )
            outcome = publish_error(out, folder, name, config, error, {**info, "seconds": 0.0})
        else:
            moved = {str(out): request["out"]}  # the node's scratch output folder is the driver's OUT
            if source is not None:
                unpack(source, work / "source")
                local = work / "source" / request["source_name"]
                moved[str(local)] = request["source_path"]
                config = replace(config, source=str(local))
            if inputs is not None:
                unpack(inputs, work / "inputs")
                local = work / "inputs" / request["inputs_name"]
                moved[str(local)] = request["inputs_path"]
                config = replace(config, inputs_file=str(local))
            outcome = convert_one(out, name, config, folder, info)
            outcome = _restore_paths(out / folder, moved, request["config"].source, folder)
        return {"outcome": to_json(outcome), "tar": pack(out / folder, folder, work / "ship"), "node": node}
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the returned tar stays mapped until Ray has stored it


def _restore_paths(folder: Path, moved: dict[str, str], spec: str | None, name: str) -> ModelOutcome:
    """Write the driver's paths into a report made from the node's scratch copy of the source."""
    from pipeline.report import write_report

    text = (folder / "report.json").read_text(encoding="utf-8")
    for local, original in moved.items():
        text = text.replace(json.dumps(local)[1:-1], json.dumps(original)[1:-1])
    report = json.loads(text)
    if isinstance(report.get("source"), dict) and spec is not None:
        report["source"]["spec"] = spec
    write_report(report, folder / "report.json", folder / "report.md")
    return outcome_from_report(report, name)
