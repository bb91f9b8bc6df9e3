"""make_optimizer / training_loss written from a compile config, against real Keras.

Each optimizer: the same weights and the same gradients, three Keras steps vs three torch steps
(bias corrections, schedules and momentum show from the second step on). Each loss: the same
outputs and targets, ``model.compute_loss`` (compiled loss + regularisers) vs ``training_loss``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from pipeline.training.compile_config import training_code


def _keras_mlp(keras: Any, activation: str = "softmax", regularized: bool = False, constrained: bool = False) -> Any:
    keras.utils.set_random_seed(3)
    layers = keras.layers
    reg = keras.regularizers.L1L2(l1=0.001, l2=0.01) if regularized else None
    con = keras.constraints.MaxNorm(0.5) if constrained else None
    return keras.Sequential(
        [
            layers.Input((6,)),
            layers.Dense(5, activation="tanh", kernel_regularizer=reg, kernel_constraint=con, name="hidden"),
            layers.Dense(4, activation=activation, bias_regularizer=reg, name="head"),
        ],
        name="mlp",
    )


class TorchMlp(nn.Module):
    def __init__(self, model: Any, activation: str) -> None:
        super().__init__()
        self.hidden = nn.Linear(6, 5)
        self.head = nn.Linear(5, 4)
        self.activation = activation
        with torch.no_grad():
            for name in ("hidden", "head"):
                layer = model.get_layer(name)
                getattr(self, name).weight.copy_(torch.from_numpy(np.asarray(layer.kernel).T.copy()))
                getattr(self, name).bias.copy_(torch.from_numpy(np.asarray(layer.bias)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.head(torch.tanh(self.hidden(x)))
        return {"softmax": lambda v: torch.softmax(v, -1), "sigmoid": torch.sigmoid, "linear": lambda v: v}[
            self.activation
        ](y)


WEIGHT_MAP = {
    "hidden.weight": "mlp/hidden/kernel",
    "hidden.bias": "mlp/hidden/bias",
    "head.weight": "mlp/head/kernel",
    "head.bias": "mlp/head/bias",
}


def _functions(model: Any, activation: str) -> dict[str, Any]:
    code = training_code(model, model.get_compile_config(), WEIGHT_MAP, activations={"head": activation})
    assert not code.not_carried, code.not_carried
    namespace: dict[str, Any] = {}
    header = "import torch\nimport torch.nn.functional as F\nfrom torch import nn\n"
    exec(compile(header + code.source, "model.py", "exec"), namespace)
    return namespace


def _keras_values(model: Any) -> dict[str, np.ndarray]:
    return {
        "hidden.weight": np.asarray(model.get_layer("hidden").kernel).T,
        "hidden.bias": np.asarray(model.get_layer("hidden").bias),
        "head.weight": np.asarray(model.get_layer("head").kernel).T,
        "head.bias": np.asarray(model.get_layer("head").bias),
    }


OPTIMIZERS = {
    "sgd": lambda k: k.optimizers.SGD(0.1),
    "sgd_momentum_nesterov": lambda k: k.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "sgd_weight_decay_clipnorm": lambda k: k.optimizers.SGD(0.1, momentum=0.5, weight_decay=0.01, clipnorm=0.05),
    "adam": lambda k: k.optimizers.Adam(0.01, epsilon=1e-3),
    "adam_amsgrad_schedule": lambda k: k.optimizers.Adam(
        k.optimizers.schedules.ExponentialDecay(0.01, decay_steps=1, decay_rate=0.5), amsgrad=True
    ),
    "adamw_global_clip": lambda k: k.optimizers.AdamW(0.01, weight_decay=0.1, global_clipnorm=0.1),
    "rmsprop_centered_momentum": lambda k: k.optimizers.RMSprop(0.01, momentum=0.9, centered=True, epsilon=1e-3),
    "adagrad_piecewise": lambda k: k.optimizers.Adagrad(
        k.optimizers.schedules.PiecewiseConstantDecay([1], [0.1, 0.01]), clipvalue=0.05
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_match_keras(name: str) -> None:
    import keras

    model = _keras_mlp(keras, constrained=name == "sgd")
    model.compile(optimizer=OPTIMIZERS[name](keras), loss="mse")
    module = TorchMlp(model, "softmax")
    optimizer = _functions(model, "softmax")["make_optimizer"](module)
    rng = np.random.default_rng(0)
    keras_opt = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    for _ in range(3):
        grads = {k: rng.standard_normal(v.shape).astype(np.float32) * 0.1 for k, v in _keras_values(model).items()}
        keras_grads = [grads["hidden.weight"].T, grads["hidden.bias"], grads["head.weight"].T, grads["head.bias"]]
        keras_opt.apply_gradients(zip(keras_grads, model.trainable_variables, strict=True))
        for key, param in module.named_parameters():
            param.grad = torch.from_numpy(grads[key].copy())
        optimizer.step()
    for key, want in _keras_values(model).items():
        got = module.get_parameter(key).detach().numpy()
        np.testing.assert_allclose(got, want, rtol=2e-6, atol=2e-7, err_msg=f"{name}: {key}")


def test_torch_adam_differs_from_keras_adam_where_epsilon_matters() -> None:
    """The reason KerasAdam exists: torch's Adam at the same hyper-parameters moves differently."""
    import keras

    model = _keras_mlp(keras)
    model.compile(optimizer=keras.optimizers.Adam(0.01, epsilon=1e-3), loss="mse")
    module = TorchMlp(model, "softmax")
    plain = torch.optim.Adam(module.parameters(), lr=0.01, eps=1e-3)
    keras_opt = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    grads = {k: np.full(v.shape, 1e-3, np.float32) for k, v in _keras_values(model).items()}
    keras_opt.apply_gradients(
        zip(
            [grads["hidden.weight"].T, grads["hidden.bias"], grads["head.weight"].T, grads["head.bias"]],
            model.trainable_variables,
            strict=True,
        )
    )
    for key, param in module.named_parameters():
        param.grad = torch.from_numpy(grads[key].copy())
    plain.step()
    got = module.get_parameter("head.bias").detach().numpy()
    assert np.abs(got - _keras_values(model)["head.bias"]).max() > 1e-4


LOSSES = {
    "cce_probs_smoothing": ("softmax", lambda k: k.losses.CategoricalCrossentropy(label_smoothing=0.1), "onehot"),
    "cce_logits": ("linear", lambda k: k.losses.CategoricalCrossentropy(from_logits=True), "onehot"),
    "scce_probs": ("softmax", lambda k: "sparse_categorical_crossentropy", "labels"),
    "scce_logits_sum": (
        "linear",
        lambda k: k.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum"),
        "labels",
    ),
    "bce_sigmoid": ("sigmoid", lambda k: k.losses.BinaryCrossentropy(label_smoothing=0.2), "binary"),
    "bce_logits": ("linear", lambda k: k.losses.BinaryCrossentropy(from_logits=True), "binary"),
    "mse": ("linear", lambda k: "mse", "values"),
    "mae": ("linear", lambda k: k.losses.MeanAbsoluteError(), "values"),
    "huber": ("linear", lambda k: k.losses.Huber(), "values"),  # Keras does not serialise delta
    "kld": ("softmax", lambda k: "kl_divergence", "probs"),
}


def _targets(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "onehot":
        return np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    if kind == "labels":
        return rng.integers(0, 4, 8).astype(np.int32)
    if kind == "binary":
        return rng.integers(0, 2, (8, 4)).astype(np.float32)
    if kind == "probs":
        return rng.dirichlet(np.ones(4), 8).astype(np.float32)
    return rng.standard_normal((8, 4)).astype(np.float32)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_training_loss_matches_keras_compute_loss(name: str) -> None:
    import keras

    activation, loss, target_kind = LOSSES[name]
    model = _keras_mlp(keras, activation=activation, regularized=True)
    model.compile(optimizer="adam", loss=loss(keras))
    module = TorchMlp(model, activation)
    functions = _functions(model, activation)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    y = _targets(target_kind, rng)
    want = float(model.compute_loss(x=x, y=y, y_pred=model(x), training=True))
    got = functions["training_loss"](module, module(torch.from_numpy(x)), torch.from_numpy(y)).item()
    assert got == pytest.approx(want, rel=2e-6, abs=1e-7)
    assert functions["regularization_loss"](module).item() > 0  # the L1L2 terms are in the total


def test_multi_output_loss_weights_and_not_carried() -> None:
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    a = keras.layers.Dense(2, name="a")(inputs)
    b = keras.layers.Dense(2, activation="sigmoid", name="b", activity_regularizer="l2")(inputs)
    model = keras.Model(inputs, [a, b], name="two")
    model.compile(optimizer=keras.optimizers.Lion(), loss=["mse", "binary_crossentropy"], loss_weights=[0.3, 2.0])
    code = training_code(model, model.get_compile_config(), {"a.weight": "two/a/kernel"}, activations={"b": "sigmoid"})
    assert "0.3 * reduce_loss(mean_squared_error(outputs[0], targets[0])" in code.source
    assert "2.0 * reduce_loss(binary_crossentropy(outputs[1], targets[1], sigmoid_output=True)" in code.source
    assert "make_optimizer" not in code.source and not code.optimizer_carried
    assert any("Lion" in item for item in code.not_carried)
    assert any("activity regulariser of layer 'b'" in item for item in code.not_carried)
