"""Fixup: compute the nodes that read only weights (tf2onnx's kernel transposes), lazily, as weights."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.external_data import Loader, loader
from pipeline.fixups.base import FixupContext, FixupResult, LazyWeights, rewrite_copy
from pipeline.onnx_utils import infer_shapes

# Deterministic ops whose result on constant inputs can be computed once, here.
FOLDABLE = frozenset(
    {
        "Identity",
        "Cast",
        "Transpose",
        "Reshape",
        "Flatten",
        "Squeeze",
        "Unsqueeze",
        "Concat",
        "Split",
        "Slice",
        "Gather",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Neg",
        "Sqrt",
        "Reciprocal",
        "Pow",
    }
)


def fold_weight_nodes(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Replace the nodes that compute only on weights and constants by weight tensors computed when written.

    tf2onnx folds the Transposes and Reshapes it puts on a kernel only when the kernel is a
    constant. The export keeps large weights out of tf2onnx's graph, as graph inputs
    (:mod:`pipeline.stages.export`: one Dense(25088 -> 4096) layer of 411 MB otherwise took 20.7 GB),
    so those nodes stay; computed here, one tensor at a time as it is written, they become plain
    initializers as in an export with constant kernels. Runs only while the weights are attached
    (``context.weights``).
    """
    weights = context.weights
    if weights is None or not weights.tensors:
        return FixupResult(model, [])
    return rewrite_copy(model, lambda working: _fold(working, weights))


def constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """The values of the graph's ``Constant`` nodes, by output name."""
    constants: dict[str, np.ndarray] = {}
    for node in graph.node:
        value = _value_of_constant_node(node)
        if value is not None:
            constants[node.output[0]] = value
    return constants


def _fold(model: onnx.ModelProto, weights: LazyWeights) -> list[str]:
    graph = model.graph
    opset = _opset(model)
    lazy, origin = weights.tensors, weights.origin
    inline: dict[str, onnx.TensorProto] = {i.name: i for i in graph.initializer}
    constants = constant_values(graph)

    def constant(name: str) -> Loader | None:
        if name in lazy:
            return lazy[name]
        if name in inline:
            return loader(inline[name], weights.base_dir)
        if name in constants:
            value = constants[name]
            return lambda: value
        return None

    graph_outputs = {o.name for o in graph.output}
    kept: list[onnx.NodeProto] = []
    folded = 0
    for node in graph.node:
        names = [n for n in node.input if n]
        foldable = (
            node.op_type in FOLDABLE
            and node.domain in ("", "ai.onnx")
            and names
            and any(n in lazy for n in names)
            and all(constant(n) is not None for n in names)
            and not (set(node.output) & graph_outputs)
            and not _has_subgraph(node)
        )
        if not foldable:
            kept.append(node)
            continue
        loaders = [constant(n) if n else None for n in node.input]
        roots = {origin[n] for n in names if n in origin}
        for index, out in enumerate(node.output):
            if out:
                lazy[out] = _folded(node, loaders, index, opset)
                if len(roots) == 1:
                    origin[out] = next(iter(roots))
        folded += 1
    if not folded:
        return []
    # the Conv kernels' shapes, inferred while the nodes computing them are still in the graph
    weights.shapes.update(kernel_shapes(model, kept, lazy))
    del graph.node[:]
    graph.node.extend(kept)
    weights.folded += folded
    return [f"folded {folded} node(s) that compute only on weights"]


def _value_of_constant_node(node: onnx.NodeProto) -> np.ndarray | None:
    if node.op_type != "Constant" or len(node.attribute) != 1:
        return None
    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    if attr.name in ("value_float", "value_floats", "value_int", "value_ints"):
        value = helper.get_attribute_value(attr)
        return np.array(value, dtype=np.float32 if "float" in attr.name else np.int64)
    return None


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)


def _evaluate(node: onnx.NodeProto, args: list[np.ndarray | None], opset: int) -> list[np.ndarray]:
    """Run one node on numpy values (common ops directly, the rest with onnx's reference runtime)."""
    op = node.op_type
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    x = args[0]
    if op == "Identity":
        return [x]
    if op == "Transpose":
        return [np.transpose(x, attrs.get("perm"))]
    if op == "Reshape" and not attrs.get("allowzero"):
        shape = [int(d) for d in args[1]]
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
        return [x.reshape(shape)]
    if op in ("Add", "Sub", "Mul", "Div") and x.dtype.kind == "f":
        fn = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}[op]
        return [fn(x, args[1]).astype(np.result_type(x, args[1]), copy=False)]
    if op == "Sqrt":
        return [np.sqrt(x)]
    if op == "Reciprocal":
        return [np.reciprocal(x)]
    if op == "Neg":
        return [np.negative(x)]
    from onnx.reference import ReferenceEvaluator

    inputs = [f"in{i}" if name else "" for i, name in enumerate(node.input)]
    outputs = [f"out{i}" for i in range(len(node.output))]
    one = helper.make_node(op, inputs, outputs, domain=node.domain)
    one.attribute.extend(node.attribute)
    evaluator = ReferenceEvaluator(
        helper.make_model(
            helper.make_graph(
                [one],
                "fold",
                [
                    helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape)
                    for n, a in zip(inputs, args, strict=True)
                    if n and a is not None
                ],
                [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in outputs],
            ),
            opset_imports=[helper.make_opsetid("", opset)],
        )
    )
    feeds = {n: a for n, a in zip(inputs, args, strict=True) if n and a is not None}
    return [np.asarray(v) for v in evaluator.run(None, feeds)]


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)


def kernel_shapes(
    model: onnx.ModelProto, nodes: list[onnx.NodeProto], lazy: Mapping[str, Loader]
) -> dict[str, list[int]]:
    """Static shapes of the weight-derived Conv kernels, from shape inference on the graph alone."""
    wanted = {n.input[1] for n in nodes if n.op_type == "Conv" and len(n.input) > 1 and n.input[1] in lazy}
    if not wanted:
        return {}
    inferred = infer_shapes(model)
    shapes = {}
    for value in [*inferred.graph.input, *inferred.graph.value_info]:
        if value.name in wanted and value.type.tensor_type.HasField("shape"):
            dims = value.type.tensor_type.shape.dim
            shapes[value.name] = [d.dim_value if d.HasField("dim_value") else -1 for d in dims]
    return shapes


def _folded(node: onnx.NodeProto, loaders: list[Loader | None], index: int, opset: int) -> Loader:
    def compute() -> np.ndarray:
        args = [fn() if fn is not None else None for fn in loaders]
        return _evaluate(node, args, opset)[index]

    return compute
