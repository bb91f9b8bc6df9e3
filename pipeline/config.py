"""Conversion settings and the YAML schema shared by `convert` and `batch`.

:class:`ConversionConfig` is what steers one conversion and :data:`MODEL_KEYS` the keys a model
entry may hold. Reading them from files lives in :mod:`pipeline.config_files` (files, batches)
and :mod:`pipeline.config_parse` (one entry, checked key by key, errors naming file and line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError

DTYPES = ("float32", "float64", "float16", "int32", "int64", "int8", "uint8", "bool")


@dataclass(frozen=True)
class Tolerance:
    """Element-wise check ``|a - b| <= atol * std(b) + rtol * |b|`` (atol scaled by the output's spread)."""

    atol: float = 1e-4
    rtol: float = 1e-3


@dataclass(frozen=True)
class InputOverride:
    """What a config says about one model input; unset fields come from the model's signature."""

    shape: tuple[int | None, ...] | None = None
    dtype: str | None = None
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class ConversionConfig:
    """Everything that steers one conversion. Defaults are what `make convert` uses."""

    name: str | None = None
    source: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)
    opset: int = 17
    # atol is in units of each output's spread (standard deviation), see stages/validate.py.
    # Correct conversions of MobileNetV2/ResNet50/DenseNet121 differ by 1.5e-6 (TF vs ONNX Runtime)
    # to 5e-6 (ONNX Runtime vs torch) of the spread; 1e-4 leaves a 20x margin.
    tolerance: Tolerance = Tolerance()
    tolerances: dict[str, Tolerance] = field(default_factory=dict)
    inputs: dict[str, InputOverride] = field(default_factory=dict)
    inputs_file: str | None = None
    batch_size: int = 2
    # Size used for a non-batch dimension the model leaves unknown (image side, sequence length).
    default_dim: int = 0
    seed: int = 0
    compare_logits: bool = True
    # Validation: edge-case input sets (zeros, large, negative) and when to localise a divergence.
    edge_inputs: bool = True
    localize: str = "on_failure"  # on_failure | always | never
    # model.py's image inputs/outputs: as the Keras model has them ("keras") or NCHW ("channels_first")
    layout: str = "keras"
    # Training check (pipeline/training): gradients and one optimizer step, TensorFlow vs model.py
    check_training: bool = True
    allow_custom_objects: bool = False
    custom_objects: tuple[str, ...] = ()
    timeout_s: float = 900.0
    memory_gb: float | None = None
    # Ray engine only (pipeline/batch_ray.py): CPUs a model's task reserves, and whether its source
    # and inputs_file sit on a file system every node sees (read in place instead of shipped).
    num_cpus: float = 1.0
    shared_path: bool = False
    # Weights adding up to more than this many MB are written as ONNX external data
    # (model.onnx + model.onnx.data); 0: always, a negative value: never (2 GB at most).
    external_data_mb: float = 256.0
    # "aot": also an AOTInductor package, model_aoti.pt2, checked against model.pt2 (pipeline/stages/aot.py)
    compile: str = "none"
    base_dir: str | None = None  # folder relative sources are resolved against

    def tolerance_for(self, output: str) -> Tolerance:
        return self.tolerances.get(output, self.tolerance)

    def with_overrides(self, **changes: Any) -> ConversionConfig:
        return replace(self, **changes)


MODEL_KEYS: dict[str, str] = {
    "name": "str",
    "source": "str",
    "kwargs": "mapping",
    "opset": "int",
    "tolerance": "tolerance",
    "tolerances": "tolerances",
    "inputs": "inputs",
    "inputs_file": "str",
    "batch_size": "int",
    "default_dim": "int",
    "seed": "int",
    "compare_logits": "bool",
    "edge_inputs": "bool",
    "localize": "str",
    "layout": "str",
    "check_training": "bool",
    "allow_custom_objects": "bool",
    "custom_objects": "strlist",
    "timeout_s": "number",
    "memory_gb": "number",
    "num_cpus": "number",
    "shared_path": "bool",
    "external_data_mb": "number",
    "compile": "str",
}
TOLERANCE_KEYS = ("atol", "rtol")
INPUT_KEYS = ("shape", "dtype", "low", "high")
LOCALIZE_MODES = ("on_failure", "always", "never")
COMPILE_MODES = ("none", "aot")  # pipeline/stages/aot.py
MIN_OPSET, MAX_OPSET = 13, 18
NAME_PATTERN = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+-]*")  # model names become folder names
MAX_CONFIG_BYTES = 2 * 2**20  # config and batch files (a zoo of hundreds of models is ~100 KB)


def default_name(source: str) -> str:
    """A folder-friendly model name derived from a source string."""
    if ":" in source and not Path(source).exists():
        return source.rsplit(":", 1)[1].split(".")[-1]
    stem = Path(source.rstrip("/")).name
    for suffix in (".keras", ".h5", ".hdf5", ".onnx"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem or "model"


def from_json(data: dict[str, Any]) -> ConversionConfig:
    """A config back from its JSON form (``to_json`` of a :class:`ConversionConfig`, as workers receive it)."""
    data = dict(data)
    data["tolerance"] = Tolerance(**data["tolerance"])
    data["tolerances"] = {k: Tolerance(**v) for k, v in data.get("tolerances", {}).items()}
    data["inputs"] = {
        k: InputOverride(**{**v, "shape": tuple(v["shape"]) if v.get("shape") else None})
        for k, v in data.get("inputs", {}).items()
    }
    data["custom_objects"] = tuple(data.get("custom_objects", ()))
    return ConversionConfig(**data)


def check_name(name: str | None, where: str = "--name") -> str | None:
    """A model name given on the command line, checked as names in config files are (no '/', no '..')."""
    if name is not None and not NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{where} {name!r} cannot name an output folder (letters, digits, '_', '-', '.', '+'; "
            "not starting with '.' or '-')",
            stage="config",
        )
    return name
