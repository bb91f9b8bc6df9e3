"""Build one-node ONNX models and compare ONNX Runtime with the imported torch module."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from pipeline.onnx_utils import MAX_ORT_IR_VERSION
from tests.onnx_checks import type_outputs


def make_model(
    nodes: list[onnx.NodeProto],
    inputs: dict[str, np.ndarray],
    outputs: list[str],
    initializers: dict[str, np.ndarray] | None = None,
    opset: int = 17,
    batch_axis: dict[str, int] | None = None,
    output_shapes: dict[str, list[Any]] | None = None,
) -> onnx.ModelProto:
    """A model computing ``nodes``; graph inputs typed after ``inputs`` (``batch_axis`` dims symbolic).

    Output types come from shape inference unless ``output_shapes`` gives them (float32).
    """
    batch_axis = batch_axis or {}
    values = []
    for name, array in inputs.items():
        shape: list[Any] = list(array.shape)
        if name in batch_axis:
            shape[batch_axis[name]] = "batch"
        values.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(array.dtype), shape))
    graph = helper.make_graph(
        nodes,
        "test",
        values,
        [helper.make_empty_tensor_value_info(o) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = MAX_ORT_IR_VERSION
    type_outputs(model, output_shapes)
    onnx.checker.check_model(model)
    return model


def assert_exports(module: torch.nn.Module, feeds: dict[str, np.ndarray], batch_axis: dict[str, int]) -> None:
    """``torch.export`` with a dynamic batch works, and the program matches eager at another batch size."""
    batch = torch.export.Dim("batch", min=1, max=1024)
    example = tuple(torch.from_numpy(v) for v in feeds.values())
    dynamic = tuple({batch_axis[k]: batch} if k in batch_axis else None for k in feeds)
    program = torch.export.export(module, example, dynamic_shapes=dynamic, strict=False)
    bigger = []
    for name, value in feeds.items():
        if name in batch_axis:
            first = np.take(value, [0], axis=batch_axis[name])
            value = np.concatenate([value, first * 0.5 if value.dtype.kind == "f" else first], batch_axis[name])
        bigger.append(torch.from_numpy(np.ascontiguousarray(value)))
    with torch.no_grad():
        got = program.module()(*bigger)
        want = module(*bigger)
    got = got if isinstance(got, tuple | list) else (got,)
    want = want if isinstance(want, tuple | list) else (want,)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.numpy(), w.numpy(), rtol=1e-5, atol=1e-6)
