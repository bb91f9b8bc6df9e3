"""Large models: weights outside the graph, ONNX external data, bounded memory.

The fast tests push small models through the large-model path (``external_data_mb: 0``); the
slow ones convert VGG16 and a model of about 3 GB of weights and check the memory bounds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import pipeline
from pipeline import external_data, onnx_utils, weight_folding
from pipeline.errors import NotAModelError

PAIRS = ("tf_vs_ort", "ort_vs_torch", "tf_vs_torch")


def _initializers(path: Path) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in onnx_utils.load(path).graph.initializer}


def _assert_passed(result: pipeline.ConversionResult, pairs: tuple[str, ...] = PAIRS) -> None:
    assert result.status == "passed", json.dumps(result.report.get("validation"), indent=1)[:3000]
    for pair in pairs:
        assert result.report["validation"][pair]["passed"] is True, pair


# --------------------------------------------------------------------------- whole conversions


def test_keras_model_through_external_data(tmp_path: Path) -> None:
    from tests.models import seed_cnn_keras

    model = seed_cnn_keras()
    result = pipeline.convert(model, tmp_path / "out", {"external_data_mb": 0})
    _assert_passed(result)
    out = result.out_dir
    artifacts = result.report["artifacts"]
    assert artifacts["onnx_data"] == "model.onnx.data" and (out / "model.onnx.data").is_file()
    # model.pt2 comes from model.py's module when it matches, and the ONNX route's torch worker does not run
    workers = {"tensorflow", "torch_check", "orchestrator"}
    workers |= (
        set()
        if "model.pt2 exported from model.py's module (Keras layer names)" in result.report["notes"]
        else {"torch"}
    )
    assert set(result.report["peak_rss_mb"]) >= workers

    raw, fixed = _initializers(out / "model.onnx"), _initializers(out / "model_fixed.onnx")
    external = {n for n, t in raw.items() if external_data.is_external(t)}
    # the dense kernel (12544 x 10) was a graph input for tf2onnx and is named after its variable
    assert "seed_cnn/predictions/kernel" in external
    assert all(dict_of(t)["location"] == "model.onnx.data" for t in fixed.values() if external_data.is_external(t))
    # the proto itself holds no weights
    assert (out / "model.onnx").stat().st_size < 20_000 < (out / "model.onnx.data").stat().st_size

    # every weight of the Keras model reaches ONNX and torch with its value
    kernel = model.get_layer("predictions").kernel.numpy()
    np.testing.assert_array_equal(external_data.read(raw["seed_cnn/predictions/kernel"], out), kernel)
    conv2 = model.get_layer("conv2").kernel.numpy()  # HWIO in Keras, OIHW in ONNX (folded here)
    onnx_conv2 = [external_data.read(t, out) for t in raw.values() if list(t.dims) == [64, 32, 3, 3]]
    assert len(onnx_conv2) == 1
    np.testing.assert_array_equal(onnx_conv2[0], conv2.transpose(3, 2, 0, 1))

    from safetensors.numpy import load_file

    state = load_file(str(out / "model.safetensors"))
    assert sum(v.size for v in state.values()) == result.report["torch"]["parameters"]
    # model.py's nn.Linear holds it as (out, in), its rows in the channels-first order of the Flatten before it
    assert any(
        v.size == kernel.size and np.array_equal(np.sort(v, None), np.sort(kernel, None)) for v in state.values()
    )


def test_conv_batchnorm_weights_are_folded_like_tf2onnx(tmp_path: Path) -> None:
    """BatchNorm after a convolution with a large kernel ends up inside the Conv, as with constants."""
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((12, 12, 16), name="x")
    h = keras.layers.Conv2D(128, 3, padding="same", name="conv")(inputs)  # 18432 weights: a graph input
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.ReLU()(h)
    outputs = keras.layers.Conv2D(8, 1, use_bias=False, name="head")(h)
    model = keras.Model(inputs, outputs, name="conv_bn")
    for layer_weights in model.get_layer("bn").weights:
        layer_weights.assign(np.random.default_rng(1).uniform(0.5, 1.5, layer_weights.shape).astype(np.float32))
    result = pipeline.convert(model, tmp_path / "out", {"external_data_mb": 0})
    _assert_passed(result)
    graph = onnx_utils.load(result.out_dir / "model.onnx").graph
    ops = [n.op_type for n in graph.node]
    assert ops.count("Conv") == 2 and "Mul" not in ops and "BatchNormalization" not in ops, ops
    assert any("merged" in note for note in result.report["notes"]), result.report["notes"]
    assert "conv/kernel" in {t.name for t in graph.initializer}


def test_tf_keras_embedding_gathers_from_a_weight_input(tmp_path: Path) -> None:
    """tf.keras reads embeddings with ResourceGather, which becomes a Gather on the weight input."""
    import tf_keras

    tf_keras.utils.set_random_seed(2)
    tokens = tf_keras.Input((6,), dtype="int32", name="tokens")
    h = tf_keras.layers.Embedding(3000, 8, name="embed")(tokens)  # 24000 weights
    h = tf_keras.layers.Flatten()(h)
    outputs = tf_keras.layers.Dense(4, name="out")(h)
    model = tf_keras.Model(tokens, outputs, name="embed_model")
    model.get_layer("embed").embeddings.assign(np.random.default_rng(0).normal(size=(3000, 8)).astype(np.float32))
    path = tmp_path / "embed.h5"
    model.save(path)
    result = pipeline.convert(str(path), tmp_path / "out", {"external_data_mb": 0})
    _assert_passed(result)
    assert any("kept out of tf2onnx" in note for note in result.report["notes"])
    ops = [n.op_type for n in onnx_utils.load(result.out_dir / "model.onnx").graph.node]
    assert "Gather" in ops, ops


def test_captured_tensors_become_constants_not_inputs(tmp_path: Path) -> None:
    """Keras 3's Normalization(mean=..., variance=...) keeps its statistics as captured tensors
    (EfficientNet); they are frozen with the small variables, and the ONNX model has one input."""
    import keras

    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 3), name="image")
    h = keras.layers.Normalization(mean=[0.2, 0.4, 0.6], variance=[0.1, 0.2, 0.3])(inputs)
    h = keras.layers.Conv2D(64, 3, name="conv")(keras.layers.Conv2D(32, 3)(h))  # 18432-element kernel
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(h), name="normalized")
    result = pipeline.convert(model, tmp_path / "out", {"external_data_mb": 0})
    _assert_passed(result)
    assert [i.name for i in onnx_utils.load(result.out_dir / "model.onnx").graph.input] == ["image"]


def test_onnx_source_with_external_data_elsewhere(tmp_path: Path) -> None:
    """An .onnx file whose weights sit in another file is copied with its weights, tensor by tensor."""
    model, _ = _conv_model(np.random.default_rng(4), weights_as_inputs=False, transposed=False)
    source = tmp_path / "src" / "net.onnx"
    source.parent.mkdir()
    onnx.save(model, str(source), save_as_external_data=True, location="net.weights", size_threshold=0)
    result = pipeline.convert(str(source), tmp_path / "out")
    assert result.status == "passed", result.report
    assert result.report["validation"]["ort_vs_torch"]["passed"] is True
    assert result.report["artifacts"]["onnx_data"] == "model.onnx.data"
    assert not (tmp_path / "out" / "net.weights").exists()


# --------------------------------------------------------------------------- weights module


def test_data_file_round_trip_is_aligned(tmp_path: Path, rng: np.random.Generator) -> None:
    arrays = {
        "f32": rng.normal(size=(33, 7)).astype(np.float32),
        "f16": rng.normal(size=(300,)).astype(np.float16),
        "i64": rng.integers(-5, 5, size=(2, 3, 40)).astype(np.int64),
        "flag": rng.integers(0, 2, size=(1030,)).astype(bool),
        "empty": np.zeros((0, 4), np.float32),
        "strided": rng.normal(size=(40, 40)).astype(np.float32)[::2, ::3],
    }
    with external_data.DataWriter(tmp_path / "w.data") as writer:
        protos = {name: writer.add(name, value) for name, value in arrays.items()}
    for name, value in arrays.items():
        proto = protos[name]
        assert external_data.is_external(proto) and int(dict_of(proto)["offset"]) % external_data.ALIGN == 0
        got = external_data.read(proto, tmp_path)
        assert got.dtype == value.dtype and got.shape == value.shape
        np.testing.assert_array_equal(got, value)
        np.testing.assert_array_equal(external_data.read(proto, tmp_path, mapped=True), value)
    # onnx's own reader agrees with the layout
    model = helper.make_model(
        helper.make_graph([], "g", [], [helper.make_tensor_value_info("f32", TensorProto.FLOAT, [33, 7])])
    )
    model.graph.initializer.extend(protos.values())
    onnx.save(model, str(tmp_path / "m.onnx"))
    loaded = onnx.load(str(tmp_path / "m.onnx"))
    np.testing.assert_array_equal(numpy_helper.to_array(loaded.graph.initializer[0]), arrays["f32"])


def dict_of(tensor: onnx.TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in tensor.external_data}


def test_external_data_outside_the_model_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_bytes(b"\0" * 64)
    model_dir = tmp_path / "m"
    model_dir.mkdir()
    tensor = helper.make_tensor("w", TensorProto.FLOAT, [4], [0.0] * 4)
    tensor.ClearField("float_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../secret"), ("offset", "0"), ("length", "16")):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    with pytest.raises(NotAModelError, match="outside the model's folder"):
        external_data.read(tensor, model_dir)
    tensor.external_data[0].value = "missing.bin"
    with pytest.raises(NotAModelError, match="missing"):
        external_data.read(tensor, model_dir)
    (model_dir / "short.bin").write_bytes(b"\0" * 8)
    tensor.external_data[0].value = "short.bin"
    with pytest.raises(NotAModelError, match="needs 16"):
        external_data.read(tensor, model_dir)


def _conv_model(
    rng: np.random.Generator, *, weights_as_inputs: bool, transposed: bool = True
) -> tuple[onnx.ModelProto, np.ndarray]:
    """x -> Conv(Transpose(W_hwio)) -> Mul(scale) -> Add(shift) -> Relu, the shape tf2onnx leaves for a
    kernel it did not see as a constant. With ``weights_as_inputs`` the kernel is a graph input;
    without ``transposed``, ``W`` is stored OIHW and read by the Conv directly."""
    kernel = rng.normal(size=(3, 3, 8, 16)).astype(np.float32)  # HWIO, 4.6 KB
    scale = rng.uniform(0.5, 2.0, size=(1, 16, 1, 1)).astype(np.float32)
    shift = rng.normal(size=(1, 16, 1, 1)).astype(np.float32)
    if not transposed:
        kernel = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
    nodes = [
        helper.make_node("Transpose", ["W"], ["W_oihw"], perm=[3, 2, 0, 1]) if transposed else None,
        helper.make_node("Conv", ["x", "W_oihw"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c", "scale"], ["m"]),
        helper.make_node("Add", ["shift", "m"], ["a"]),
        helper.make_node("Relu", ["a"], ["y"]),
    ]
    nodes = [n for n in nodes if n is not None]
    if not transposed:
        nodes[0].input[1] = "W"
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8, 5, 5])]
    inits = [numpy_helper.from_array(scale, "scale"), numpy_helper.from_array(shift, "shift")]
    if weights_as_inputs:
        inputs.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, list(kernel.shape)))
    else:
        inits.append(numpy_helper.from_array(kernel, "W"))
    graph = helper.make_graph(
        nodes, "g", inputs, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    return model, kernel


def _run(model: onnx.ModelProto | Path, feeds: dict[str, Any]) -> np.ndarray:
    import onnxruntime as ort

    source = str(model) if isinstance(model, Path) else model.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, feeds)[0]


@pytest.mark.parametrize("external", [True, False])
def test_attach_folds_weight_only_nodes_and_fuses_conv_affine(
    tmp_path: Path, rng: np.random.Generator, external: bool
) -> None:
    model, kernel = _conv_model(rng, weights_as_inputs=True)
    x = rng.normal(size=(2, 8, 5, 5)).astype(np.float32)
    expected = _run(model, {"x": x, "W": kernel})

    calls = []

    def load_kernel() -> np.ndarray:
        calls.append(1)
        return kernel

    path = tmp_path / "model.onnx"
    writer = external_data.DataWriter(tmp_path / "model.onnx.data") if external else None
    result = weight_folding.attach(model, {"W": load_kernel}, writer)
    if writer is not None:
        writer.close()
    onnx_utils.save(model, path)
    assert len(calls) == 1  # each weight is read once
    assert [n.op_type for n in model.graph.node] == ["Conv", "Relu"]
    assert result.folded == 1 and result.fused == 2
    assert [i.name for i in model.graph.input] == ["x"]
    conv_weight = next(t for t in model.graph.initializer if list(t.dims) == [16, 8, 3, 3])
    assert conv_weight.name == "W" and external_data.is_external(conv_weight) == external
    assert {t.name for t in model.graph.initializer} == {"W", "W/bias"}  # scale and shift went into the Conv
    np.testing.assert_allclose(_run(path, {"x": x}), expected, rtol=1e-5, atol=1e-5)


def test_save_moves_large_inline_tensors_next_to_external_ones(tmp_path: Path, rng: np.random.Generator) -> None:
    model, _ = _conv_model(rng, weights_as_inputs=False)
    first = tmp_path / "model.onnx"
    with external_data.DataWriter(tmp_path / "model.onnx.data") as writer:
        external_data.externalize_large(model, writer)
    onnx_utils.save(model, first)
    # a fixup adds a large inline initializer: saving elsewhere puts it in that model's own data file
    model.graph.initializer.append(numpy_helper.from_array(np.ones((64, 64), np.float32), "extra"))
    second = tmp_path / "model_fixed.onnx"
    onnx_utils.save(model, second)
    by_name = _initializers(second)
    assert dict_of(by_name["extra"])["location"] == "model_fixed.onnx.data"
    assert dict_of(by_name["W"])["location"] == "model.onnx.data"
    np.testing.assert_array_equal(external_data.read(by_name["extra"], tmp_path), np.ones((64, 64), np.float32))
    model.graph.initializer.append(numpy_helper.from_array(np.zeros((64, 64), np.float32), "more"))
    with pytest.raises(ValueError, match="already referenced"):
        onnx_utils.save(model, tmp_path / "model.onnx")


def test_safetensors_writer_matches_the_library(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    from pipeline.stages.torch_export import write_safetensors

    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    tensors = {
        "b.weight": base,
        "a.view": base[:, ::2],  # non-contiguous view of shared storage
        "half": torch.linspace(-1, 1, 7, dtype=torch.bfloat16),
        "ids": torch.tensor([3, 1, 2], dtype=torch.int64),
        "mask": torch.tensor([True, False]),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
        "empty": torch.zeros(0, 3),
    }
    path = tmp_path / "w.safetensors"
    write_safetensors(path, tensors, {"format": "pt"})
    loaded = load_file(str(path))
    assert set(loaded) == set(tensors)
    for name, tensor in tensors.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor), name


# --------------------------------------------------------------------------- heavy


def _bench() -> Any:
    import importlib

    return importlib.import_module("scripts.bench_memory")


@pytest.mark.slow
def test_vgg16_converts_with_every_process_under_4_gb(tmp_path: Path) -> None:
    bench = _bench()
    row = bench.convert("vgg16", tmp_path, cap_gb=4.0, keep=False)
    assert row.status == "passed", row
    assert set(row.peaks) >= set(bench.PROCESSES)
    assert max(row.peaks.values()) < 4096, row.peaks
    assert row.data_files == ["model.onnx.data"]


@pytest.mark.slow
def test_3gb_model_converts_within_3x_its_weights(tmp_path: Path) -> None:
    bench = _bench()
    row = bench.convert("wide3g", tmp_path, cap_gb=8.0, keep=False)
    if row.status == "skipped":
        pytest.skip(row.note)
    assert row.status == "passed", row
    assert row.weight_bytes > 2**31  # past protobuf's limit
    assert max(row.peaks.values()) * 1024**2 <= 3 * row.weight_bytes, (row.peaks, row.weight_bytes)


def test_worker_peak_is_its_own_not_its_parents() -> None:
    """A worker's reported peak excludes what its parent held when it started it.

    Linux floors a child's ``ru_maxrss`` at the parent's resident set at fork time; the worker
    reports its own ``VmHWM`` instead, so a torch worker started by an orchestrator holding a large
    model in ONNX Runtime is not charged for it.
    """
    import resource
    import subprocess
    import sys

    ballast = np.ones(600 * 2**20 // 8)  # 600 MB resident in this (the parent) process
    code = (
        "import resource; from pipeline.worker import own_peak_rss_mb; "
        "print(own_peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    own, inherited = (float(v) for v in out.stdout.split())
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 > 600 and ballast.sum() > 0
    assert own < 300, own  # the child's own program: an interpreter and a small import
    assert inherited >= own
