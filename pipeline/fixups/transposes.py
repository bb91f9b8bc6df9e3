"""Fixup: cancel Transpose pairs around layout-agnostic regions (elementwise ops, keepdims reductions)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.fixups.base import FixupContext, FixupResult, rewrite_copy

UNARY = {
    "Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu", "Selu", "Celu", "Softplus",
    "Softsign", "Exp", "Log", "Neg", "Abs", "Sqrt", "Reciprocal", "Erf", "Floor", "Ceil", "Round", "Sin", "Cos",
    "Identity", "Cast", "Not", "Sign", "Gelu", "Mish",
}  # fmt: skip
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual",
          "And", "Or", "Xor", "PRelu", "Where", "Clip"}  # fmt: skip
REDUCE = {"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare"}
CUSTOM_UNARY = {("ai.keras2torch", "Erfc")}
MAX_ROUNDS = 50


@dataclass
class _Region:
    perm: list[int]
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    entries: list[onnx.NodeProto] = field(default_factory=list)
    exits: list[onnx.NodeProto] = field(default_factory=list)
    tensors: set[str] = field(default_factory=set)  # tensors whose layout changes (region outputs)


def _perm(node: onnx.NodeProto) -> list[int] | None:
    for attr in node.attribute:
        if attr.name == "perm":
            return list(attr.ints)
    return None


def _attr(node: onnx.NodeProto, name: str, default: object = None) -> object:
    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def _transparent(node: onnx.NodeProto, opset: int) -> bool:
    if (node.domain, node.op_type) in CUSTOM_UNARY:
        return True
    if node.domain not in ("", "ai.onnx") or any(a.type == onnx.AttributeProto.GRAPH for a in node.attribute):
        return False
    if node.op_type in UNARY or node.op_type in BINARY:
        return len(node.output) == 1
    if node.op_type in REDUCE:
        return _attr(node, "keepdims", 1) == 1 and len(node.output) == 1
    if node.op_type == "Pad":  # pads as an input (opset 11+), remapped at rewrite
        return len(node.output) == 1 and len(node.input) > 1 and bool(node.input[1])
    return False


class _Graph:
    def __init__(self, model: onnx.ModelProto, read: Callable[[onnx.TensorProto], np.ndarray]) -> None:
        graph = model.graph
        self.model = model
        self.read = read  # initializer values, external data included
        self.nodes = list(graph.node)  # one wrapper per node, so identity comparisons hold
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in self.nodes:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.outputs = {o.name for o in graph.output}
        self.constants = {i.name: i for i in graph.initializer}
        for node in self.nodes:
            if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
                self.constants[node.output[0]] = node.attribute[0].t
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.subgraph_reads = _subgraph_reads(graph)

    def constant(self, name: str) -> np.ndarray | None:
        tensor = self.constants.get(name)
        return None if tensor is None else self.read(tensor)


def _subgraph_reads(graph: onnx.GraphProto) -> set[str]:
    names: set[str] = set()
    for node in graph.node:
        for attr in node.attribute:
            for sub in [attr.g] if attr.type == onnx.AttributeProto.GRAPH else list(attr.graphs):
                for inner in sub.node:
                    names.update(inner.input)
                names |= _subgraph_reads(sub)
    return names


def _grow(start: onnx.NodeProto, g: _Graph) -> _Region | None:
    """The region around ``start`` (a Transpose): transparent ops reachable downstream and upstream.

    Every tensor a region op produces must be read only by region ops or by Transposes (the
    exits); every non-constant operand must come from a region op or from a Transpose with the
    same permutation (the entries). Returns None when the region leaks.
    """
    perm = _perm(start)
    if perm is None:
        return None
    rank = len(perm)
    region = _Region(perm=perm, entries=[start])
    members: set[int] = set()
    entry_outputs = {start.output[0]}
    pending_nodes: list[onnx.NodeProto] = []
    pending_tensors = [start.output[0]]

    def add(node: onnx.NodeProto) -> None:
        if id(node) not in members:
            members.add(id(node))
            region.nodes.append(node)
            pending_nodes.append(node)

    while pending_nodes or pending_tensors:
        while pending_nodes:
            node = pending_nodes.pop()
            for name in node.input:
                if not name or name in region.tensors or name in entry_outputs:
                    continue
                value = g.constant(name)
                if value is not None:
                    if value.ndim > rank:
                        return None
                    continue
                producer = g.producer.get(name)
                if producer is None:
                    return None  # a graph input in the other layout
                if producer.op_type == "Transpose" and _perm(producer) == perm:
                    if not any(producer is e for e in region.entries):
                        region.entries.append(producer)
                    entry_outputs.add(name)
                    pending_tensors.append(name)
                elif _transparent(producer, g.opset) and not _is_exit(producer, region):
                    add(producer)  # grow upstream
                else:
                    return None
            for out in node.output:
                region.tensors.add(out)
                pending_tensors.append(out)
        while pending_tensors:
            tensor = pending_tensors.pop()
            is_entry = tensor in entry_outputs
            if tensor in g.outputs or tensor in g.subgraph_reads:
                if is_entry:
                    continue  # an entry keeps serving its other readers
                return None
            for consumer in g.consumers.get(tensor, []):
                if id(consumer) in members or _is_exit(consumer, region):
                    continue
                if consumer.op_type == "Transpose":
                    if any(consumer is e for e in region.entries):
                        continue
                    region.exits.append(consumer)
                elif _transparent(consumer, g.opset):
                    add(consumer)
                elif not is_entry:
                    return None  # an entry's other readers keep the entry Transpose
    if any(e.input[0] in region.tensors for e in region.entries):  # a Transpose of the region itself
        return None
    return region


def _is_exit(node: onnx.NodeProto, region: _Region) -> bool:
    return any(node is x for x in region.exits)


def _gain(region: _Region, g: _Graph) -> int:
    """Transposes removed minus Transposes left or added."""
    inverse = [region.perm.index(i) for i in range(len(region.perm))]
    removed = sum(1 for e in region.exits if _perm(e) == inverse)
    for entry in region.entries:
        readers = g.consumers.get(entry.output[0], [])
        inside = all(any(r is n for n in region.nodes) or any(r is x for x in region.exits) for r in readers)
        if inside and entry.output[0] not in g.outputs and entry.output[0] not in g.subgraph_reads:
            removed += 1
    return removed


def _rewrite(region: _Region, g: _Graph, taken: set[str]) -> None:
    model, perm = g.model, region.perm
    rank = len(perm)
    inverse = [perm.index(i) for i in range(rank)]
    sources = {e.output[0]: e.input[0] for e in region.entries}
    for node in region.nodes:
        for i, name in enumerate(node.input):
            if name in sources:
                node.input[i] = sources[name]
                continue
            value = g.constant(name) if name not in region.tensors else None
            if value is None:
                continue
            if node.op_type in REDUCE and i == 1:  # axes input
                node.input[i] = _new_constant(model, name, np.array(_axes(value, perm, rank), np.int64), taken)
                continue
            if node.op_type == "Pad":
                has_axes = len(node.input) > 3 and bool(node.input[3])
                if i == 1 and not has_axes:  # pads: begins then ends, per axis of the transposed layout
                    pads = np.zeros_like(value.reshape(-1))
                    for j in range(rank):
                        pads[perm[j]], pads[rank + perm[j]] = value.reshape(-1)[j], value.reshape(-1)[rank + j]
                    node.input[i] = _new_constant(model, name, pads, taken)
                elif i == 3:  # axes
                    node.input[i] = _new_constant(
                        model, name, np.array([perm[int(a) % rank] for a in value.reshape(-1)], np.int64), taken
                    )
                continue
            if value.ndim == 0 or (value.size == 1 and value.ndim <= 1):
                continue
            if node.op_type == "Clip" and i > 0:
                continue
            full = value.reshape((1,) * (rank - value.ndim) + value.shape)
            node.input[i] = _new_constant(model, name, np.ascontiguousarray(full.transpose(inverse)), taken)
        if node.op_type in REDUCE:
            for attr in node.attribute:
                if attr.name == "axes":
                    axes = _axes(np.array(attr.ints), perm, rank)
                    del attr.ints[:]
                    attr.ints.extend(axes)
    for exit_node in region.exits:
        # an exit reads a region tensor (now in the untransposed layout) or an entry's output
        # directly (a back-to-back pair): either way it now applies to the untransposed data
        source = sources.get(exit_node.input[0], exit_node.input[0])
        composed = [perm[q] for q in _perm(exit_node) or []]
        if composed == list(range(rank)):
            for reader in g.consumers.get(exit_node.output[0], []):
                for i, name in enumerate(reader.input):
                    if name == exit_node.output[0]:
                        reader.input[i] = source
            if exit_node.output[0] in g.outputs:  # keep the output's name: an Identity stands in
                exit_node.op_type = "Identity"
                exit_node.input[0] = source
                del exit_node.attribute[:]
        else:
            exit_node.input[0] = source
            for attr in exit_node.attribute:
                if attr.name == "perm":
                    del attr.ints[:]
                    attr.ints.extend(composed)
    stale = region.tensors
    keep = [v for v in model.graph.value_info if v.name not in stale]
    del model.graph.value_info[:]
    model.graph.value_info.extend(keep)


def _axes(values: np.ndarray, perm: list[int], rank: int) -> list[int]:
    return sorted(perm[int(a) % rank] for a in values.reshape(-1))


def _new_constant(model: onnx.ModelProto, base: str, value: np.ndarray, taken: set[str]) -> str:
    name, n = f"{base}__untransposed", 0
    while name in taken:
        n += 1
        name = f"{base}__untransposed_{n}"
    taken.add(name)
    model.graph.initializer.append(numpy_helper.from_array(value, name))
    return name


def cancel_transposes(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Remove Transpose pairs around regions of elementwise ops and keepdims reductions.

    tf2onnx wraps every NHWC convolution in Transposes to NCHW and back, and its own transpose
    optimizer stops at branching elementwise chains such as hard-swish (``x * relu6(x + 3) / 6``)
    and squeeze-excite gates: MobileNetV3Small keeps 106 Transposes, each a full copy of an
    activation in ONNX Runtime and torch. A region is rewritten only when every tensor it
    produces is read inside it or by a Transpose, and when that removes Transposes; constants are
    permuted to match and reduction axes remapped.
    """
    return rewrite_copy(model, lambda working: _cancel(working, context))


def _cancel(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    changes = []
    before, regions = _count(model), 0
    read = context.array if context is not None else numpy_helper.to_array
    for _ in range(MAX_ROUNDS):
        g = _Graph(model, read)
        taken = {i.name for i in model.graph.initializer} | set(g.producer)
        done = False
        for node in g.nodes:
            if node.op_type != "Transpose":
                continue
            region = _grow(node, g)
            if region is None or not region.exits:
                continue
            gain = _gain(region, g)
            if gain <= 0:
                continue
            _rewrite(region, g, taken)
            regions += 1
            done = True
            break
        if not done:
            break
        _remove_dead_transposes(model)
    if regions:
        changes.append(f"removed {before - _count(model)} Transpose node(s) around {regions} layout-agnostic region(s)")
    return changes


def _count(model: onnx.ModelProto) -> int:
    return sum(1 for node in model.graph.node if node.op_type == "Transpose")


def _remove_dead_transposes(model: onnx.ModelProto) -> None:
    graph = model.graph
    needed = {o.name for o in graph.output} | _subgraph_reads(graph)
    for node in graph.node:
        needed.update(node.input)
    dead = [n for n in graph.node if n.op_type == "Transpose" and n.output[0] not in needed]
    for node in dead:
        graph.node.remove(node)
