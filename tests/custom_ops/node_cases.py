"""One-node ONNX models for converter tests: run them in ONNX Runtime and through the import stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from custom_ops.common import from_numpy, to_numpy
from tests.onnx_checks import run_ort


def node_model(
    op_type: str,
    inputs: Sequence[tuple[str, np.ndarray | None, bool]],
    outputs: Sequence[tuple[str, int]] | int = 1,
    opset: int | None = None,
    domain: str = "",
    output_type: int | None = None,
    **attrs: Any,
) -> tuple[onnx.ModelProto, list[np.ndarray]]:
    """A model of one ``op_type`` node and the feeds for its graph inputs.

    ``inputs`` are ``(name, value, constant)``: a constant becomes an initializer, ``None`` an
    absent optional input. ``outputs`` is a count (same element type as the first input, or
    ``output_type``) or ``(name, element type)`` pairs. ``opset`` defaults to the op's newest
    version.
    """
    graph_inputs, initializers, feeds, names = [], [], [], []
    for name, value, constant in inputs:
        if value is None:
            names.append("")
            continue
        names.append(name)
        if constant:
            initializers.append(numpy_helper.from_array(np.asarray(value), name))
        else:
            array = np.asarray(value)
            elem = helper.np_dtype_to_tensor_dtype(array.dtype)
            graph_inputs.append(helper.make_tensor_value_info(name, elem, list(array.shape)))
            feeds.append(array)
    first = next(np.asarray(v) for _, v, _ in inputs if v is not None)
    default_type = output_type or helper.np_dtype_to_tensor_dtype(first.dtype)
    if isinstance(outputs, int):
        outputs = [(f"y{i}", default_type) for i in range(outputs)]
    while names and not names[-1]:  # trailing absent inputs are left out (ORT crashes on some)
        names.pop()
    node = helper.make_node(op_type, names, [n for n, _ in outputs], domain=domain, **attrs)
    graph = helper.make_graph(
        [node],
        op_type.lower(),
        graph_inputs,
        [helper.make_tensor_value_info(n, t, None) for n, t in outputs if n],
        initializers,
    )
    if opset is None:
        opset = onnx.defs.get_schema(op_type, domain=domain).since_version
    imports = [helper.make_opsetid(domain, opset)]
    if domain:
        imports.append(helper.make_opsetid("", 21))
    model = helper.make_model(graph, opset_imports=imports)
    model.ir_version = min(model.ir_version, 10)
    return model, feeds


def assert_exports_with_dynamic_batch(model: onnx.ModelProto, feeds: list[np.ndarray], batch_sizes=(2, 5)) -> None:
    """``torch.export`` of the imported model with dim 0 of every input dynamic, checked against ORT."""
    from torch.export import Dim, export

    from pipeline import onnx_to_torch

    dynamic = onnx.ModelProto()
    dynamic.CopyFrom(model)
    for value in dynamic.graph.input:
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    module = onnx_to_torch(dynamic)
    batch = Dim("batch", min=1, max=64)
    # trace with a batch of 3: torch specialises sizes 0 and 1
    args = tuple(from_numpy(np.concatenate([f] * 3, axis=0)[:3]) for f in feeds)
    program = export(module, args, dynamic_shapes=tuple({0: batch} for _ in args))
    exported = program.module()
    for size in batch_sizes:
        resized = [np.concatenate([f] * size, axis=0)[:size] if f.shape[0] else f for f in feeds]
        expected = run_ort(dynamic, resized)
        with torch.no_grad():
            out = exported(*[from_numpy(f) for f in resized])
        got = [to_numpy(o) for o in (out if isinstance(out, tuple | list) else [out])]
        for g, e in zip(got, expected, strict=True):
            assert g.shape == e.shape
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=1e-4, atol=1e-5)


def floats(rng: np.random.Generator, *shape: int, dtype: Any = np.float32) -> np.ndarray:
    return rng.standard_normal(shape).astype(dtype)


__all__ = [
    "TensorProto",
    "assert_exports_with_dynamic_batch",
    "floats",
    "node_model",
]
