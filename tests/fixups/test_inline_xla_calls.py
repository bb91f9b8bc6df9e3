"""inline_xla_calls: Keras 3 grouped convolutions (jit_compile functions) no longer reach tf2onnx as calls."""

from __future__ import annotations

import numpy as np

from pipeline.fixups.base import FixupContext
from pipeline.fixups.inline_xla_calls import inline_xla_calls
from pipeline.onnx_utils import iter_nodes
from tests.fixups.tracing import export, run_onnx, run_traced, trace


def _grouped(groups: int, channels: int = 4) -> object:
    import keras

    keras.utils.set_random_seed(0)
    x = keras.Input((6, 6, channels), name="x")
    return keras.Model(x, keras.layers.Conv2D(channels, 3, padding="same", groups=groups, name="conv")(x))


def test_fires_on_grouped_convolution_and_keeps_outputs() -> None:
    model = _grouped(groups=4)
    function = trace(model)
    inlined, changes = inline_xla_calls(function, FixupContext())
    assert changes and "inlined 1 call" in changes[0]
    library = inlined.graph.as_graph_def().library.function
    assert not any(f.attr["_XlaMustCompile"].b for f in library if "_XlaMustCompile" in f.attr)
    # weights stay captured variables: the export stage keeps the large ones out of tf2onnx
    assert {v.name for v in inlined.graph.variables} == {v.name for v in function.graph.variables} != set()
    x = np.random.default_rng(0).normal(size=(2, 6, 6, 4)).astype(np.float32)
    try:
        got = run_traced(inlined, x)
    except Exception as exc:  # tf.errors.UnimplementedError
        # Without XLA, TensorFlow's CPU kernels have no grouped convolution on some CPUs (oneDNN is off
        # on AMD): there the inlined graph is checked where the pipeline runs it, in ONNX Runtime.
        assert "grouped convolutions" in str(exc), exc
        got = run_onnx(export(model), {"x": x})[0]
    np.testing.assert_allclose(got, run_traced(function, x), rtol=1e-5, atol=1e-5)


def test_declines_on_an_ordinary_convolution() -> None:
    function = trace(_grouped(groups=1))  # no XLA-compiled function: nothing to inline
    same, changes = inline_xla_calls(function, FixupContext())
    assert changes == [] and same is function


def test_exported_graph_runs_in_onnxruntime_and_matches_tensorflow() -> None:
    model = _grouped(groups=2)
    onnx_model = export(model)
    assert not any(n.op_type.endswith("PartitionedCall") for n in iter_nodes(onnx_model.graph))
    x = np.random.default_rng(1).normal(size=(3, 6, 6, 4)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(onnx_model, {"x": x})[0], model(x).numpy(), rtol=1e-5, atol=1e-5)


def test_large_weights_stay_out_of_tf2onnx() -> None:
    """The variables stay variables: a large kernel reaches ONNX by name, as the export stage writes it."""
    model = _grouped(groups=2, channels=128)  # a 3x3x64x128 kernel: past the export's size threshold
    onnx_model = export(model)
    names = {i.name for i in onnx_model.graph.initializer}
    assert any(name.startswith("conv/kernel") for name in names), sorted(names)
    x = np.random.default_rng(2).normal(size=(2, 6, 6, 128)).astype(np.float32)
    np.testing.assert_allclose(run_onnx(onnx_model, {"x": x})[0], model(x).numpy(), rtol=1e-4, atol=1e-4)
