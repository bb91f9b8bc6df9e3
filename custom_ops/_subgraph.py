"""Helpers for control-flow converters (Loop, If): subgraphs as torch modules, constants by evaluation.

A subgraph (an ``If`` branch, a ``Loop`` body) may read tensors of the enclosing graph by name.
:func:`import_subgraph` turns it into a standalone model whose graph inputs are the subgraph's
own inputs followed by those outer tensors (outer initializers are copied in, so weights stay
parameters), and imports it with the pipeline's importer, our converters included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from custom_ops.base import constant_input


@dataclass
class Subgraph:
    """An imported subgraph: the module and the outer tensors it takes after its own inputs."""

    module: Any
    outer: list[str]


def outer_names(graph: onnx.GraphProto) -> list[str]:
    """Tensors ``graph`` (and its nested subgraphs) read but neither define nor take as input, in order."""
    defined = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    names: list[str] = []
    for node in graph.node:
        wanted = list(node.input)
        for attr in node.attribute:
            subs = [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs)
            for sub in subs:
                wanted += outer_names(sub)
        for name in wanted:
            if name and name not in defined and name not in names:
                names.append(name)
        defined.update(node.output)
    return names


def _value_info(name: str, outer_graph: Any) -> onnx.ValueInfoProto:
    info = outer_graph.value_info.get(name)
    if info is not None:
        copy = onnx.ValueInfoProto()
        copy.CopyFrom(info)
        return copy
    return helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)


def import_subgraph(sub: onnx.GraphProto, outer_graph: Any, opset_imports: list[Any], ir_version: int) -> Subgraph:
    """Import ``sub`` as a module taking ``(*sub.input, *outer tensors that are not initializers)``."""
    from pipeline.stages.importer import import_model

    outer = outer_names(sub)
    initializers = [n for n in outer if n in outer_graph.initializers]
    runtime = [n for n in outer if n not in outer_graph.initializers]
    graph = helper.make_graph(
        list(sub.node),
        sub.name or "subgraph",
        [*[_copy(i) for i in sub.input], *[_value_info(n, outer_graph) for n in runtime]],
        [_copy(o) for o in sub.output],
        [*sub.initializer, *[numpy_helper.from_array(outer_graph.initializers[n].to_numpy(), n) for n in initializers]],
    )
    graph.value_info.extend(sub.value_info)
    model = helper.make_model(graph, opset_imports=opset_imports)
    model.ir_version = ir_version
    return Subgraph(module=import_model(model).module, outer=runtime)


def _copy(value: onnx.ValueInfoProto) -> onnx.ValueInfoProto:
    copy = onnx.ValueInfoProto()
    copy.CopyFrom(value)
    return copy


def model_context(graph: Any) -> tuple[list[Any], int]:
    """Opset imports and IR version for standalone models built from ``graph``'s subgraphs."""
    from pipeline.onnx_utils import MAX_ORT_IR_VERSION

    opsets = getattr(graph, "opsets", None)
    if opsets is None:
        raise NotImplementedError("control flow needs the model's opsets (import through pipeline.stages.importer)")
    return [helper.make_opsetid(domain, version) for domain, version in opsets.items()], MAX_ORT_IR_VERSION


def constant_value(node: Any, graph: Any, index: int, depth: int = 0) -> np.ndarray | None:
    """Input ``index`` of ``node`` if it is a constant or computed from constants only, else None."""
    value = constant_input(node, graph, index)
    if value is not None or depth > 16:
        return value
    names = node.input_values
    if index >= len(names) or not names[index]:
        return None
    try:
        producer, position = graph.value_as_node_output(names[index])
    except KeyError:
        return None
    if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in producer.proto.attribute):
        return None
    inputs = {}
    for i, name in enumerate(producer.input_values):
        if not name:
            continue
        value = constant_value(producer, graph, i, depth + 1)
        if value is None:
            return None
        inputs[name] = value
    outputs = evaluate([producer.proto], inputs, list(producer.output_values), graph)
    return outputs[position] if outputs is not None else None


def evaluate(
    nodes: list[onnx.NodeProto], inputs: dict[str, np.ndarray], outputs: list[str], graph: Any
) -> list[np.ndarray] | None:
    """Run ``nodes`` with onnx's reference evaluator on constant ``inputs``; None if it cannot."""
    from onnx.reference import ReferenceEvaluator

    opsets, _ = model_context(graph)
    values = [
        helper.make_tensor_value_info(k, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape) for k, v in inputs.items()
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "eval", values, [helper.make_empty_tensor_value_info(o) for o in outputs if o]),
        opset_imports=opsets,
    )
    try:
        results = ReferenceEvaluator(model).run(None, inputs)
    except Exception:
        return None
    return [np.asarray(r) for r in results]
