"""Config and batch files: size cap, YAML, ``defaults`` + ``models``, the entry for one conversion.

Paths in an entry (``source``, ``inputs_file``, custom objects' modules) are relative to the
file's folder, which every config read from a file carries as ``base_dir``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.config import MAX_CONFIG_BYTES, NAME_PATTERN, ConversionConfig, default_name
from pipeline.config_parse import EntryParser
from pipeline.errors import ConfigError


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
    parser = EntryParser(str(path))
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


def _batch_entry(
    parser: EntryParser, node: yaml.Node, i: int, base: ConversionConfig, seen: dict[str, int]
) -> BatchEntry:
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


def from_mapping(data: dict[str, Any], where: str = "config") -> ConversionConfig:
    """A config from a plain dict (Python API), checked like a YAML file; ``where`` names it in errors."""
    parser = EntryParser(where)
    node = yaml.compose(yaml.safe_dump(data, sort_keys=False))
    if node is None:
        return ConversionConfig()
    return parser.entry(node, "", ConversionConfig())
