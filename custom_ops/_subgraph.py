"""Helpers for control-flow converters (Loop, If): subgraphs as torch modules, constants by evaluation.

A subgraph (an ``If`` branch, a ``Loop`` body) may read tensors of the enclosing graph by name.
:func:`import_subgraph` turns it into a standalone model whose graph inputs are the subgraph's
own inputs followed by those outer tensors (outer initializers are copied in, so weights stay
parameters), and imports it with the importer that imports the enclosing graph (the pipeline's, our
converters included), so this package does not depend on the pipeline's stages.
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
    """Import ``sub`` as a module taking ``(*sub.input, *outer tensors that are not initializers)``.

    The importer is the one that is importing the outer graph (it hands itself over as
    ``outer_graph.import_model``), so the subgraph's nodes get the same converters, ours included.
    """
    import_model = getattr(outer_graph, "import_model", None)
    if import_model is None:
        raise NotImplementedError("control flow needs the pipeline's importer (through pipeline.stages.importer)")

    constants: dict[str, np.ndarray] = {}
    runtime = []
    for name in outer_names(sub):
        value = tensor_value(outer_graph, name)  # weights, or computed from weights only
        if value is not None:
            constants[name] = value
        else:
            runtime.append(name)
    constants.update({i.name: numpy_helper.to_array(i) for i in sub.initializer})
    nodes = _fold_constants(list(sub.node), constants, outer_graph)
    for output in sub.output:  # a constant output still needs a node producing it
        if output.name in constants:
            constants[output.name + "__value"] = constants.pop(output.name)
            nodes.append(helper.make_node("Identity", [output.name + "__value"], [output.name]))
    used = {name for node in nodes for name in node.input} | {o.name for o in sub.output}
    graph = helper.make_graph(
        nodes,
        sub.name or "subgraph",
        [*[_copy(i) for i in sub.input], *[_value_info(n, outer_graph) for n in runtime]],
        [_copy(o) for o in sub.output],
        [numpy_helper.from_array(v, n) for n, v in constants.items() if n in used],
    )
    graph.value_info.extend(sub.value_info)
    model = helper.make_model(graph, opset_imports=opset_imports)
    model.ir_version = ir_version
    return Subgraph(module=import_model(model).module, outer=runtime)


_NOT_FOLDED = ("RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli")


def _fold_constants(nodes: list[onnx.NodeProto], constants: dict[str, np.ndarray], graph: Any) -> list[onnx.NodeProto]:
    """Evaluate nodes computed from constants only (a Conv bias squeezed inside a branch): converters
    such as onnx2torch's Conv need their weights as initializers."""
    kept = []
    for node in nodes:
        foldable = (
            node.op_type not in _NOT_FOLDED
            and not any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)
            and all(not name or name in constants for name in node.input)
            and node.domain in ("", "ai.onnx")
        )
        values = (
            evaluate([node], {n: constants[n] for n in node.input if n}, list(node.output), graph) if foldable else None
        )
        if values is None:
            kept.append(node)
            continue
        constants.update(zip(node.output, values, strict=False))
    return kept


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


def tensor_value(graph: Any, name: str) -> np.ndarray | None:
    """The value of tensor ``name`` of ``graph`` if it is constant or computed from constants only."""
    if name in graph.initializers:
        return graph.initializers[name].to_numpy()
    try:
        producer, position = graph.value_as_node_output(name)
    except KeyError:
        return None
    return constant_value(producer, graph, -1, output=position)


def constant_value(node: Any, graph: Any, index: int, depth: int = 0, output: int | None = None) -> np.ndarray | None:
    """Input ``index`` of ``node`` if it is a constant or computed from constants only, else None."""
    if output is not None:  # the value of ``node``'s own output ``output``
        producer, position = node, output
    else:
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
    if producer.operation_type in ("Shape", "Size"):  # of a tensor whose shape is fully known
        dims = _static_shape(graph, producer.input_values[0])
        if dims is None:
            return None
        if producer.operation_type == "Size":
            return np.array(int(np.prod(dims)), dtype=np.int64)
        attrs = {a.name: a.i for a in producer.proto.attribute}
        return np.array(dims[attrs.get("start", 0) : attrs.get("end", len(dims))], dtype=np.int64)
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


def _static_shape(graph: Any, name: str) -> list[int] | None:
    info = graph.value_info.get(name)
    if info is None or not info.type.tensor_type.HasField("shape"):
        return None
    dims = info.type.tensor_type.shape.dim
    if not all(d.HasField("dim_value") for d in dims):
        return None
    return [int(d.dim_value) for d in dims]


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
