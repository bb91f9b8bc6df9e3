"""Index maps: which Keras element each state-dict element holds, past float32's exact integers."""

from __future__ import annotations

import numpy as np

from pipeline.config import ConversionConfig
from pipeline.training.index_maps import BASE, index_maps
from pipeline.translate import translate_model


def test_variables_past_one_digit_map_every_element() -> None:
    """VGG16's fc1 kernel (103 million elements) needs two digits of base 2**23; a base of 2**5
    takes a small model through three."""
    import keras

    keras.utils.set_random_seed(0)
    image = keras.Input((4, 4, 6), name="image")
    x = keras.layers.Conv2D(6, 1, name="mix")(image)
    head = keras.layers.Dense(40, name="fc")(keras.layers.Flatten(name="flatten")(x))
    model = keras.Model(image, head)
    kernel = model.get_layer("fc").kernel
    assert 32**2 < int(np.prod(kernel.shape)) <= 32**3 < BASE
    maps = index_maps(model, ConversionConfig(), ["image"], base=32)
    code = translate_model(model, layout="keras", input_names=["image"])
    for key, path in code.weight_map.items():
        variable = next(v for v in model.variables if v.path == path)
        index = maps[key]
        assert np.all(index >= 0), key
        # the rows of the flattened kernel are reordered (Keras flattens channels last): the map says how
        np.testing.assert_array_equal(code.weights[key].ravel(), variable.numpy().ravel()[index.ravel()])
    assert len(np.unique(maps["fc.weight"])) == int(np.prod(kernel.shape))
