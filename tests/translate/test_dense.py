"""Dense (on rank 2 and higher, after a channels-first Flatten) and EinsumDense against TensorFlow."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tests.translate.helpers import check, one_layer

L = keras.layers


@pytest.mark.parametrize(
    ("layer", "shape"),
    [
        (lambda: L.Dense(5, activation="softmax"), (7,)),
        (lambda: L.Dense(5, use_bias=False, activation="gelu"), (3, 7)),
        (lambda: L.Dense(4, activation="swish"), (2, 3, 6)),
        (lambda: L.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c"), (6,)),
        (lambda: L.EinsumDense("abc,cd->abd", output_shape=(None, 4)), (3, 6)),
    ],
)
def test_dense_matches_tensorflow(layer, shape, rng: np.random.Generator) -> None:
    check(one_layer(layer(), shape), rng)


def test_dense_on_integer_inputs_casts_them(rng: np.random.Generator) -> None:
    """Keras' matmul promotes int64 indices (IntegerLookup's output) to float32; nn.Linear refuses them."""
    result = check(one_layer(L.Dense(3, name="d"), (5,), dtype="int64"), rng)
    assert "self.d(x.to(self.d.weight.dtype))" in result.code.source


def test_dense_weight_is_the_transposed_kernel(rng: np.random.Generator) -> None:
    model = one_layer(L.Dense(3, name="d"), (5,))
    result = check(model, rng)
    np.testing.assert_array_equal(result.code.weights["d.weight"], model.get_layer("d").kernel.numpy().T)
    assert "nn.Linear(5, 3)" in result.code.source


def test_flatten_of_a_feature_map_permutes_dense_rows_not_the_tensor(rng: np.random.Generator) -> None:
    inp = keras.Input((6, 5, 3), name="image")
    x = L.Conv2D(4, 3, name="conv")(inp)
    x = L.Flatten(name="flat")(x)
    model = keras.Model(inp, L.Dense(2, name="head")(x))
    result = check(model, rng)
    forward = result.code.source.split("def forward")[1]
    assert forward.count(".permute(") == 1  # the input only
    assert "nn.Linear(48, 2)" in result.code.source
