"""Attach the exported weights: fold weight-only nodes and merge per-channel Mul/Add into Conv, lazily.

The TensorFlow side exports a graph whose large weights are *inputs* (see
:mod:`pipeline.stages.export`); :func:`attach` then turns them into initializers, one tensor at a
time, straight from where they live (TensorFlow variables, or an existing external data file),
with the weight rewrites of :data:`WEIGHT_REWRITES` applied on the way:

* nodes that compute only on weights (the kernel transposes and reshapes tf2onnx inserts because
  it could not fold them) are folded here instead, lazily, tensor by tensor;
* a ``Conv`` followed by a per-channel ``Mul``/``Add`` by constants (BatchNorm after folding) is
  merged into the convolution's weights and bias, as tf2onnx does when the kernel is a constant;
* each resulting tensor is written once, either inline or appended to an external data file
  (:mod:`pipeline.external_data`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.external_data import DataWriter, Loader, is_external, loader, make_tensor, nbytes, read
from pipeline.onnx_utils import infer_shapes, subgraph_inputs

SMALL_BYTES = 1 << 18  # per-channel constants read while deciding a fusion

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


# --------------------------------------------------------------------------- attaching weights


@dataclass
class AttachResult:
    """What :func:`attach` did."""

    folded: int = 0  # nodes computed here and removed from the graph
    fused: int = 0  # Mul/Add nodes merged into a Conv
    written: int = 0  # initializers written (inline or external)
    external_bytes: int = 0
    inline_bytes: int = 0
    changes: list[str] = field(default_factory=list)


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


def attach(
    model: onnx.ModelProto,
    weights: Mapping[str, Loader],
    writer: DataWriter | None,
    *,
    base_dir: Path | None = None,
) -> AttachResult:
    """Make the graph inputs named in ``weights`` initializers, folding the nodes that only use them.

    ``weights`` maps graph input names to loaders (called once each, when the tensor is written).
    Tensors of ``writer``'s size or more go to its data file; the rest stay inline. ``base_dir`` is
    where existing external initializers of ``model`` live (they are read only if a fold needs them).
    """
    graph = model.graph
    opset = _opset(model)
    result = AttachResult()
    inline: dict[str, onnx.TensorProto] = {i.name: i for i in graph.initializer}
    lazy: dict[str, Loader] = dict(weights)  # weight-derived tensors, computed on demand
    origin: dict[str, str] = {name: name for name in weights}  # derived tensor -> the weight it comes from
    constants: dict[str, np.ndarray] = {}
    for node in graph.node:
        value = _value_of_constant_node(node)
        if value is not None:
            constants[node.output[0]] = value

    def constant(name: str) -> Loader | None:
        if name in lazy:
            return lazy[name]
        if name in inline:
            return loader(inline[name], base_dir)
        if name in constants:
            value = constants[name]
            return lambda: value
        return None

    graph_outputs = {o.name for o in graph.output}
    kept: list[onnx.NodeProto] = []
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
        result.folded += 1

    def small(name: str) -> np.ndarray | None:
        """A constant that is not weight-derived and small enough to read right away."""
        if name in constants:
            return constants[name]
        tensor = inline.get(name)
        if tensor is None or name in lazy or nbytes(tensor) > SMALL_BYTES:
            return None
        return read(tensor, base_dir)

    kept = _fuse_conv_affine(kept, lazy, origin, small, _kernel_shapes(model, kept, lazy), graph_outputs, result)
    del graph.node[:]
    graph.node.extend(kept)

    needed: set[str] = set(graph_outputs)
    for node in kept:
        needed.update(n for n in node.input if n)
        needed |= subgraph_inputs(node)
    finals = [name for name in lazy if name in needed and name not in inline]
    finals = _name_after_weights(graph, finals, lazy, origin, needed)
    final_set = set(finals)
    unused = [t for t in graph.initializer if t.name not in needed]
    for tensor in unused:  # e.g. biases replaced by fused ones
        graph.initializer.remove(tensor)
    # weight inputs (used or not) leave the inputs; tensors that became initializers lose value_info
    remaining_inputs = [i for i in graph.input if i.name not in weights and i.name not in final_set]
    del graph.input[:]
    graph.input.extend(remaining_inputs)
    stale = [v for v in graph.value_info if v.name in final_set]
    for v in stale:
        graph.value_info.remove(v)
    for name in finals:
        array = lazy[name]()
        tensor = make_tensor(name, array, writer)
        if is_external(tensor):
            result.external_bytes += array.nbytes
        else:
            result.inline_bytes += array.nbytes
        del array
        graph.initializer.append(tensor)
        result.written += 1
    if result.folded:
        result.changes.append(f"folded {result.folded} node(s) that compute only on weights")
    if result.fused:
        result.changes.append(f"merged {result.fused} per-channel Mul/Add node(s) into Conv weights")
    return result


def _kernel_shapes(
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


def _per_channel(value: np.ndarray, rank: int, channels: int) -> np.ndarray | None:
    """``value`` as a vector over axis 1 of a rank-``rank`` NC... tensor, if it broadcasts that way."""
    if value.ndim > rank:
        return None
    shape = (1,) * (rank - value.ndim) + value.shape
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(value.reshape(-1), (channels,)) if value.size == 1 else value.reshape(channels)


def _name_after_weights(
    graph: onnx.GraphProto, finals: list[str], lazy: dict[str, Loader], origin: dict[str, str], needed: set[str]
) -> list[str]:
    """Rename derived tensors after the weight they come from (``conv1/kernel``, not ``Transpose__12:0``).

    Only when that weight is not itself used any more and the name is free.
    """
    taken = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output}
    taken |= {i.name for i in graph.input if i.name not in lazy}
    renames: dict[str, str] = {}
    for name in finals:
        root = origin.get(name)
        if root is None or root == name or root in needed or root in taken or root in renames.values():
            continue
        renames[name] = root
    if not renames:
        return finals
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    for name, new in renames.items():
        lazy[new] = lazy.pop(name)
        needed.add(new)
    return [renames.get(name, name) for name in finals]


def _fuse_conv_affine(
    nodes: list[onnx.NodeProto],
    lazy: dict[str, Loader],
    origin: dict[str, str],
    small: Callable[[str], np.ndarray | None],
    kernel_shapes: Mapping[str, list[int]],
    graph_outputs: set[str],
    result: AttachResult,
) -> list[onnx.NodeProto]:
    """Merge ``Conv -> Mul(c) -> Add(d)`` with per-channel constants ``c``, ``d`` into the Conv.

    tf2onnx does this itself when the kernel is a constant; with the kernel folded here, the
    BatchNorm scale and offset that follow a convolution are left for this pass.
    """
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in nodes:
        for name in set(node.input):
            consumers.setdefault(name, []).append(node)
    removed: set[int] = set()
    created: set[str] = set()  # fused biases made here
    for conv in nodes:
        if conv.op_type != "Conv" or len(conv.input) < 2 or conv.input[1] not in lazy:
            continue
        shape = kernel_shapes.get(conv.input[1])
        if not shape or any(d <= 0 for d in shape):
            continue
        rank, channels = len(shape), shape[0]
        while True:
            out = conv.output[0]
            after = consumers.get(out, [])
            if len(after) != 1 or out in graph_outputs or len(after[0].input) != 2:
                break
            op = after[0]
            if op.op_type not in ("Mul", "Add") or op.input[0] == op.input[1]:
                break
            other = op.input[1] if op.input[0] == out else op.input[0]
            value = small(other)
            vector = _per_channel(value, rank, channels) if value is not None and value.dtype.kind == "f" else None
            bias_name = conv.input[2] if len(conv.input) > 2 and conv.input[2] else None
            bias = None
            if bias_name:
                bias = lazy.get(bias_name) or (lambda name=bias_name: small(name))
            if vector is None or (bias_name and bias_name not in lazy and small(bias_name) is None):
                break
            weight = lazy[conv.input[1]]
            root = origin.get(conv.input[1])
            if op.op_type == "Mul":
                weight_name = _fresh(f"{conv.input[1]}/scaled", lazy)
                lazy[weight_name] = _scaled_weight(weight, vector)
                if root:
                    origin[weight_name] = root
                conv.input[1] = weight_name
            if bias_name in created:  # ours from the previous step: replace it, keep its name
                bias_out = bias_name
            else:
                base = root.rsplit("/", 1)[0] if root and "/" in root else (root or conv.input[1])
                bias_out = _fresh(f"{base}/bias", lazy)
                created.add(bias_out)
            lazy[bias_out] = _new_bias(bias, vector, op.op_type, channels)
            if len(conv.input) > 2:
                conv.input[2] = bias_out
            else:
                conv.input.append(bias_out)
            conv.output[0] = op.output[0]
            consumers[conv.output[0]] = consumers.get(op.output[0], [])
            removed.add(id(op))
            result.fused += 1
    return [n for n in nodes if id(n) not in removed]


def _fresh(base: str, taken: Mapping[str, Any]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name


def _scaled_weight(weight: Loader, vector: np.ndarray) -> Loader:
    def compute() -> np.ndarray:
        kernel = weight()
        return kernel * vector.astype(kernel.dtype).reshape((-1,) + (1,) * (kernel.ndim - 1))

    return compute


def _new_bias(bias: Loader | None, vector: np.ndarray, op: str, channels: int) -> Loader:
    def compute() -> np.ndarray:
        current = bias() if bias is not None else np.zeros(channels, dtype=vector.dtype)
        current = np.broadcast_to(current, (channels,))
        return (current * vector if op == "Mul" else current + vector).astype(current.dtype)

    return compute
