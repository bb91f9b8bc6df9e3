"""Run an ONNX model in ONNX Runtime and through the import stage, compare, and say whose converters ran.

The one place the op and fixup tests run models: :func:`run_ort` (the reference), :func:`run_torch`
(fixups + import, as :func:`pipeline.onnx_to_torch`) and :func:`assert_matches_ort`, which also
checks that *our* converter (``custom_ops``), not onnx2torch's, built each node of the ops under
test, so a deleted or unregistered converter fails its tests even where onnx2torch would cope.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx
from onnx import helper

if TYPE_CHECKING:  # torch (and onnx2torch, torchvision) load only when a model is imported: the
    import torch  # graph-fixup tests share a process with TensorFlow, which must not meet torchvision

    from pipeline.stages.importer import ConverterUse

Feeds = Mapping[str, np.ndarray] | Sequence[np.ndarray]


@dataclass
class Imported:
    """An imported model, its outputs on the feeds, and which registry converted each node."""

    module: torch.nn.Module
    outputs: list[np.ndarray] = field(default_factory=list)
    converters: dict[str, ConverterUse] = field(default_factory=dict)  # ONNX node -> whose converter built it

    def registries(self, op_type: str) -> set[str]:
        """Which registries (``custom_ops``, ``onnx2torch``) converted the nodes of ``op_type``."""
        return {use.source for use in self.converters.values() if use.op_type == op_type}


# Every converter use of the models run here since the last reset (tests/custom_ops/conftest.py
# reads it per test, to check that each claimed op version is run by a test).
USED: list[ConverterUse] = []


def type_outputs(model: onnx.ModelProto, output_shapes: Mapping[str, list[Any]] | None = None) -> onnx.ModelProto:
    """Give the graph outputs their types: float32 of ``output_shapes`` where given, else from shape inference."""
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(model).graph.value_info}
    for out in model.graph.output:
        if output_shapes and out.name in output_shapes:
            out.CopyFrom(helper.make_tensor_value_info(out.name, onnx.TensorProto.FLOAT, output_shapes[out.name]))
        elif out.name in inferred:
            out.CopyFrom(inferred[out.name])
    return model


def run_ort(model: onnx.ModelProto, feeds: Feeds) -> list[np.ndarray]:
    """ONNX Runtime's outputs (CPU, one thread); ``feeds`` by name or in graph-input order."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    if not isinstance(feeds, Mapping):
        feeds = dict(zip([i.name for i in session.get_inputs()], feeds, strict=True))
    return [np.asarray(o) for o in session.run(None, dict(feeds))]


def run_torch(model: onnx.ModelProto, feeds: Feeds, *, fixups: bool = True) -> Imported:
    """Fixups + import (:func:`pipeline.import_onnx`), then the module on ``feeds`` in graph-input order.

    ``fixups=False`` imports the model as it is, to test a converter on a graph the fixups would
    simplify (a shape computed from the batch, which they fold when it is static).
    """
    import torch

    from custom_ops.common import from_numpy, to_numpy
    from pipeline import import_onnx
    from pipeline.stages.importer import import_model

    result = import_onnx(model) if fixups else import_model(model)
    USED.extend(result.converters.values())
    values = list(feeds.values()) if isinstance(feeds, Mapping) else list(feeds)
    with torch.no_grad():
        out = result.module(*[from_numpy(v) for v in values])
    out = out if isinstance(out, tuple | list) else [out]
    return Imported(result.module, [to_numpy(o) for o in out], dict(result.converters))


def assert_ours(imported: Imported, ops: Collection[str]) -> None:
    """Every node of each op in ``ops`` was converted by ``custom_ops`` (and there was such a node)."""
    for op in ops:
        assert imported.registries(op) == {"custom_ops"}, f"{op}: converted by {imported.registries(op) or 'nothing'}"


def assert_matches_ort(
    model: onnx.ModelProto,
    feeds: Feeds,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    *,
    ours: Collection[str] | None = None,
    theirs: Collection[str] = (),
    fixups: bool = True,
) -> Imported:
    """Torch and ONNX Runtime agree (shapes, dtypes, values) and our converters built the ops under test.

    The ops under test are ``ours``, by default every op type of the model's main graph except
    ``theirs`` (helper nodes deliberately left to onnx2torch).
    """
    expected = run_ort(model, feeds)
    imported = run_torch(model, feeds, fixups=fixups)
    got = imported.outputs
    assert len(got) == len(expected)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g.shape == e.shape, f"output {i}: shape {g.shape} != {e.shape}"
        assert g.dtype == e.dtype, f"output {i}: dtype {g.dtype} != {e.dtype}"
        if e.dtype.kind in "biu":
            np.testing.assert_array_equal(g, e, err_msg=f"output {i}")
        else:
            with np.errstate(invalid="ignore"):
                g64, e64 = g.astype(np.float64), e.astype(np.float64)
            np.testing.assert_allclose(g64, e64, rtol=rtol, atol=atol, err_msg=f"output {i}")
    under_test = set(ours) if ours is not None else {n.op_type for n in model.graph.node} - set(theirs)
    assert_ours(imported, under_test)
    return imported
