"""Fixup: fold per-channel scales and shifts, and zero padding, into the neighbouring convolution."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pipeline.fixups.base import FixupContext, FixupResult, rewrite_copy
from pipeline.fixups.fuse_conv_affine import per_channel
from pipeline.onnx_utils import iter_nodes, unique_name

Graph = onnx.GraphProto
Node = onnx.NodeProto
Inits = dict[str, onnx.TensorProto]
Nodes = dict[str, onnx.NodeProto]


def fold_into_conv(model: onnx.ModelProto, context: FixupContext) -> FixupResult[onnx.ModelProto]:
    """Fold ``Conv -> Mul(c)``/``Add(c)`` (c constant per output channel) into the weights and bias,
    and ``Pad(zeros, spatial) -> Conv`` into the convolution's own pads.

    tf2onnx folds a BatchNormalization into the convolution before it, except after depthwise
    convolutions: MobileNetV2 keeps 17 ``Mul`` nodes (the BatchNorm scale) after its depthwise
    convs, and Keras' ``ZeroPadding2D`` before a ``valid`` strided conv stays a ``Pad`` node. In
    torch each is a full pass over an activation (ONNX Runtime fuses them itself); folded, the
    converted program does what a hand-written one does. Only main-graph nodes whose intermediate
    tensor has no other reader (and is no graph output) are folded.
    """
    return rewrite_copy(model, lambda working: _fold(working, context))


def _fold(model: onnx.ModelProto, context: FixupContext) -> list[str]:
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    taken = set(inits) | {o for n in graph.node for o in n.output} | {i.name for i in graph.input}
    changes: list[str] = []
    before = set(inits)
    for _ in range(len(graph.node)):
        readers = Counter(name for node in iter_nodes(graph) for name in node.input)
        readers.update(o.name for o in graph.output)
        producer = {o: node for node in graph.node for o in node.output}
        fold = _next_fold(graph, inits, readers, producer, context)
        if fold is None:
            break
        changes.append(fold(taken))
    if changes:  # the weights the folds replaced
        used = {name for node in iter_nodes(graph) for name in node.input} | {i.name for i in graph.input}
        for tensor in [t for t in graph.initializer if t.name in before and t.name not in used]:
            graph.initializer.remove(tensor)
    return changes


def _next_fold(graph: Graph, inits: Inits, readers: Counter[str], producer: Nodes, context: FixupContext) -> Any:
    for node in graph.node:
        if node.op_type in ("Mul", "Add") and node.domain in ("", "ai.onnx") and len(node.input) == 2:
            conv, constant = _conv_and_constant(node, inits, readers, producer)
            if conv is None or constant is None:
                continue
            value = context.array(inits[constant]).astype(np.float32)
            channels = _per_channel(value, conv, inits)
            if channels is None:
                continue
            return lambda taken, n=node, c=conv, v=channels: _fold_affine(graph, inits, context, n, c, v, taken)
        if node.op_type == "Conv" and node.input and node.input[0] in producer:
            pad = producer[node.input[0]]
            if pad.op_type == "Pad" and readers[pad.output[0]] == 1:
                amounts = _zero_spatial_pads(pad, inits, context)
                if amounts is not None and _attr(node, "auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"):
                    return lambda taken, p=pad, c=node, a=amounts: _fold_pad(graph, p, c, a)
    return None


def _conv_and_constant(node: Node, inits: Inits, readers: Counter[str], producer: Nodes) -> tuple[Any, Any]:
    for i, name in enumerate(node.input):
        other = node.input[1 - i]
        conv = producer.get(name)
        if conv is None or conv.op_type != "Conv" or other not in inits or readers[name] != 1:
            continue
        if conv.input[1] not in inits or inits[conv.input[1]].data_type != onnx.TensorProto.FLOAT:
            continue
        if len(conv.input) > 2 and conv.input[2] and conv.input[2] not in inits:
            continue
        return conv, other
    return None, None


def _per_channel(value: np.ndarray, conv: Node, inits: Inits) -> np.ndarray | None:
    """The constant as one value per output channel of ``conv``, when it broadcasts that way on NC..."""
    kernel = inits[conv.input[1]].dims  # its rank is the output's, N and C included
    vector = per_channel(value, len(kernel), int(kernel[0]))
    return None if vector is None else vector.astype(np.float32)


def _fold_affine(
    graph: Graph, inits: Inits, context: FixupContext, node: Node, conv: Node, channels: np.ndarray, taken: set[str]
) -> str:
    weight = context.array(inits[conv.input[1]]).astype(np.float32)
    bias_name = conv.input[2] if len(conv.input) > 2 and conv.input[2] else None
    bias = context.array(inits[bias_name]).astype(np.float32) if bias_name else np.zeros(weight.shape[0], np.float32)
    if node.op_type == "Mul":
        weight = weight * channels.reshape((-1,) + (1,) * (weight.ndim - 1))
        bias = bias * channels
    else:
        bias = bias + channels
    new_weight = _add_init(graph, inits, weight, conv.input[1], taken)
    new_bias = _add_init(graph, inits, bias, bias_name or f"{conv.name}_bias", taken)
    inputs = [conv.input[0], new_weight, new_bias]
    del conv.input[:]
    conv.input.extend(inputs)
    conv.output[0] = node.output[0]
    graph.node.remove(node)
    return f"{node.op_type} {node.name} folded into Conv {conv.name}"


def _add_init(graph: Graph, inits: Inits, value: np.ndarray, base: str, taken: set[str]) -> str:
    name = unique_name(f"{base}__folded", taken)
    taken.add(name)
    tensor = numpy_helper.from_array(value.astype(np.float32), name)
    graph.initializer.append(tensor)
    inits[name] = tensor
    return name


def _zero_spatial_pads(pad: Node, inits: Inits, context: FixupContext) -> list[int] | None:
    """The Pad's amounts (begin..., end...) when it pads only spatial axes (2+) with zeros."""
    if _attr(pad, "mode", b"constant") not in (b"constant", "constant"):
        return None
    if len(pad.input) > 1:
        if pad.input[1] not in inits:
            return None
        amounts = [int(v) for v in context.array(inits[pad.input[1]]).reshape(-1)]
        value = pad.input[2] if len(pad.input) > 2 else ""
        if value and (value not in inits or np.any(context.array(inits[value]) != 0)):
            return None
        if len(pad.input) > 3 and pad.input[3]:
            return None  # explicit axes: leave it
    else:
        amounts = list(_attr(pad, "pads", []))
        if float(_attr(pad, "value", 0.0)) != 0.0:
            return None
    rank = len(amounts) // 2
    if rank < 3 or any(a < 0 for a in amounts):
        return None
    if amounts[0] or amounts[1] or amounts[rank] or amounts[rank + 1]:
        return None
    return amounts


def _fold_pad(graph: Graph, pad: Node, conv: Node, amounts: list[int]) -> str:
    rank = len(amounts) // 2
    spatial = rank - 2
    current = list(_attr(conv, "pads", [0] * (2 * spatial)))
    begin = [current[i] + amounts[2 + i] for i in range(spatial)]
    end = [current[spatial + i] + amounts[rank + 2 + i] for i in range(spatial)]
    kept = [a for a in conv.attribute if a.name not in ("pads", "auto_pad")]
    del conv.attribute[:]
    conv.attribute.extend([*kept, helper.make_attribute("pads", begin + end)])
    conv.input[0] = pad.input[0]
    graph.node.remove(pad)
    return f"Pad {pad.name} folded into Conv {conv.name}"


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for attribute in node.attribute:
        if attribute.name == name:
            return helper.get_attribute_value(attribute)
    return default
