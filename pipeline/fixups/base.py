"""The fixup contract: ``fn(model, context) -> list of changes`` on a working copy of the graph.

A fixup handles one quirk of one tool (tf2onnx, onnx2torch, onnxruntime). It returns a list of
human-readable changes; an empty list means it declined. :func:`run_fixups` copies the exported
model once, runs the fixups in their explicit order, and checks the result with
``onnx.checker``; a fixup that raises is reported by name together with the ones before it.

The model a fixup sees holds the graph only when its weights are in external data (large models
always are): initializers then carry file references, and :meth:`FixupContext.array` reads one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from pipeline.context import FixupRecord, TensorSpec
from pipeline.errors import InternalError, PipelineError
from pipeline.registry import Doc

STAGE = "fixups"


@dataclass
class FixupContext:
    """What a fixup may know besides the graph."""

    inputs: list[TensorSpec] = field(default_factory=list)  # resolved specs: dims pinned, batch None
    layers: list[str] = field(default_factory=list)
    # (domain, op_type, since_version) -> a torch converter exists; None: custom_ops + onnx2torch
    supported: Callable[[str, str, int], bool] | None = None
    model_dir: Path | None = None  # the model file's folder: external data is read relative to it

    def array(self, tensor: onnx.TensorProto) -> np.ndarray:
        """An initializer's value, whether inline or in external data (large weights usually are).

        Fixups must not inline large tensors back: a new or changed large initializer is written
        to external data when the model is saved, but reading every weight into memory defeats
        the point of keeping them outside.
        """
        from pipeline.weights import read

        return read(tensor, self.model_dir)


FixupFn = Callable[[onnx.ModelProto, FixupContext], list[str]]


@dataclass(frozen=True)
class Fixup:
    """A registered graph fixup."""

    name: str
    fn: FixupFn
    doc: Doc

    @classmethod
    def of(cls, fn: FixupFn) -> Fixup:
        return cls(name=fn.__name__, fn=fn, doc=Doc.of(fn))

    def __call__(self, model: onnx.ModelProto, context: FixupContext) -> list[str]:
        return self.fn(model, context)


def run_fixups(
    model: onnx.ModelProto, fixups: Sequence[Fixup], context: FixupContext, *, copy: bool = True
) -> tuple[onnx.ModelProto, list[FixupRecord]]:
    """Apply ``fixups`` in order to a copy of ``model``; return it and a record of each that fired."""
    if copy:
        working = onnx.ModelProto()
        working.CopyFrom(model)
    else:
        working = model
    records = run_in_order(fixups, lambda fixup: fixup(working, context), "fixup", STAGE)
    return working, records


def run_in_order(fixups: Sequence[Any], apply: Callable[[Any], list[str]], kind: str, stage: str) -> list[FixupRecord]:
    """Call ``apply(fixup)`` for each of ``fixups`` (each has a ``name``) in order; a record of each that fired.

    A fixup that raises anything but a :class:`PipelineError` becomes an :class:`InternalError`
    that names it (``kind`` says which sort of fixup) and the ones that ran before it.
    """
    records: list[FixupRecord] = []
    done: list[str] = []
    for fixup in fixups:
        start = time.perf_counter()
        try:
            changes = apply(fixup)
        except PipelineError:
            raise
        except Exception as exc:
            raise InternalError(
                f"{kind} '{fixup.name}' failed: {type(exc).__name__}: {exc}"
                + (f" (after: {', '.join(done)})" if done else f" (first {kind})"),
                stage=stage,
            ) from exc
        done.append(fixup.name)
        if changes:
            records.append(FixupRecord(name=fixup.name, changes=changes, seconds=round(time.perf_counter() - start, 3)))
    return records
