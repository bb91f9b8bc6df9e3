"""Trace fixups: rewrites of the traced TensorFlow function, run before tf2onnx sees it.

Some quirks cannot be fixed on the ONNX side because the information is gone by then (a
captured tensor's value, the body of a function tf2onnx leaves as an opaque call). A trace fixup
is a :class:`pipeline.fixups.base.Fixup` like a graph fixup, on a
``tf.types.experimental.ConcreteFunction``: ``fn(function, context) -> FixupResult(function,
changes)``; it returns the function it was given and an empty list when it declines. They run in
their explicit order (``TRACE_FIXUPS`` in :mod:`pipeline.fixups`) through
:func:`pipeline.fixups.base.run_fixups` with ``kind=KIND, stage=STAGE``. This module holds the
helpers they share; TensorFlow is imported only by the functions that need it.
"""

from __future__ import annotations

from typing import Any

STAGE = "export"
KIND = "trace fixup"


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
