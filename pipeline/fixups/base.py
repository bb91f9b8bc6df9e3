"""The fixup contract: ``fn(subject, context) -> FixupResult(subject, changes)``, never in place.

A fixup handles one quirk of one tool (tf2onnx, onnx2torch, onnxruntime). Graph fixups take an
``onnx.ModelProto``, trace fixups (:mod:`pipeline.fixups.trace`) a traced TensorFlow function; both
are :class:`Fixup` s and both return a :class:`FixupResult`: the rewritten subject (a new object;
the input is left as it was, as a ``torch.fx`` pass leaves its input) and a list of human-readable
changes. An empty list means it declined, and the subject comes back as it was given.
:func:`run_fixups` runs fixups in their explicit order (a :class:`Registry`); a fixup that raises
is reported by name together with the ones before it.

The model a graph fixup sees holds the graph only when its weights are in external data (large
models always are): initializers then carry file references, and :meth:`FixupContext.array` reads one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import numpy as np
import onnx

from pipeline.context import FixupRecord, TensorSpec
from pipeline.errors import InternalError, PipelineError
from pipeline.registry import Doc, Registry

STAGE = "fixups"
T = TypeVar("T")


@dataclass
class LazyWeights:
    """The weights a weight fixup rewrites: tensors computed only when they are written.

    While :func:`pipeline.weight_folding.attach` turns the exported graph's weight inputs into
    initializers, the weight fixups (``WEIGHT_FIXUPS`` in :mod:`pipeline.fixups`) replace nodes
    by tensors of ``tensors`` (name -> function computing it) instead of computing them at once.
    """

    tensors: dict[str, Callable[[], np.ndarray]]
    origin: dict[str, str] = field(default_factory=dict)  # derived tensor -> the weight it comes from
    base_dir: Path | None = None  # where the model's existing external initializers live
    shapes: dict[str, list[int]] = field(default_factory=dict)  # static shapes of folded Conv kernels
    folded: int = 0  # nodes replaced by tensors of ``tensors``
    fused: int = 0  # Mul/Add nodes merged into a Conv


@dataclass
class FixupContext:
    """What a fixup may know besides the graph."""

    inputs: list[TensorSpec] = field(default_factory=list)  # resolved specs: dims pinned, batch None
    layers: list[str] = field(default_factory=list)
    # (domain, op_type, since_version) -> a torch converter exists; None: custom_ops + onnx2torch
    supported: Callable[[str, str, int], bool] | None = None
    model_dir: Path | None = None  # the model file's folder: external data is read relative to it
    weights: LazyWeights | None = None  # only while the exported weights are attached (weight fixups)

    def array(self, tensor: onnx.TensorProto) -> np.ndarray:
        """An initializer's value, whether inline or in external data (large weights usually are).

        Fixups must not inline large tensors back: a new or changed large initializer is written
        to external data when the model is saved, but reading every weight into memory defeats
        the point of keeping them outside.
        """
        from pipeline.external_data import read

        return read(tensor, self.model_dir)


class FixupResult(NamedTuple, Generic[T]):
    """What a fixup returns: the rewritten subject (the input itself when it declined) and what changed."""

    model: T
    changes: list[str]


def rewrite_copy(model: onnx.ModelProto, rewrite: Callable[[onnx.ModelProto], list[str]]) -> FixupResult[Any]:
    """Run an in-place ``rewrite`` on a copy of ``model``: the copy if it changed something, else ``model``."""
    working = onnx.ModelProto()
    working.CopyFrom(model)
    changes = rewrite(working)
    return FixupResult(working if changes else model, changes)


FixupFn = Callable[[Any, FixupContext], FixupResult[Any]]


@dataclass(frozen=True)
class Fixup:
    """A registered fixup (of the ONNX graph or of the traced TensorFlow function)."""

    name: str
    fn: FixupFn
    doc: Doc

    @classmethod
    def of(cls, fn: FixupFn) -> Fixup:
        return cls(name=fn.__name__, fn=fn, doc=Doc.of(fn))

    def __call__(self, subject: Any, context: FixupContext) -> FixupResult[Any]:
        return self.fn(subject, context)


def registry(what: str, fixups: Iterable[FixupFn]) -> Registry[str, Fixup]:
    """``fixups`` as a :class:`Registry` by name, in the order given (the order they run in)."""
    return Registry(what, ((f.name, f) for f in map(Fixup.of, fixups)))


def run_fixups(
    subject: T,
    fixups: Registry[str, Fixup] | Iterable[Fixup],
    context: FixupContext | None = None,
    *,
    kind: str = "fixup",
    stage: str = STAGE,
) -> tuple[T, list[FixupRecord]]:
    """Apply ``fixups`` in order to ``subject``; return the result and a record of each that fired.

    A fixup that raises anything but a :class:`PipelineError` becomes an :class:`InternalError`
    that names it (``kind`` says which sort of fixup) and the ones that ran before it.
    """
    entries = list(fixups.values()) if isinstance(fixups, Registry) else list(fixups)
    context = context if context is not None else FixupContext()
    current = subject
    records: list[FixupRecord] = []
    done: list[str] = []
    for fixup in entries:
        start = time.perf_counter()
        try:
            result = fixup(current, context)
        except PipelineError:
            raise
        except Exception as exc:
            raise InternalError(
                f"{kind} '{fixup.name}' failed: {type(exc).__name__}: {exc}"
                + (f" (after: {', '.join(done)})" if done else f" (first {kind})"),
                stage=stage,
            ) from exc
        done.append(fixup.name)
        current = result.model
        if result.changes:
            seconds = round(time.perf_counter() - start, 3)
            records.append(FixupRecord(name=fixup.name, changes=result.changes, seconds=seconds))
    return current, records
