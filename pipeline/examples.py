"""Built-in example models (``example:<name>`` sources), built with seeded random weights.

``seed_cnn`` is the CNN people convert by hand in the articles this project grew from:
Conv2D -> MaxPooling2D -> Conv2D -> MaxPooling2D -> Flatten -> Dense(softmax), on 64x64 RGB.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def seed_cnn(library: Any = None, kernel_regularizer: Any = None) -> Any:
    """The seed CNN; ``library`` is ``keras`` (default) or ``tf_keras`` for a Keras 2 model.

    ``kernel_regularizer`` goes to the classifier (the training demo's L2 term).
    """
    if library is None:
        import keras as library
    library.utils.set_random_seed(0)
    layers = library.layers
    return library.Sequential(
        [
            layers.Input((64, 64, 3), name="image"),
            layers.Conv2D(32, (3, 3), activation="relu", name="conv1"),
            layers.MaxPooling2D((2, 2), name="pool1"),
            layers.Conv2D(64, (3, 3), activation="relu", name="conv2"),
            layers.MaxPooling2D((2, 2), name="pool2"),
            layers.Flatten(name="flatten"),
            layers.Dense(10, activation="softmax", kernel_regularizer=kernel_regularizer, name="predictions"),
        ],
        name="seed_cnn",
    )


@dataclass(frozen=True)
class Example:
    build: Callable[[], Any]
    description: str


EXAMPLES: dict[str, Example] = {
    "seed_cnn": Example(seed_cnn, "Conv2D -> MaxPooling2D -> Conv2D -> MaxPooling2D -> Flatten -> Dense(softmax)"),
}
