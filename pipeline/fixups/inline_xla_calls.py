"""Trace fixup: calls of functions marked for XLA compilation are inlined."""

from __future__ import annotations

from typing import Any

from pipeline.fixups.trace import freeze, frozen_graph_def, rebuild

CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")
_NO_INLINE = ("_XlaMustCompile", "_noinline")
SUFFIX = "_inlinable"


def _marked(function_def: Any) -> bool:
    return any(function_def.attr[key].b for key in _NO_INLINE if key in function_def.attr)


def inline_xla_calls(function: Any) -> tuple[Any, list[str]]:
    """Inline the calls of functions marked for XLA compilation (``jit_compile=True``) into the graph.

    Keras 3 runs grouped convolutions through a ``tf.function(jit_compile=True)`` on CPU
    (ConvNeXt's depthwise Conv2D). TensorFlow's inliner never inlines such calls, so a
    ``StatefulPartitionedCall`` node reaches tf2onnx, which has no conversion for it. Without the
    XLA marks, the same freezing pass inlines the body like any other function.
    """
    marked = {f.signature.name for f in function.graph.as_graph_def().library.function if _marked(f)}
    if not marked:
        return function, []
    frozen, graph_def = frozen_graph_def(function)
    renamed = {}
    for function_def in graph_def.library.function:
        if _marked(function_def):
            for key in _NO_INLINE:
                if key in function_def.attr:
                    del function_def.attr[key]
            # a new name: the eager context already holds the marked definition under the old one
            old = function_def.signature.name
            renamed[old] = old + SUFFIX
            function_def.signature.name = renamed[old]
    if not renamed:
        return function, []
    calls = []
    for node in _all_nodes(graph_def):
        if node.op in CALL_OPS and node.attr["f"].func.name in renamed:
            node.attr["f"].func.name = renamed[node.attr["f"].func.name]
            if "_XlaMustCompile" in node.attr:
                del node.attr["_XlaMustCompile"]
            calls.append(node.name)
    inlined = freeze(rebuild(graph_def, frozen))
    targets = set(renamed.values())
    nodes = _all_nodes(inlined.graph.as_graph_def())
    left = [n.name for n in nodes if n.op in CALL_OPS and n.attr["f"].func.name in targets]
    if left:
        raise RuntimeError(f"{len(left)} call(s) still in the graph after inlining, e.g. '{left[0]}'")
    return inlined, [f"inlined {len(calls)} call(s) of {len(renamed)} XLA-compiled function(s)"]


def _all_nodes(graph_def: Any) -> list[Any]:
    """Top-level nodes and the nodes of every library function."""
    nodes = list(graph_def.node)
    for function_def in graph_def.library.function:
        nodes.extend(function_def.node_def)
    return nodes
