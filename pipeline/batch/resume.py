"""Resuming a batch: the fingerprint of what produced a result, and whether an earlier result is current.

Each model's ``report.json`` carries a fingerprint of what produced it: the resolved entry, the
source's files by size and mtime, the module file of a ``module:callable`` source, the tool
versions and this package's code. A rerun reuses a report whose fingerprint is still current;
a result cut short by a limit (``timeout``, ``out_of_memory``) only while that limit is the same,
and a crash (a process killed by a signal) never.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path
from typing import Any

from pipeline.batch.summary import outcome_kind
from pipeline.config import ConversionConfig
from pipeline.context import to_json
from pipeline.stages.custom_objects import module_files

_VERSIONED = (
    "tensorflow",
    "keras",
    "tf_keras",
    "tf2onnx",
    "onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "onnx2torch",
    "torch",
    "numpy",
)
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
# entry keys that do not change a result: its name, its limits, where it runs
_NOT_RESULT = ("name", "timeout_s", "memory_gb", "num_cpus", "shared_path")


def code_digest() -> str:
    """Hash of this package's code (``pipeline/`` and ``custom_ops/``): results of other code are not current."""
    digest = hashlib.sha256()
    for folder in ("pipeline", "custom_ops"):
        for path in sorted((_PACKAGE_ROOT / folder).rglob("*.py")):
            digest.update(str(path.relative_to(_PACKAGE_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def tool_versions() -> dict[str, str]:
    """Installed versions of the libraries a conversion depends on (read from metadata, nothing imported)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def environment() -> dict[str, Any]:
    """This machine's code digest and tool versions: a node whose differ makes results of another kind."""
    return {"code": code_digest(), "versions": tool_versions()}


def local_path(spec: str, base_dir: str | None) -> Path:
    """Where a path in an entry points on this machine: as given, else relative to the config's folder."""
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir and not path.exists():
        path = Path(base_dir) / path
    return path


def source_path(config: ConversionConfig) -> Path | None:
    """The file or folder a path source names here; None for examples, callables and missing paths."""
    source = config.source or ""
    if not source or source.startswith("example:"):
        return None
    path = local_path(source, config.base_dir)
    return path.resolve() if path.exists() else None


def inputs_path(config: ConversionConfig) -> Path | None:
    """The entry's ``inputs_file`` (relative to the config's folder); None when it has none."""
    return Path(config.base_dir or ".", config.inputs_file) if config.inputs_file else None


def _path_state(path: Path) -> Any:
    """Size and modification time of a file, or of every file under a folder."""
    if path.is_file():
        stat = path.stat()
        return [stat.st_size, stat.st_mtime_ns]
    if path.is_dir():
        return {
            str(p.relative_to(path)): [p.stat().st_size, p.stat().st_mtime_ns]
            for p in sorted(path.rglob("*"))
            if p.is_file()
        }
    return "missing"


def _module_file(module: str) -> Path | None:
    """The file of ``module`` found without importing it (finding a submodule would import its parents)."""
    parts = module.split(".")
    try:
        spec = importlib.util.find_spec(parts[0])
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if len(parts) == 1:
        return Path(spec.origin) if spec.origin and Path(spec.origin).is_file() else None
    for location in spec.submodule_search_locations or []:
        base = Path(location, *parts[1:])
        for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
            if candidate.is_file():
                return candidate
    return None


def _source_state(source: str | None, base_dir: str | None) -> Any:
    if not source:
        return None
    if source.startswith("example:"):
        return {"example": source}  # built from this package's code
    path = local_path(source, base_dir)
    if path.exists():
        return {"path": str(path.resolve()), "state": _path_state(path)}
    if ":" in source:
        module = source.split(":", 1)[0]
        file = _module_file(module)
        return {"module": module, "file": str(file) if file else None, "state": _path_state(file) if file else None}
    return {"path": str(path), "state": "missing"}


def fingerprint(config: ConversionConfig, code: str, versions: dict[str, str]) -> str:
    """What makes a conversion's result current: its resolved entry, its source files, the tools and code.

    The limits (``timeout_s``, ``memory_gb``), the name and where it runs (``num_cpus``,
    ``shared_path``) are left out: they do not change a result.
    """
    entry = to_json(config)
    for key in _NOT_RESULT:
        entry.pop(key, None)
    inputs = inputs_path(config)
    payload = {
        "entry": entry,
        "source": _source_state(config.source, config.base_dir),
        "inputs_file": _path_state(inputs) if inputs else None,
        "custom_objects": [_source_state(spec, None) for spec in config.custom_objects],
        "custom_object_files": {ref: _path_state(Path(f)) for ref, f in module_files(config).items() if f},
        "versions": versions,
        "code": code,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def error_fingerprint(error: Exception, code: str) -> str:
    """The fingerprint of an entry that could not be parsed: its error and the code that found it."""
    return hashlib.sha256(f"{error}\0{code}".encode()).hexdigest()


def reusable(report: dict[str, Any] | None, info: dict[str, Any], retry_failed: bool) -> bool:
    """Whether an earlier report is the current result: same fingerprint, and no changed limit it ran into."""
    if report is None:
        return False
    earlier = report.get("batch") or {}
    if earlier.get("fingerprint") != info["fingerprint"]:
        return False
    if retry_failed and report["status"] != "passed":
        return False
    kind = outcome_kind(report)
    if kind == "crash":  # a crash (a process killed by a signal) is not a result: retried
        return False
    limit = {"timeout": "timeout_s", "out_of_memory": "memory_gb"}.get(kind or "")
    return limit is None or (earlier.get("limits") or {}).get(limit) == info["limits"][limit]
