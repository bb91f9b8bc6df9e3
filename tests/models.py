"""Small models for tests, one per source kind, with non-zero biases so every weight matters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _randomize(model: Any, seed: int = 0) -> Any:
    """Give every weight (biases, BatchNorm statistics included) random non-trivial values."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        shape = tuple(weight.shape)
        name = weight.name if hasattr(weight, "name") else ""
        if "variance" in name:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.3, shape)
        weight.assign(value.astype(np.float32))
    return model


def seed_cnn_keras() -> Any:
    from pipeline.examples import seed_cnn

    return _randomize(seed_cnn())


def seed_cnn_tf_keras() -> Any:
    import tf_keras

    from pipeline.examples import seed_cnn

    return _randomize(seed_cnn(tf_keras))


def two_io() -> Any:
    """Two inputs (image, token ids), two outputs (class probabilities, a score)."""
    import keras

    keras.utils.set_random_seed(1)
    image = keras.Input((16, 16, 3), name="image")
    tokens = keras.Input((8,), name="tokens", dtype="int32")
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(image)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    t = keras.layers.Embedding(50, 8, name="embed")(tokens)
    t = keras.layers.Flatten(name="flat")(t)
    h = keras.layers.Concatenate(name="concat")([x, t])
    h = keras.layers.Dense(16, activation="tanh", name="hidden")(h)
    probs = keras.layers.Dense(5, activation="softmax", name="probs")(h)
    score = keras.layers.Dense(1, name="score")(h)
    return _randomize(keras.Model([image, tokens], [probs, score], name="two_io"))


def tiny_cnn() -> Any:
    """A callable source for tests: ``tests.models:tiny_cnn``."""
    import keras

    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 2), name="x"),
            keras.layers.Conv2D(4, 3, padding="same", name="c"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
            keras.layers.GlobalAveragePooling2D(name="gap"),
            keras.layers.Dense(3, name="out"),
        ],
        name="tiny_cnn",
    )
    return _randomize(model)


def lambda_model() -> Any:
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,), name="x"),
            keras.layers.Lambda(lambda t: t * 2.0, name="double"),
            keras.layers.Dense(2, name="out"),
        ],
        name="with_lambda",
    )
    return _randomize(model)


def tf_module_savedmodel(path: Path) -> Path:
    """A plain tf.Module (no Keras) with a serving signature."""
    import tensorflow as tf

    class Affine(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            rng = np.random.default_rng(3)
            self.w = tf.Variable(rng.normal(size=(6, 4)).astype(np.float32))
            self.b = tf.Variable(rng.normal(size=(4,)).astype(np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, 6], tf.float32, name="features")])
        def __call__(self, features: Any) -> Any:
            return {"logits": tf.matmul(features, self.w) + self.b, "norm": tf.norm(features, axis=1)}

    module = Affine()
    tf.saved_model.save(module, str(path), signatures=module.__call__.get_concrete_function())
    return path


def save_all(folder: Path) -> dict[str, Path]:
    """Write every test model; returns kind -> path."""
    files: dict[str, Path] = {}
    cnn = seed_cnn_keras()
    files["keras"] = folder / "seed_cnn.keras"
    cnn.save(files["keras"])
    files["h5"] = folder / "seed_cnn.h5"
    seed_cnn_tf_keras().save(files["h5"])
    files["two_io"] = folder / "two_io.keras"
    two_io().save(files["two_io"])
    files["tf_module"] = tf_module_savedmodel(folder / "tf_module")
    files["keras_export"] = folder / "keras_export"
    cnn.export(str(files["keras_export"]), verbose=False)
    files["lambda"] = folder / "with_lambda.keras"
    lambda_model().save(files["lambda"])
    import onnx
    import tensorflow as tf
    import tf2onnx

    fn = tf.function(lambda x: cnn(x, training=False))
    proto, _ = tf2onnx.convert.from_function(
        fn, input_signature=[tf.TensorSpec([None, 64, 64, 3], tf.float32, name="image")], opset=15
    )
    files["onnx"] = folder / "seed_cnn.onnx"
    onnx.save(proto, str(files["onnx"]))
    return files


def unsupported_tf_op() -> Any:
    """A callable source whose custom layer uses a TF op tf2onnx cannot convert (BesselI1e)."""
    import keras
    import tensorflow as tf

    class Bessel(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return tf.math.bessel_i1e(x)

    return keras.Sequential(
        [keras.Input((4,), name="x"), keras.layers.Dense(4, name="dense"), Bessel(name="bessel_layer")],
        name="bessel_model",
    )


def onnx_without_torch_converter(path: Path) -> Path:
    """An ONNX model ONNX Runtime runs but no torch converter covers (com.microsoft::Inverse)."""
    import onnx
    from onnx import TensorProto, helper

    node = helper.make_node("Inverse", ["x"], ["y"], name="matrix_inverse", domain="com.microsoft")
    graph = helper.make_graph(
        [node],
        "inv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 3])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
