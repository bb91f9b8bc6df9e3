"""Trace fixup: calls of functions marked for XLA compilation are inlined."""

from __future__ import annotations

from typing import Any

from pipeline.fixups.base import FixupContext, FixupResult

CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")
_NO_INLINE = ("_XlaMustCompile", "_noinline")
SUFFIX = "_inlinable"


def _marked(function_def: Any) -> bool:
    return any(function_def.attr[key].b for key in _NO_INLINE if key in function_def.attr)


def inline_xla_calls(function: Any, context: FixupContext) -> FixupResult[Any]:
    """Inline the calls of functions marked for XLA compilation (``jit_compile=True``) into the graph.

    Keras 3 runs grouped convolutions through a ``tf.function(jit_compile=True)`` on CPU
    (ConvNeXt's depthwise Conv2D). TensorFlow's inliner never inlines such calls, so a
    ``StatefulPartitionedCall`` node reaches tf2onnx, which has no conversion for it. Without the
    XLA marks, the export stage's freezing pass inlines the body like any other function. The
    variables stay variables (captured, not frozen here), so the export stage still keeps the
    large ones out of tf2onnx: freezing them here cost ConvNeXtTiny 7 GB instead of about 2.
    """
    import tensorflow as tf

    graph_def = function.graph.as_graph_def()
    library = {f.signature.name: f for f in graph_def.library.function}
    marked = {name for name, f in library.items() if _marked(f)}
    if not marked:
        return FixupResult(function, [])
    # The eager context holds every library function under its name: each one that changes (the
    # marked ones, and any that calls a changed one) gets a new name.
    changed = set(marked)
    while True:
        callers = {n for n, f in library.items() if n not in changed and _calls(f.node_def) & changed}
        if not callers:
            break
        changed |= callers
    renamed = {name: name + SUFFIX for name in changed}
    for name in marked:
        for key in _NO_INLINE:
            if key in library[name].attr:
                del library[name].attr[key]
    for name in changed:
        library[name].signature.name = renamed[name]
    calls = []
    for node in _all_nodes(graph_def):
        for ref in _function_refs(node):
            if ref.name in renamed:
                if ref.name in marked:
                    calls.append(node.name)
                ref.name = renamed[ref.name]
        if node.name in calls and "_XlaMustCompile" in node.attr:
            del node.attr["_XlaMustCompile"]
    inlined = _recapture(function, graph_def, tf)
    result = inlined.graph.as_graph_def()
    marked = {f.signature.name for f in result.library.function if _marked(f)}
    left = [n.name for n in _all_nodes(result) if n.op in CALL_OPS and n.attr["f"].func.name in marked]
    if left:
        raise RuntimeError(f"{len(left)} call(s) of XLA-compiled functions left after the rewrite, e.g. '{left[0]}'")
    return FixupResult(inlined, [f"inlined {len(calls)} call(s) of {len(marked)} XLA-compiled function(s)"])


def _recapture(function: Any, graph_def: Any, tf: Any) -> Any:
    """A concrete function computing ``graph_def`` that captures what ``function`` captured.

    ``graph_def`` is ``function``'s graph, rewritten: its captured inputs (variable handles,
    constants) become arguments of the rebuilt function, and a new ``tf.function`` passes them in,
    so variables are still captured, and listed, as variables.
    """
    from tensorflow.python.eager import wrap_function

    captures = list(function.graph.captures)
    captured = {inner.name for _, inner in captures}
    args = [t.name for t in function.inputs if t.name not in captured]
    rebuilt = wrap_function.function_from_graph_def(
        graph_def, args + [inner.name for _, inner in captures], [t.name for t in function.outputs]
    )
    handles = [outer for outer, _ in captures]
    variables = [v for v in function.graph.variables if any(v.handle is h for h in handles)]
    structure = function.graph.structured_outputs

    def call(*inputs: Any) -> Any:
        graph = tf.compat.v1.get_default_graph()
        for variable in variables:
            graph.watch_variable(variable)
        outputs = rebuilt(*inputs, *handles)
        return tf.nest.pack_sequence_as(structure, list(outputs))

    signature = list(function.structured_input_signature[0])
    return tf.function(call, input_signature=signature, autograph=False).get_concrete_function()


def _function_refs(node: Any) -> list[Any]:
    """The functions ``node`` names in its attributes (calls, loop and branch bodies)."""
    refs = []
    for value in node.attr.values():
        if value.HasField("func"):
            refs.append(value.func)
        elif value.HasField("list"):
            refs.extend(value.list.func)
    return refs


def _calls(nodes: Any) -> set[str]:
    return {ref.name for node in nodes for ref in _function_refs(node)}


def _all_nodes(graph_def: Any) -> list[Any]:
    """Top-level nodes and the nodes of every library function."""
    nodes = list(graph_def.node)
    for function_def in graph_def.library.function:
        nodes.extend(function_def.node_def)
    return nodes
