"""ONNX Loop with a trip count known at conversion time, unrolled into the traced program."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from custom_ops._subgraph import constant_value, evaluate, import_subgraph, model_context
from custom_ops.base import CustomOp, TorchConverter

MAX_TRIPS = 100_000


class OnnxLoopUnrolled(nn.Module):
    """A Loop run a fixed number of times: the body module called once per iteration.

    tf2onnx turns Keras 3's recurrent layers (GRU, SimpleRNN, any masked layer) into a Loop over
    the time steps; onnx2torch has no Loop converter. The number of iterations is worked out at
    conversion time from the loop's counters (tf.while_loop's condition only compares them with
    the sequence length), so the loop unrolls under torch.export with the batch left dynamic. A
    Loop whose condition depends on tensor values is refused with the reason.
    """

    def __init__(self, body: nn.Module, trips: int, n_carried: int, n_scan: int, n_outputs: int) -> None:
        super().__init__()
        self.body = body
        self.trips = trips
        self.n_carried = n_carried
        self.n_scan = n_scan
        self.n_outputs = n_outputs

    def forward(self, *args: torch.Tensor) -> Any:
        carried = list(args[: self.n_carried])
        outer = args[self.n_carried :]
        scans: list[list[torch.Tensor]] = [[] for _ in range(self.n_scan)]
        device = args[0].device if args else None
        condition = torch.ones((), dtype=torch.bool, device=device)
        for i in range(self.trips):
            step = torch.full((), i, dtype=torch.int64, device=device)
            out = self.body(step, condition, *carried, *outer)
            out = out if isinstance(out, tuple | list) else (out,)
            carried = list(out[1 : 1 + self.n_carried])
            for k in range(self.n_scan):
                scans[k].append(out[1 + self.n_carried + k])
        results = [*carried, *[torch.stack(s) for s in scans]][: self.n_outputs]
        return results[0] if self.n_outputs == 1 else tuple(results)


def _condition_slice(body: onnx.GraphProto) -> tuple[list[onnx.NodeProto], list[int]] | None:
    """Body nodes computing ``cond_out`` and the loop-carried values it needs (closed over counters).

    Returns None when the condition reads anything but the iteration number, the condition,
    loop-carried values updated the same way, and constants.
    """
    producers = {out: node for node in body.node for out in node.output}
    inputs = [i.name for i in body.input]  # iter, cond, carried...
    outputs = [o.name for o in body.output]  # cond, carried..., scans...
    constants = {i.name for i in body.initializer}
    n_carried = len(inputs) - 2
    needed_nodes: list[onnx.NodeProto] = []
    carried: set[int] = set()
    pending = [outputs[0]]
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if not name or name in seen or name in constants:
            continue
        seen.add(name)
        if name in inputs:
            position = inputs.index(name)
            if position >= 2:
                carried.add(position - 2)
                pending.append(outputs[position - 1])  # how that carried value is updated
            continue
        node = producers.get(name)
        if node is None:
            return None  # an outer tensor: data
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            return None
        if node not in needed_nodes:
            needed_nodes.append(node)
        pending.extend(node.input)
    if any(k >= n_carried for k in carried):
        return None
    order = {id(n): i for i, n in enumerate(body.node)}
    return sorted(needed_nodes, key=lambda n: order[id(n)]), sorted(carried)


def trip_count(node: Any, graph: Any, body: onnx.GraphProto) -> int:
    """How many times the Loop runs, worked out from constants; NotImplementedError if data decides."""
    limit = constant_value(node, graph, 0) if node.input_values[0] else None
    cond = constant_value(node, graph, 1) if len(node.input_values) > 1 and node.input_values[1] else None
    if node.input_values[0] and limit is None:
        raise NotImplementedError("Loop whose trip count is computed from tensor values")
    if len(node.input_values) > 1 and node.input_values[1] and cond is None:
        raise NotImplementedError("Loop whose initial condition is computed from tensor values")
    max_trips = int(np.asarray(limit).reshape(-1)[0]) if limit is not None else MAX_TRIPS
    running = bool(np.asarray(cond).reshape(-1)[0]) if cond is not None else True
    if cond is None:  # no condition: M alone decides
        if limit is None:
            raise NotImplementedError("Loop with neither a trip count nor a condition")
        return max_trips
    sliced = _condition_slice(body)
    if sliced is None:
        raise NotImplementedError("Loop whose condition depends on tensor values")
    nodes, carried = sliced
    inputs = [i.name for i in body.input]
    outputs = [o.name for o in body.output]
    state = {}
    for k in carried:
        value = constant_value(node, graph, 2 + k)
        if value is None:
            raise NotImplementedError("Loop whose counters start from tensor values")
        state[k] = value
    body_constants = {i.name: onnx.numpy_helper.to_array(i) for i in body.initializer}
    trips = 0
    while running and trips < max_trips:
        if trips >= MAX_TRIPS:
            raise NotImplementedError(f"Loop running more than {MAX_TRIPS} times")
        feeds = {
            inputs[0]: np.array(trips, dtype=np.int64),
            inputs[1]: np.array(running, dtype=np.bool_),
            **{inputs[2 + k]: state[k] for k in carried},
        }
        wanted = [outputs[0], *[outputs[1 + k] for k in carried]]
        result = evaluate(nodes, _used(nodes, {**feeds, **body_constants}), wanted, graph)
        if result is None:
            raise NotImplementedError("Loop condition could not be evaluated at conversion time")
        running = bool(np.asarray(result[0]).reshape(-1)[0])
        state = {k: result[1 + j] for j, k in enumerate(carried)}
        trips += 1
    return trips


def _used(nodes: list[onnx.NodeProto], values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    names = {name for node in nodes for name in node.input}
    return {k: v for k, v in values.items() if k in names}


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    body = node.attributes["body"].g
    trips = trip_count(node, graph, body)
    n_carried = len(body.input) - 2
    n_scan = len(body.output) - 1 - n_carried
    if trips == 0 and n_scan:
        raise NotImplementedError("Loop that never runs but has scan outputs")
    opsets, ir_version = model_context(graph)
    sub = import_subgraph(body, graph, opsets, ir_version)
    module = OnnxLoopUnrolled(sub.module, trips, n_carried, n_scan, len(node.output_values))
    inputs = (*node.input_values[2:], *sub.outer)
    return OperationConverterResult(
        torch_module=module, onnx_mapping=OnnxMapping(inputs=tuple(inputs), outputs=node.output_values)
    )


OP = CustomOp.define(
    OnnxLoopUnrolled,
    name="Loop",
    torch=(TorchConverter("Loop", (11, 13, 16, 19, 21, 23, 24, 25), _convert),),
)
