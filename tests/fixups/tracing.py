"""Trace Keras models the way the export stage does, for the trace-fixup tests."""

from __future__ import annotations

from typing import Any

import numpy as np


def trace(model: Any) -> Any:
    """The concrete function the export stage hands to the trace fixups."""
    import tensorflow as tf

    signature = [tf.TensorSpec([None, *t.shape[1:]], t.dtype, name=t.name.split(":")[0]) for t in model.inputs]

    def call(*args: Any) -> dict[str, Any]:
        out = model(list(args) if len(args) > 1 else args[0], training=False)
        return {"output": out}

    return tf.function(call, input_signature=signature, autograph=False).get_concrete_function()


def run_traced(function: Any, *arrays: np.ndarray) -> np.ndarray:
    """Call a concrete function (original or rebuilt) on numpy inputs; its one output as numpy."""
    import tensorflow as tf

    out = function(*[tf.constant(a) for a in arrays])
    if isinstance(out, dict):
        out = out["output"]
    elif isinstance(out, list | tuple):
        out = out[0]
    return np.asarray(out)


def export(model: Any, opset: int = 17) -> Any:
    """The ONNX model the pipeline's export stage produces for ``model`` (trace fixups included)."""
    import tempfile
    from pathlib import Path

    from pipeline.config import ConversionConfig
    from pipeline.sources import Source, SourceKind
    from pipeline.stages.export import export_onnx
    from pipeline.stages.load import load_model

    loaded = load_model(Source(SourceKind.OBJECT, "0"), ConversionConfig(), model)
    with tempfile.TemporaryDirectory() as folder:  # small test models: weights stay inline
        return export_onnx(loaded, opset, Path(folder) / "model.onnx").model


def run_onnx(model: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    from pipeline.fixups.ir_version import cap_ir_version

    model = cap_ir_version(model, None).model  # type: ignore[arg-type]
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def three_way(model: Any, x: np.ndarray, opset: int, *, rtol: float = 0.0, atol: float = 0.0) -> Any:
    """Export a one-input (``x``) Keras model, check ONNX Runtime and the imported module against
    Keras on ``x`` (exactly unless tolerances are given, ONNX Runtime's dtype too); the ONNX model."""
    import torch

    from pipeline.stages.importer import import_model

    onnx_model = export(model, opset)
    expected = np.asarray(model(x))
    ort = run_onnx(onnx_model, {"x": x})[0]
    np.testing.assert_allclose(ort, expected, rtol=rtol, atol=atol)
    assert ort.dtype == expected.dtype
    with torch.no_grad():
        got = import_model(onnx_model).module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    return onnx_model
