"""keras.ops nodes (Keras 3) and TFOpLambda / SlicingOpLambda nodes (tf_keras) against TensorFlow."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tests.translate import harness


def _keras3(body: Callable[[Any, Any], Any], shape: tuple[int, ...] = (3, 4, 6)) -> Callable:
    def build() -> tuple[Any, list[np.ndarray]]:
        import keras
        from keras import ops

        inp = keras.Input(shape[1:])
        data = np.random.default_rng(1).uniform(0.5, 2.0, size=shape).astype("float32")
        return keras.Model(inp, body(ops, inp)), [data]

    return build


def _tf_keras(body: Callable[[Any, Any], Any], shape: tuple[int, ...] = (3, 4, 6)) -> Callable:
    def build() -> tuple[Any, list[np.ndarray]]:
        import tensorflow as tf
        import tf_keras

        inp = tf_keras.Input(shape[1:])
        data = np.random.default_rng(1).uniform(0.5, 2.0, size=shape).astype("float32")
        return tf_keras.Model(inp, body(tf, inp)), [data]

    return build


def _with_dense() -> tuple[Any, list[np.ndarray]]:
    """ops around a layer: a Conv1D output (channels-first inside) through element-wise and layout ops."""
    import keras
    from keras import ops

    inp = keras.Input((5, 3))
    x = keras.layers.Conv1D(4, 3, padding="same")(inp)
    y = ops.sqrt(ops.square(x) + 1.0)
    out = ops.mean(ops.transpose(y, (0, 2, 1)), axis=-1)
    data = np.random.default_rng(2).normal(size=(2, 5, 3)).astype("float32")
    return harness.randomize(keras.Model(inp, out)), [data]


CASES = {
    "k3_arithmetic": _keras3(lambda o, x: o.exp(-x) / 2.0 + o.log(x) ** 2 - o.abs(o.tanh(x))),
    "k3_matmul_softmax": _keras3(lambda o, x: o.softmax(o.matmul(x, o.transpose(x, (0, 2, 1))), axis=-1)),
    "k3_reshape_concat": _keras3(lambda o, x: o.concatenate([o.reshape(x, (-1, 24)), o.sum(x, axis=1)], axis=-1)),
    "k3_reductions": _keras3(
        lambda o, x: [o.max(x, axis=1), o.mean(x, axis=-1, keepdims=True), o.var(x, axis=1), o.min(x, axis=[1, 2])]
    ),
    "k3_slicing": _keras3(lambda o, x: [x[:, 1:3], x[:, 0], x[..., ::2], o.expand_dims(x[:, -1], 1)]),
    "k3_compare_where": _keras3(lambda o, x: o.where(x > 1.0, o.sqrt(x), o.maximum(x, 0.9))),
    "k3_einsum_stack": _keras3(
        lambda o, x: o.stack([o.einsum("bij,bkj->bik", x, x), o.swapaxes(o.einsum("bij,bkj->bik", x, x), 1, 2)], axis=1)
    ),
    "k3_layers_and_ops": _with_dense,
    "tf_arithmetic": _tf_keras(lambda tf, x: tf.math.add(tf.math.multiply(x, 2.0), tf.math.sqrt(x)) - tf.math.exp(-x)),
    "tf_reshape_concat": _tf_keras(
        lambda tf, x: tf.concat([tf.reshape(x, (-1, 24)), tf.reduce_mean(x, axis=1)], axis=-1)
    ),
    "tf_matmul_softmax": _tf_keras(lambda tf, x: tf.nn.softmax(tf.matmul(x, tf.transpose(x, perm=[0, 2, 1])))),
    "tf_slicing": _tf_keras(lambda tf, x: tf.reduce_max(x[:, 1:, :3], axis=-1, keepdims=True)),
    "declined": _keras3(lambda o, x: o.sort(x, axis=-1)),
}


translated, test_op = harness.family_tests(__name__, CASES)


def test_unknown_op_declines_with_its_name(translated: dict[str, Any]) -> None:
    error = translated["declined"]["tf"].get("error", "")
    assert "Sort" in error and "no translation" in error
