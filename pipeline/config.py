"""Conversion settings and the YAML schema shared by `convert` and `batch`.

A config file is either one model entry (a mapping of the keys in :data:`MODEL_KEYS`) or a batch:
``defaults`` (merged into every entry) plus ``models`` (a list of entries). Every value is checked
on load, and a bad one is reported with the file, line and key, e.g.
``configs/zoo.yaml:14: models[2].tolerance.atl: unknown key (expected one of: atol, rtol)``.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

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
    # Ray engine only (pipeline/batch/ray_engine.py): CPUs a model's task reserves, and whether its source
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


@dataclass
class BatchEntry:
    """One ``models`` entry: its resolved config, or the error that makes it unusable."""

    index: int
    line: int  # 1-based line of the entry in the file
    name: str
    source: str | None
    config: ConversionConfig | None
    error: ConfigError | None = None


@dataclass
class BatchConfig:
    """A parsed batch file: the resolved config of every usable entry, and every entry in file order.

    ``is_batch`` is false for a single-entry file (no ``models`` list), read as a batch of one.
    """

    path: Path
    models: list[ConversionConfig]
    entries: list[BatchEntry] = field(default_factory=list)
    is_batch: bool = True


class _Parser:
    """Walks a composed YAML node tree, so every error can name its line."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, node: yaml.Node | None, where: str, message: str) -> ConfigError:
        line = f":{node.start_mark.line + 1}" if node is not None else ""
        return ConfigError(f"{self.path}{line}: {where}: {message}", stage="config")

    def mapping(self, node: yaml.Node, where: str, allowed: tuple[str, ...] | None) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, f"expected a mapping, got {_kind(node)}")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if allowed is not None and key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(allowed)})"
                raise self.fail(key_node, f"{where}.{key}" if where else key, "unknown key" + hint)
            if key in out:
                raise self.fail(key_node, f"{where}.{key}" if where else key, "duplicate key")
            out[key] = value_node
        return out

    def scalar(self, node: yaml.Node, where: str, kind: str) -> Any:
        value = yaml.safe_load(yaml.serialize(node)) if isinstance(node, yaml.Node) else node
        if kind == "str":
            if not isinstance(value, str):
                raise self.fail(node, where, f"expected a string, got {value!r}")
            return value
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.fail(node, where, f"expected an integer, got {value!r}")
            return value
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(node, where, f"expected a number, got {value!r}")
            return float(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise self.fail(node, where, f"expected true or false, got {value!r}")
            return value
        raise AssertionError(kind)

    def plain(self, node: yaml.Node) -> Any:
        return yaml.safe_load(yaml.serialize(node))

    def tolerance(self, node: yaml.Node, where: str, base: Tolerance) -> Tolerance:
        fields = self.mapping(node, where, TOLERANCE_KEYS)
        values = {}
        for key, value_node in fields.items():
            number = self.scalar(value_node, f"{where}.{key}", "number")
            if number < 0:
                raise self.fail(value_node, f"{where}.{key}", f"must be >= 0, got {number}")
            values[key] = number
        return replace(base, **values)

    def input_override(self, node: yaml.Node, where: str) -> InputOverride:
        fields = self.mapping(node, where, INPUT_KEYS)
        shape = None
        if "shape" in fields:
            raw = self.plain(fields["shape"])
            if not isinstance(raw, list) or not all(
                (isinstance(d, int) and not isinstance(d, bool) and d > 0) or d is None for d in raw
            ):
                raise self.fail(fields["shape"], f"{where}.shape", f"expected a list of positive ints, got {raw!r}")
            shape = tuple(raw)
        dtype = None
        if "dtype" in fields:
            dtype = self.scalar(fields["dtype"], f"{where}.dtype", "str")
            if dtype not in DTYPES:
                raise self.fail(
                    fields["dtype"], f"{where}.dtype", f"unknown dtype {dtype!r} (one of {', '.join(DTYPES)})"
                )
        low = self.scalar(fields["low"], f"{where}.low", "number") if "low" in fields else None
        high = self.scalar(fields["high"], f"{where}.high", "number") if "high" in fields else None
        if low is not None and high is not None and not low < high:
            raise self.fail(node, where, f"low ({low}) must be below high ({high})")
        return InputOverride(shape=shape, dtype=dtype, low=low, high=high)

    def entry(self, node: yaml.Node, where: str, base: ConversionConfig) -> ConversionConfig:
        fields = self.mapping(node, where, tuple(MODEL_KEYS))
        changes: dict[str, Any] = {}
        for key, value_node in fields.items():
            at = f"{where}.{key}" if where else key
            kind = MODEL_KEYS[key]
            if kind in ("str", "int", "number", "bool"):
                changes[key] = self.scalar(value_node, at, kind)
            elif kind == "mapping":
                self.mapping(value_node, at, None)
                changes[key] = {**base.kwargs, **self.plain(value_node)}
            elif kind == "strlist":
                raw = self.plain(value_node)
                if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
                    raise self.fail(value_node, at, f"expected a list of strings, got {raw!r}")
                changes[key] = tuple(raw)
            elif kind == "tolerance":
                changes[key] = self.tolerance(value_node, at, base.tolerance)
            elif kind == "tolerances":
                per_output = dict(base.tolerances)
                for out_name, tol_node in self.mapping(value_node, at, None).items():
                    per_output[out_name] = self.tolerance(
                        tol_node, f"{at}.{out_name}", changes.get("tolerance", base.tolerance)
                    )
                changes[key] = per_output
            elif kind == "inputs":
                overrides = dict(base.inputs)
                for in_name, in_node in self.mapping(value_node, at, None).items():
                    overrides[in_name] = self.input_override(in_node, f"{at}.{in_name}")
                changes[key] = overrides
        if "name" in changes and not NAME_PATTERN.fullmatch(changes["name"]):
            raise self.fail(
                fields["name"],
                f"{where}.name" if where else "name",
                f"{changes['name']!r} cannot name an output folder (letters, digits, '_', '-', '.', '+'; "
                "not starting with '.' or '-')",
            )
        if "opset" in changes and not MIN_OPSET <= changes["opset"] <= MAX_OPSET:
            raise self.fail(
                fields["opset"],
                f"{where}.opset" if where else "opset",
                f"opset {changes['opset']} is outside the supported range {MIN_OPSET}..{MAX_OPSET}",
            )
        if "localize" in changes and changes["localize"] not in LOCALIZE_MODES:
            raise self.fail(
                fields["localize"],
                f"{where}.localize" if where else "localize",
                f"expected one of {', '.join(LOCALIZE_MODES)}, got {changes['localize']!r}",
            )
        if "compile" in changes and changes["compile"] not in COMPILE_MODES:
            raise self.fail(
                fields["compile"],
                f"{where}.compile" if where else "compile",
                f"expected one of {', '.join(COMPILE_MODES)}, got {changes['compile']!r}",
            )
        if "layout" in changes and changes["layout"] not in ("keras", "channels_first"):
            raise self.fail(
                fields["layout"],
                f"{where}.layout" if where else "layout",
                f"expected keras or channels_first, got {changes['layout']!r}",
            )
        for key in ("batch_size", "timeout_s", "memory_gb", "num_cpus"):
            if key in changes and changes[key] is not None and changes[key] <= 0:
                raise self.fail(
                    fields[key], f"{where}.{key}" if where else key, f"must be positive, got {changes[key]}"
                )
        return replace(base, **changes)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    return f"the value {node.value!r}"


def _compose(path: Path) -> yaml.Node | None:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}", stage="config")
    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:  # YAML parsing costs ~20x the file in memory and minutes per 10 MB
        raise ConfigError(
            f"{path}: {size / 2**20:.1f} MB is too large for a config file (the limit is "
            f"{MAX_CONFIG_BYTES // 2**20} MB)",
            stage="config",
        )
    try:
        return yaml.compose(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text (YAML) file", stage="config") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}", stage="config") from None


def load_batch(path: str | Path, *, strict: bool = True, require_batch: bool = False) -> BatchConfig:
    """Parse a batch file (``defaults`` + ``models``); a single-entry file counts as a batch of one.

    Errors in the file's structure (not YAML, no ``models`` list, a bad ``defaults`` entry) always
    raise :class:`ConfigError`. An error inside one ``models`` entry raises too when ``strict``;
    otherwise that entry carries its error (naming key and line) and the others stay usable.
    """
    path = Path(path)
    root = _compose(path)
    parser = _Parser(str(path))
    base = ConversionConfig(base_dir=str(path.resolve().parent))
    if root is None:
        raise parser.fail(None, "models", "the file is empty")
    if require_batch and not (isinstance(root, yaml.MappingNode) and any(k.value == "models" for k, _ in root.value)):
        raise parser.fail(
            root, "models", "not a batch file: expected a top-level 'models' list (and optional 'defaults')"
        )
    top = parser.mapping(root, "", None)
    if "models" not in top:
        cfg = parser.entry(root, "", base)
        name = cfg.name or default_name(cfg.source or "model")
        entry = BatchEntry(0, root.start_mark.line + 1, name, cfg.source, cfg)
        return BatchConfig(path=path, models=[cfg], entries=[entry], is_batch=False)
    extra = set(top) - {"defaults", "models"}
    if extra:
        key = sorted(extra)[0]
        raise parser.fail(root, key, "unknown key next to 'models' (expected: defaults, models)")
    if "defaults" in top:
        base = parser.entry(top["defaults"], "defaults", base)
    models_node = top["models"]
    if not isinstance(models_node, yaml.SequenceNode) or not models_node.value:
        raise parser.fail(models_node, "models", "expected a non-empty list of model entries")
    entries: list[BatchEntry] = []
    seen: dict[str, int] = {}
    for i, entry_node in enumerate(models_node.value):
        entry = _batch_entry(parser, entry_node, i, base, seen)
        if entry.error is not None and strict:
            raise entry.error
        seen.setdefault(entry.name, i)
        entries.append(entry)
    models = [e.config for e in entries if e.config is not None]
    return BatchConfig(path=path, models=models, entries=entries)


def _batch_entry(parser: _Parser, node: yaml.Node, i: int, base: ConversionConfig, seen: dict[str, int]) -> BatchEntry:
    where = f"models[{i}]"
    line = node.start_mark.line + 1
    raw_name, raw_source = _raw_text(node, "name"), _raw_text(node, "source")
    refused = raw_name is not None and not NAME_PATTERN.fullmatch(raw_name)
    if refused:
        raw_name = None  # the parse below reports it; the entry's folder is named after its position
    name = raw_name or (default_name(raw_source) if raw_source and not refused else where)
    if name in seen:
        if raw_name is not None:
            error = parser.fail(node, f"{where}.name", f"duplicate model name {name!r} (also models[{seen[name]}])")
        else:
            error = parser.fail(
                node, where, f"model name {name!r} (from its source) is taken by models[{seen[name]}]: set 'name'"
            )
        return BatchEntry(i, line, where, raw_source, None, error)
    try:
        cfg = parser.entry(node, where, copy.deepcopy(base))
        if not cfg.source:
            raise parser.fail(node, where, "missing required key 'source'")
    except ConfigError as exc:
        return BatchEntry(i, line, name, raw_source, None, exc)
    return BatchEntry(i, line, name, cfg.source, replace(cfg, name=name))


def _raw_text(node: yaml.Node, key: str) -> str | None:
    """The string value of ``key`` in a mapping node, if it has one (for naming entries that fail to parse)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for key_node, value_node in node.value:
        if key_node.value == key and isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":str"):
            return str(value_node.value) or None
    return None


def load_for_model(path: str | Path | None, source: str | None) -> ConversionConfig:
    """The config for one conversion: a single-entry file, or the batch entry matching ``source``.

    With a batch file, ``source`` may be an entry's name or source; with no ``source`` the file
    must hold exactly one entry. An error in another entry of a batch file does not matter here.
    """
    if path is None:
        return ConversionConfig(source=source)
    batch = load_batch(path, strict=False)
    if not batch.is_batch or (len(batch.entries) == 1 and source is None):
        entry = batch.entries[0]
        if entry.error is not None:
            raise entry.error
        assert entry.config is not None
        return replace(entry.config, source=source or entry.config.source)
    matches = [e for e in batch.entries if source in (e.name, e.source)]
    if not matches:
        names = ", ".join(e.name for e in batch.entries)
        raise ConfigError(f"{path}: no model entry named or sourced {source!r} (entries: {names})", stage="config")
    if matches[0].error is not None:
        raise matches[0].error
    assert matches[0].config is not None
    return matches[0].config


def default_name(source: str) -> str:
    """A folder-friendly model name derived from a source string."""
    if ":" in source and not Path(source).exists():
        return source.rsplit(":", 1)[1].split(".")[-1]
    stem = Path(source.rstrip("/")).name
    for suffix in (".keras", ".h5", ".hdf5", ".onnx"):
        if stem.endswith(suffix):
            return stem[: -len(suffix)]
    return stem or "model"


def from_mapping(data: dict[str, Any], where: str = "config") -> ConversionConfig:
    """A config from a plain dict (Python API), checked like a YAML file; ``where`` names it in errors."""
    parser = _Parser(where)
    node = yaml.compose(yaml.safe_dump(data, sort_keys=False))
    if node is None:
        return ConversionConfig()
    return parser.entry(node, "", ConversionConfig())


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
