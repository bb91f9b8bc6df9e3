"""Typed errors: every failure names its stage and, when known, the node, op and Keras layer.

Two families, as in Polygraphy: :class:`UserError` (the input was wrong: a missing file, a file
that is not a model, a config key that does not exist, an op we cannot convert) and
:class:`InternalError` (our own bug). Library code raises these; only the CLI turns them into exit
codes. Errors cross process boundaries as JSON (:meth:`PipelineError.to_dict` /
:func:`error_from_dict`) so a failure in a worker process re-raises as the same type here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Location:
    """Where in the model a problem sits; every field is optional."""

    node: str | None = None
    op: str | None = None
    opset: int | None = None
    layer: str | None = None

    def describe(self) -> str:
        parts = []
        if self.node:
            parts.append(f"node '{self.node}'")
        if self.op:
            parts.append(f"op {self.op}" + (f"-{self.opset}" if self.opset else ""))
        if self.layer:
            parts.append(f"Keras layer '{self.layer}'")
        return ", ".join(parts)


class PipelineError(Exception):
    """Base of every error the pipeline raises on purpose."""

    exit_code = 2
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        stage: str | None = None,
        location: Location | None = None,
        locations: list[Location] | None = None,
        hint: str | None = None,
        details: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage
        self.locations: list[Location] = list(locations or [])
        if location is not None:
            self.locations.insert(0, location)
        self.hint = hint
        self.details = details

    @property
    def location(self) -> Location | None:
        return self.locations[0] if self.locations else None

    def __str__(self) -> str:
        head = f"[{self.stage}] " if self.stage else ""
        text = head + self.message
        if len(self.locations) == 1 and self.locations[0].describe():
            text += f" (at {self.locations[0].describe()})"
        elif len(self.locations) > 1:
            text += "".join(f"\n  - {loc.describe()}" for loc in self.locations)
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "kind": self.kind,
            "stage": self.stage,
            "message": self.message,
            "locations": [loc.__dict__ for loc in self.locations],
            "hint": self.hint,
            "details": self.details,
        }


class UserError(PipelineError):
    """The input (model, config, inputs) is at fault; the message says how."""

    kind = "user"


class SourceNotFoundError(UserError):
    """The model source does not exist."""


class NotAModelError(UserError):
    """The source exists but is not a model we can read."""


class ConfigError(UserError):
    """A config file or option is invalid; the message names the key and line."""


class InputSpecError(UserError):
    """An input spec or inputs file does not fit the model's signature."""


class UnsafeModelError(UserError):
    """The model needs code execution (Lambda layers, custom objects) the user has not allowed."""


class UnsupportedError(UserError):
    """A layer or op cannot be converted; ``locations`` lists every one found."""


class ExportError(UserError):
    """tf2onnx could not export the model."""


class OnnxRuntimeError(UserError):
    """ONNX Runtime could not load or run the model."""


class TorchExportError(UserError):
    """torch.export could not trace the converted module."""


class OutputFolderError(UserError):
    """The output folder cannot be written, or is not one the pipeline may replace (pipeline/outdir.py)."""


class WorkerCrashError(PipelineError):
    """A worker process died (signal, out of memory, timeout) before it could report."""

    kind = "crash"
    exit_code = 3


class WorkerTimeoutError(WorkerCrashError):
    """A worker ran past its time limit (``timeout_s``) and was killed."""

    kind = "timeout"


class WorkerOutOfMemoryError(WorkerCrashError):
    """A worker's process tree went over its memory cap (``memory_gb``) and was killed."""

    kind = "out_of_memory"


class InternalError(PipelineError):
    """Our own bug: an unexpected exception inside a stage."""

    kind = "internal"
    exit_code = 3


def _subclasses(cls: type[PipelineError]) -> dict[str, type[PipelineError]]:
    found = {cls.__name__: cls}
    for sub in cls.__subclasses__():
        found.update(_subclasses(sub))
    return found


def error_from_dict(data: dict[str, Any]) -> PipelineError:
    """Rebuild an error serialised by :meth:`PipelineError.to_dict` (e.g. in a worker process)."""
    cls = _subclasses(PipelineError).get(data.get("type", ""), InternalError)
    return cls(
        data.get("message", "unknown error"),
        stage=data.get("stage"),
        locations=[Location(**loc) for loc in data.get("locations") or []],
        hint=data.get("hint"),
        details=data.get("details"),
    )
