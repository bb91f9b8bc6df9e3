"""ONNX If as ``torch.cond``: one branch runs, both are traced into the exported program."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from custom_ops._subgraph import constant_value, import_subgraph, model_context
from custom_ops.base import CustomOp, TorchConverter


class OnnxIf(nn.Module):
    """If with both branches imported as torch modules and chosen by ``torch.cond``.

    onnx2torch has no If; tf2onnx emits one for ``tf.cond``. ``torch.cond`` is the form
    torch.export keeps as control flow: the program holds both branches as subgraphs and runs
    only the one the condition picks, so a branch costs nothing when it is not taken and
    branches may compute anything. Evaluating both and selecting with ``torch.where`` would
    double the work and silently propagate NaN/inf from the branch not taken into gradients.
    ``torch.cond`` needs both branches to return tensors of the same shapes and dtypes. When the
    condition is known at conversion time (computed from constants and static shapes), only
    that branch is kept and called directly.
    """

    def __init__(
        self,
        then_branch: nn.Module | None,
        else_branch: nn.Module | None,
        then_outer: list[int],
        else_outer: list[int],
    ) -> None:
        super().__init__()
        self.then_branch = then_branch
        self.else_branch = else_branch
        self.then_outer = then_outer  # positions in forward's ``outer`` each branch reads
        self.else_outer = else_outer

    def forward(self, *args: torch.Tensor) -> Any:
        if self.then_branch is None or self.else_branch is None:  # decided at conversion time
            branch, positions = (
                (self.then_branch, self.then_outer) if self.else_branch is None else (self.else_branch, self.else_outer)
            )
            assert branch is not None
            return branch(*[args[i] for i in positions])
        cond, outer = args[0], args[1:]

        def then_fn(*values: torch.Tensor) -> Any:
            return _fresh(self.then_branch(*[values[i] for i in self.then_outer]), values)

        def else_fn(*values: torch.Tensor) -> Any:
            return _fresh(self.else_branch(*[values[i] for i in self.else_outer]), values)

        result = torch.cond(cond.reshape(()).to(torch.bool), then_fn, else_fn, tuple(outer))
        return result[0] if len(result) == 1 else tuple(result)


def _fresh(value: Any, operands: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The branch outputs as a tuple; one that is an operand itself is cloned (torch.cond forbids aliasing)."""
    items = tuple(value) if isinstance(value, tuple | list) else (value,)
    return tuple(v.clone() if any(v is o for o in operands) else v for v in items)


def _convert(node: Any, graph: Any) -> Any:
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult

    opsets, ir_version = model_context(graph)
    known = constant_value(node, graph, 0)
    if known is not None:  # only the branch the condition picks is imported
        branch = "then_branch" if bool(np.asarray(known).reshape(-1)[0]) else "else_branch"
        sub = import_subgraph(node.attributes[branch].g, graph, opsets, ir_version)
        positions = list(range(len(sub.outer)))
        taken = (sub.module, None, positions, []) if branch == "then_branch" else (None, sub.module, [], positions)
        return OperationConverterResult(
            torch_module=OnnxIf(*taken), onnx_mapping=OnnxMapping(inputs=tuple(sub.outer), outputs=node.output_values)
        )
    then_sub = import_subgraph(node.attributes["then_branch"].g, graph, opsets, ir_version)
    else_sub = import_subgraph(node.attributes["else_branch"].g, graph, opsets, ir_version)
    outer = list(dict.fromkeys([*then_sub.outer, *else_sub.outer]))
    module = OnnxIf(
        then_sub.module,
        else_sub.module,
        [outer.index(n) for n in then_sub.outer],
        [outer.index(n) for n in else_sub.outer],
    )
    return OperationConverterResult(
        torch_module=module,
        onnx_mapping=OnnxMapping(inputs=(node.input_values[0], *outer), outputs=node.output_values),
    )


OP = CustomOp.define(OnnxIf, name="If", torch=(TorchConverter("If", (1, 11, 13, 16, 19, 21, 23, 24, 25), _convert),))
