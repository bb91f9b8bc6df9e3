"""Translation inside conversions: model.py runs where TensorFlow, Keras, ONNX, onnx2torch and
this package cannot be imported, is validated against TensorFlow (tf_vs_module) and gives
model.pt2; a custom TF-op layer goes through the ONNX fallback; sources without a Keras layer
graph get a whole-model model.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import pipeline

CLEAN_RUN = """
import sys
for name in ("tensorflow", "keras", "tf_keras", "onnx", "onnx2torch", "pipeline", "custom_ops"):
    sys.modules[name] = None
import importlib.util, json
import numpy as np, torch
spec = importlib.util.spec_from_file_location("model", sys.argv[1] + "/model.py")
model_py = importlib.util.module_from_spec(spec)
spec.loader.exec_module(model_py)
model = model_py.load()
data = np.load(sys.argv[1] + "/inputs.npz")
x = torch.from_numpy(data["random/image"])
with torch.no_grad():
    y = model(x)
np.save(sys.argv[2], y.numpy())
for name in ("tensorflow", "keras", "onnx", "onnx2torch", "pipeline"):
    try:
        __import__(name)
    except ImportError:
        continue
    raise SystemExit(name + " was importable")
print(json.dumps({"training": model.train().training, "params": sum(p.numel() for p in model.parameters())}))
"""


def test_model_py_runs_without_tensorflow_onnx_or_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative output folder (the check runs in another working directory)
    result = pipeline.convert("example:seed_cnn", Path("out"))
    out = result.out_dir.resolve()
    assert result.passed
    assert result.report["validation"]["tf_vs_module"]["passed"] is True
    run = subprocess.run(
        [sys.executable, "-c", CLEAN_RUN, str(out), str(tmp_path / "y.npy")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == {"training": True, "params": 144842}
    with np.load(out / "outputs_tf.npz") as tf_out:
        np.testing.assert_allclose(np.load(tmp_path / "y.npy"), tf_out["random/predictions"], atol=1e-6)
    translation = json.loads((out / "translation.json").read_text())
    assert [r["method"] for r in translation["layers"]] == ["direct"] * 6
    assert translation["weight_map"]["conv1.weight"].endswith("conv1/kernel")
    report = (out / "report.md").read_text()
    assert "## Translation (model.py)" in report and "| conv1 | Conv2D | `conv1` | direct |" in report
    assert any("exported from model.py" in note for note in result.report["notes"])


def custom_layer_model() -> Any:
    import keras
    import tensorflow as tf

    class GatedSwish(keras.layers.Layer):
        def build(self, shape: Any) -> None:
            self.beta = self.add_weight(shape=(shape[-1],), initializer="ones", name="beta")

        def call(self, x: Any) -> Any:
            return x * tf.sigmoid(self.beta * x) + tf.math.softplus(x) * 0.1

    keras.utils.set_random_seed(5)
    inp = keras.Input((8, 8, 3), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = GatedSwish(name="gated")(x)
    x = keras.layers.Flatten(name="flat")(x)
    model = keras.Model(inp, keras.layers.Dense(5, name="head")(x), name="custom_net")
    model.get_layer("gated").beta.assign(np.linspace(0.5, 1.5, 4).astype("float32"))
    return model


def test_custom_tf_op_layer_goes_through_the_onnx_fallback(tmp_path: Path) -> None:
    result = pipeline.convert(custom_layer_model(), tmp_path / "out")
    assert result.passed, result.report["validation"]
    assert result.report["validation"]["tf_vs_module"]["passed"] is True
    out = result.out_dir
    translation = json.loads((out / "translation.json").read_text())
    methods = {r["layer"]: r["method"] for r in translation["layers"]}
    assert methods == {"conv": "direct", "gated": "onnx", "flat": "direct", "head": "direct"}
    assert translation["weight_map"]["gated.beta"].endswith("gated/beta")
    source = (out / "model.py").read_text()
    assert "class GatedGraph(nn.Module):" in source and "self.beta = nn.Parameter(" in source
    assert "torch.ops.aten" in source and "onnx2torch" not in source


def guarded_refine_model() -> Any:
    """A custom layer whose ONNX piece has a loop holding a conditional inside a conditional's branch."""
    import keras
    import tensorflow as tf

    class GuardedRefine(keras.layers.Layer):
        """Three damped steps on finite inputs (each skipped once values blow up), zeros otherwise."""

        def call(self, x: Any) -> Any:
            def refine() -> Any:
                def step(i: Any, h: Any) -> Any:
                    h = tf.cond(tf.reduce_max(tf.abs(h)) < 1e6, lambda: h - 0.1 * tf.tanh(h), lambda: h)
                    return i + 1, h

                return tf.while_loop(lambda i, h: i < 3, step, (tf.constant(0), x))[1]

            return tf.cond(tf.reduce_all(tf.math.is_finite(x)), refine, lambda: tf.zeros_like(x))

    keras.utils.set_random_seed(5)
    inp = keras.Input((6,), name="x")
    h = keras.layers.Dense(4, name="d1")(inp)
    h = GuardedRefine(name="refine")(h)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(h), name="guarded_net")


@pytest.mark.slow
def test_a_fallback_layer_that_cannot_be_plain_code_withdraws_model_py(tmp_path: Path) -> None:
    """Its torch.cond branch holds a conditional of its own: model.py is withdrawn naming the Keras
    layer (the whole-model attempt meets the same branch), the ONNX route's model.pt2 passes."""
    result = pipeline.convert(guarded_refine_model(), tmp_path / "out")
    assert result.passed, result.report.get("error")
    validation = result.report["validation"]
    assert validation["tf_vs_torch"]["passed"] is True and validation["tf_vs_module"]["passed"] is None
    out = result.out_dir
    translation = json.loads((out / "translation.json").read_text())
    assert translation["status"] == "failed"
    assert "cannot be written as plain torch code: Keras layer 'refine'" in translation["reason"]
    assert "holds graphs of its own" in translation["reason"]
    assert not (out / "model.py").exists() and (out / "model.pt2").is_file()
    assert any(n.startswith("model.py withdrawn") and "'refine'" in n for n in result.report["notes"])
    assert "No model.py: a fallback layer cannot be written as plain torch code" in (out / "report.md").read_text()


@pytest.mark.slow
def test_tf_module_savedmodel_gets_a_whole_model_model_py(tmp_path: Path) -> None:
    from tests.models import tf_module_savedmodel

    path = tf_module_savedmodel(tmp_path / "affine")
    result = pipeline.convert(str(path), tmp_path / "out")
    assert result.passed
    assert result.report["validation"]["tf_vs_module"]["passed"] is True
    translation = json.loads((result.out_dir / "translation.json").read_text())
    assert translation["layers"][0]["method"] == "onnx"
    assert "def graph(self" in (result.out_dir / "model.py").read_text()


@pytest.mark.slow
def test_multi_io_shared_nested_model_conversion(tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(7)
    shared = keras.layers.Dense(6, activation="relu", name="shared")
    inner_in = keras.Input((6,))
    inner = keras.Model(inner_in, keras.layers.Dense(6, name="inner_dense")(inner_in), name="inner")
    a, b = keras.Input((6,), name="a"), keras.Input((6,), name="b")
    h = keras.layers.Concatenate(name="cat")([inner(shared(a)), shared(b)])
    model = keras.Model([a, b], [keras.layers.Dense(2, name="p")(h), keras.layers.Dense(1, name="q")(h)], name="mix")
    result = pipeline.convert(model, tmp_path / "out")
    assert result.passed and result.report["validation"]["tf_vs_module"]["passed"] is True


@pytest.mark.slow
def test_a_wrong_translation_is_localised_to_its_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keras

    from pipeline.translate import LAYERS, LayerEntry
    from pipeline.translate.layers import activations

    def wrong_relu(call: Any, ctx: Any) -> Any:
        """ReLU translated as a sigmoid, to be found.

        A deliberately wrong entry: localisation must name this layer.
        """
        t = activations.translate_relu(call, ctx)
        t.modules = {k: "nn.Sigmoid()" for k in t.modules}
        return t

    monkeypatch.setitem(LAYERS._entries, "ReLU", LayerEntry.of(("ReLU",), wrong_relu))
    keras.utils.set_random_seed(3)
    inp = keras.Input((6, 6, 3), name="image")
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.ReLU(name="act")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="head")(x), name="wrong")
    result = pipeline.convert(model, tmp_path / "out", raise_on_error=False)
    assert result.report["validation"]["tf_vs_module"]["passed"] is False
    assert result.report["translation"]["localization"]["first_layer"]["layer"] == "act"
    assert "first differs from TensorFlow at Keras layer `act`" in (result.out_dir / "report.md").read_text()
