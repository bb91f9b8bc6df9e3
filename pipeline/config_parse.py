"""One config entry read from a YAML node tree, every value checked, every error naming its line.

A config file is either one model entry (a mapping of the keys in :data:`pipeline.config.MODEL_KEYS`)
or a batch: ``defaults`` (merged into every entry) plus ``models`` (a list of entries). A bad value
is reported with the file, line and key, e.g.
``configs/zoo.yaml:14: models[2].tolerance.atl: unknown key (expected one of: atol, rtol)``.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from typing import Any

import yaml

from pipeline.config import (
    COMPILE_MODES,
    DTYPES,
    INPUT_KEYS,
    LOCALIZE_MODES,
    MAX_OPSET,
    MIN_OPSET,
    MODEL_KEYS,
    NAME_PATTERN,
    TOLERANCE_KEYS,
    ConversionConfig,
    InputOverride,
    Tolerance,
)
from pipeline.errors import ConfigError


class EntryParser:
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
