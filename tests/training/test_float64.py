"""The Keras half's float64 model: rebuilt from its config with the same weights, or a reason."""

from __future__ import annotations

import numpy as np

from pipeline.training.float64 import float64_clone, float64_default


def test_functional_model_rebuilt_in_float64_with_its_weights() -> None:
    import keras

    keras.utils.set_random_seed(0)
    image = keras.layers.Input((8, 8, 3))
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3)(image))
    model = keras.Model(image, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    with float64_default():
        clone, why = float64_clone(model)
        assert keras.backend.floatx() == "float64"
    assert keras.backend.floatx() == "float32"
    assert clone is not None and why == ""
    assert all("float64" in str(v.dtype) for v in clone.variables)
    for a, b in zip(model.get_weights(), clone.get_weights(), strict=True):
        np.testing.assert_array_equal(a.astype(np.float64), b)
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3))
    wide, narrow = np.asarray(clone(x)), np.asarray(model(x.astype(np.float32)))
    assert wide.dtype == np.float64 and np.abs(wide - narrow).max() < 1e-5


def test_subclassed_model_is_not_rebuilt_and_says_why() -> None:
    import keras

    class Head(keras.Model):
        def __init__(self, **kwargs):  # type: ignore[no-untyped-def]
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(3)

        def call(self, x):  # type: ignore[no-untyped-def]
            return self.dense(x)

    model = Head()
    model(np.zeros((1, 2), np.float32))
    with float64_default():
        clone, why = float64_clone(model)
    assert clone is None and "float64" in why


def test_mixed_precision_model_computes_in_float64() -> None:
    import keras

    inputs = keras.Input((2,))
    model = keras.Model(inputs, keras.layers.Dense(3, dtype="mixed_bfloat16")(inputs))
    with float64_default():
        clone, why = float64_clone(model)
    assert clone is not None and why == "", why
    x = np.random.default_rng(0).normal(size=(2, 2))
    wide = np.asarray(clone(x))
    assert wide.dtype == np.float64
    kernel, bias = (np.asarray(w, np.float64) for w in model.get_weights())
    np.testing.assert_allclose(wide, x @ kernel + bias, rtol=1e-12)


def test_grouped_convolution_stays_in_float32_and_says_why() -> None:
    import keras

    image = keras.Input((6, 6, 4))
    model = keras.Model(image, keras.layers.Conv2D(4, 3, groups=4, name="depthwise_as_groups")(image))
    with float64_default():
        clone, why = float64_clone(model)
    assert clone is None and "'depthwise_as_groups'" in why and "float64 kernel" in why
