"""Trace fixup: top-level conditionals (tf.cond) are lowered to Switch/Merge before tf2onnx."""

from __future__ import annotations

from typing import Any

from pipeline.fixups.base import FixupContext, FixupResult
from pipeline.fixups.trace import freeze, frozen_graph_def, rebuild

IF_OPS = ("If", "StatelessIf")
LOWER = "_lower_using_switch_merge"


def lower_conditionals(function: Any, context: FixupContext) -> FixupResult[Any]:
    """Lower the graph's top-level ``If`` ops (``tf.cond``) to Switch/Merge; loops stay functional.

    tf2onnx converts a functional ``If`` by tracing its branch functions with the caller's input
    shapes, but it aligns them off by one (the condition's shape goes to the first branch
    argument), so branch ops that need static shapes fail to convert: a Conv2D in a ``tf.cond``
    branch is left with TensorFlow's NHWC attributes and ONNX Runtime refuses the model. Its
    Switch/Merge path rebuilds the ONNX If from ops that keep their shapes. While loops are not
    lowered: tf2onnx turns lowered loops into invalid graphs.
    """
    graph_def = function.graph.as_graph_def()
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    if not any(node.op in IF_OPS for node in nodes):
        return FixupResult(function, [])
    frozen, graph_def = frozen_graph_def(function)
    conditionals = [node for node in graph_def.node if node.op in IF_OPS]
    if not conditionals:  # all inside loop bodies: not lowered
        return FixupResult(function, [])
    for node in conditionals:  # freezing marked every control-flow op "keep functional"
        node.attr[LOWER].b = True
    lowered = freeze(rebuild(graph_def, frozen), lower_control_flow=True)
    left = [node.name for node in lowered.graph.as_graph_def().node if node.op in IF_OPS]
    if left:
        raise RuntimeError(f"{len(left)} conditional(s) still functional after lowering, e.g. '{left[0]}'")
    return FixupResult(lowered, [f"lowered {len(conditionals)} tf.cond conditional(s) to Switch/Merge"])
