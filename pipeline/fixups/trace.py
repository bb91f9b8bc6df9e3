"""Trace fixups: rewrites of the traced TensorFlow function, run before tf2onnx sees it.

Some quirks cannot be fixed on the ONNX side because the information is gone by then (a
captured tensor's value, the body of a function tf2onnx leaves as an opaque call). A trace fixup
is ``fn(function) -> (function, changes)`` on a ``tf.types.experimental.ConcreteFunction``; it
returns the function unchanged and an empty list when it declines. :func:`run_trace_fixups` runs
them in their explicit order (``TRACE_FIXUPS`` in :mod:`pipeline.fixups`) and records each one
that fired. TensorFlow is imported only by the functions that need it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.context import FixupRecord
from pipeline.fixups.base import run_in_order
from pipeline.registry import Doc

STAGE = "export"
TraceFixupFn = Callable[[Any], tuple[Any, list[str]]]


@dataclass(frozen=True)
class TraceFixup:
    """A registered fixup of the traced TensorFlow function."""

    name: str
    fn: TraceFixupFn
    doc: Doc

    @classmethod
    def of(cls, fn: TraceFixupFn) -> TraceFixup:
        return cls(name=fn.__name__, fn=fn, doc=Doc.of(fn))

    def __call__(self, function: Any) -> tuple[Any, list[str]]:
        return self.fn(function)


def run_trace_fixups(function: Any, fixups: Sequence[TraceFixup]) -> tuple[Any, list[FixupRecord]]:
    """Apply ``fixups`` in order to a concrete function; return the result and what fired."""
    current = function

    def apply(fixup: TraceFixup) -> list[str]:
        nonlocal current
        current, changes = fixup(current)
        return changes

    records = run_in_order(fixups, apply, "trace fixup", STAGE)
    return current, records


def freeze(function: Any, lower_control_flow: bool = False) -> Any:
    """``function`` with variables and captured tensors turned into constants, calls inlined.

    The structured signature (input names, dict outputs) is carried over, so tf2onnx still names
    the ONNX inputs and outputs after it. With ``lower_control_flow``, the control-flow ops whose
    ``_lower_using_switch_merge`` attribute is set become Switch/Merge (TF1-style) ops.
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    frozen = convert_variables_to_constants_v2(
        function, lower_control_flow=lower_control_flow, aggressive_inlining=True
    )
    return with_structure_of(frozen, function, tf)


def frozen_graph_def(function: Any) -> tuple[Any, Any]:
    """``(frozen function, its GraphDef)``; a function without captures counts as frozen already."""
    frozen = function if not function.graph.captures else freeze(function)
    return frozen, frozen.graph.as_graph_def()


def rebuild(graph_def: Any, like: Any) -> Any:
    """A concrete function computing ``graph_def`` with the inputs, outputs and structure of ``like``.

    Library functions the rewrite changed must have been renamed: the eager context keeps the
    definitions it has under their old names.
    """
    import tensorflow as tf
    from tensorflow.python.eager import wrap_function

    rebuilt = wrap_function.function_from_graph_def(
        graph_def, [t.name for t in like.inputs], [t.name for t in like.outputs]
    )
    for new_input, old_input in zip(rebuilt.inputs, like.inputs, strict=True):
        new_input.set_shape(old_input.shape)
    return with_structure_of(rebuilt, like, tf)


def with_structure_of(new: Any, old: Any, tf: Any) -> Any:
    """Give ``new`` (rebuilt from a GraphDef) the structured inputs and outputs of ``old``."""
    graph = new.graph
    graph.structured_input_signature = old.structured_input_signature
    graph.structured_outputs = tf.nest.pack_sequence_as(old.graph.structured_outputs, list(new.outputs))
    return new
