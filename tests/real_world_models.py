"""Real-world model kinds built from small explicit configs (random weights, nothing downloaded)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HUB_TEXT = {"vocabulary_size": 100, "num_layers": 2, "num_heads": 2, "hidden_dim": 16, "intermediate_dim": 32}


def keras_hub_backbone(kind: str) -> Any:
    """A keras-hub backbone (BERT, GPT-2, DistilBERT, ViT) two layers deep, 16 wide."""
    import keras_hub

    if kind == "bert":
        return keras_hub.models.BertBackbone(**HUB_TEXT, max_sequence_length=32)
    if kind == "gpt2":
        return keras_hub.models.GPT2Backbone(**HUB_TEXT, max_sequence_length=32)
    if kind == "distilbert":
        return keras_hub.models.DistilBertBackbone(**HUB_TEXT, max_sequence_length=32)
    if kind == "vit":
        return keras_hub.models.ViTBackbone(
            image_shape=(32, 32, 3), patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
        )
    raise ValueError(kind)


def save(model: Any, folder: Path, name: str) -> Path:
    path = folder / f"{name}.keras"
    model.save(path)
    return path


def bfloat16_dense() -> Any:
    """A Dense layer computing in bfloat16 between float32 layers."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(16, activation="relu", dtype="bfloat16")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4, dtype="float32")(hidden))


def mixed_float16_classifier() -> Any:
    """A classifier under the mixed_float16 policy with a float32 softmax (as the Keras guide writes it)."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8,))
    hidden = keras.layers.Dense(32, activation="relu", dtype="mixed_float16")(inputs)
    logits = keras.layers.Dense(10, dtype="mixed_float16")(hidden)
    return keras.Model(inputs, keras.layers.Activation("softmax", dtype="float32")(logits))


def detection_head() -> Any:
    """An FPN-style head: a stride-2 feature map resized to the size of the stride-1 one, then added."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    image = keras.Input((32, 32, 3))
    fine = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(image)
    coarse = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(fine)
    up = keras.layers.Lambda(
        lambda pair: tf.image.resize(pair[0], tf.shape(pair[1])[1:3], method="nearest"), name="resize_to_fine"
    )([coarse, fine])
    merged = keras.layers.Add()([up, fine])
    return keras.Model(image, keras.layers.Conv2D(5, 1)(merged))
