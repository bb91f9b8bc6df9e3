"""The fallback's torch side: an exported program written as a plain ``nn.Module`` class, and the
programs that cannot be (a conditional inside a conditional's branch), refused with the reason."""

from __future__ import annotations

import types

import pytest
import torch

from pipeline.translate.fallback import CannotEmit, program_class


class Gate(torch.nn.Module):
    """``torch.cond`` on the input's sign; ``nested`` puts a second one inside the first branch."""

    def __init__(self, nested: bool) -> None:
        super().__init__()
        self.nested = nested
        self.scale = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def inner(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
            return torch.cond(x.max() > 1.0, lambda a, s: a * s, lambda a, s: a - s, (x, scale))

        def outer(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
            return inner(x, scale) if self.nested else x * scale

        return torch.cond(x.sum() > 0.0, outer, lambda a, s: torch.relu(a), (x, self.scale))


def _program(nested: bool) -> torch.export.ExportedProgram:
    return torch.export.export(Gate(nested), (torch.ones(2, 3),), strict=False).run_decompositions({})


@pytest.mark.slow
def test_a_conditional_becomes_static_branch_methods_of_a_plain_class() -> None:
    text, state, buffers = program_class(_program(nested=False), "GateGraph", "gate.", "A gate.")
    assert "@staticmethod" in text and "torch.ops.higher_order.cond" in text
    namespace = types.ModuleType("generated")
    exec(compile("import torch\nfrom torch import nn\n" + text, "model.py", "exec"), namespace.__dict__)
    module = namespace.GateGraph()
    module.load_state_dict({k.split(".", 1)[1]: v for k, v in state.items()})
    x = torch.tensor([[0.5, -1.0, 2.0]])
    torch.testing.assert_close(module(x), Gate(nested=False)(x))
    torch.testing.assert_close(module(-x), torch.relu(-x))
    assert buffers == []  # the scale trains


def test_a_conditional_inside_a_branch_cannot_be_written() -> None:
    with pytest.raises(CannotEmit, match="branch 'true_graph_0' holds graphs of its own"):
        program_class(_program(nested=True), "GateGraph", "gate.", "A gate.")
