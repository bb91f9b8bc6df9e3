"""The training check on translated models: passes where the module trains as Keras does, fails
naming the Keras layer and weight on faults planted in the generated model.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from pipeline.examples import seed_cnn
from tests.training.harness import run_check


def _bn_cnn(keras: Any) -> Any:
    keras.utils.set_random_seed(2)
    layers = keras.layers
    return keras.Sequential(
        [
            layers.Input((12, 12, 3), name="image"),
            layers.Conv2D(8, 3, name="conv1"),
            layers.BatchNormalization(name="bn1"),
            layers.ReLU(name="relu1"),
            layers.Conv2D(8, 3, strides=2, padding="same", name="conv2"),
            layers.GlobalAveragePooling2D(name="gap"),
            layers.Dense(4, name="head"),
        ],
        name="bn_cnn",
    )


def _assert_gradients_pass(result: dict[str, Any]) -> None:
    for row in result["weights"]:
        for check in ("grad_inference", "grad_training", "grad_fit"):
            if check in row:
                assert row[check]["passed"], (row["keras"], check, row[check])


def test_seed_cnn_passes(tmp_path: Path) -> None:
    result = run_check(seed_cnn(), tmp_path)
    assert result["passed"], result["first_divergence"]
    assert result["worst"]["grad_inference"] < 1e-4 and result["worst"]["grad_training"] < 1e-4
    assert result["parameters"]["equal"] and result["parameters"]["torch_trainable"] == 144842
    assert [r["keras"].split("/", 1)[1] for r in result["weights"]][:2] == ["conv1/kernel", "conv1/bias"]
    assert result["step"]["torch_optimizer"] == "PlainSGD" and not result["step"]["fit"]


@pytest.mark.parametrize("noise_shape", [None, (None, 1)])
def test_dropout_model_made_deterministic(noise_shape: Any, tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(4)
    model = keras.Sequential(
        [
            keras.Input((20,), name="features"),
            keras.layers.Dense(16, activation="relu", name="dense1"),
            # with a noise_shape (EfficientNet's drop-connect) the module's SharedDropout is kept in eval
            keras.layers.Dropout(0.5, noise_shape=noise_shape, name="drop"),
            keras.layers.Dense(3, name="head"),
        ],
        name="drop_mlp",
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True), loss="mse")
    result = run_check(model, tmp_path)
    assert result["passed"], result["first_divergence"]
    assert result["deterministic"] == ["drop (Dropout): rate 0.5 -> 0"] and result["kept_in_eval"] == ["drop"]
    assert model.get_layer("drop").rate == 0.5  # restored
    assert result["losses"]["fit"]["passed"] and result["step"]["fit"]


def test_adam_categorical_crossentropy_l2(tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(5)
    l2 = keras.regularizers.L2(0.01)
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3), name="image"),
            keras.layers.Conv2D(8, 3, activation="relu", kernel_regularizer=l2, name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(5, activation="softmax", kernel_regularizer=l2, name="predictions"),
        ],
        name="adam_cnn",
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"])
    result = run_check(model, tmp_path)
    assert result["passed"], result["first_divergence"]
    assert result["step"] == {
        "fit": True,
        "keras_optimizer": "Adam",
        "torch_optimizer": "KerasAdam",
        "torch_fit_functions": True,
    }
    assert len(result["compile"]["regularizers"]) == 2
    fit = result["losses"]["fit"]
    assert fit["keras"] > 1.0 and abs(fit["torch"] - fit["keras"]) < 1e-5  # cross-entropy + L2 terms
    text = (tmp_path / "model.py").read_text()
    assert "def make_optimizer(module):" in text and "def training_loss(module, outputs, targets):" in text


def test_batchnorm_training_mode_gradients(tmp_path: Path) -> None:
    import keras

    result = run_check(_bn_cnn(keras), tmp_path)
    _assert_gradients_pass(result)  # BatchNorm on batch statistics in both frameworks
    rows = {r["keras"].split("/", 1)[1]: r for r in result["weights"]}
    assert rows["bn1/moving_mean"]["update"]["passed"]
    assert result["parameters"]["equal"] and result["parameters"]["keras_non_trainable"] == 16


def test_batchnorm_training_mode_passes(tmp_path: Path) -> None:
    import keras

    result = run_check(_bn_cnn(keras), tmp_path)
    assert result["passed"], result["first_divergence"]


def _replace(pattern: str, repl: str) -> Any:
    def plant(path: Path) -> None:
        text = path.read_text()
        changed, count = re.subn(pattern, repl, text, count=1)
        assert count == 1, pattern
        path.write_text(changed)

    return plant


def test_planted_batchnorm_momentum_fault_is_named(tmp_path: Path) -> None:
    """momentum=m instead of 1-m: the forward check cannot see it, the training check names bn1."""
    import keras

    result = run_check(_bn_cnn(keras), tmp_path, plant=_replace(r"momentum=0\.01\)", "momentum=0.99)"))
    assert not result["passed"]
    assert result["first_divergence"].startswith("Keras layer 'bn_cnn/bn1', weight 'moving_mean': change in one")
    _assert_gradients_pass(result)


def test_planted_detached_input_is_named(tmp_path: Path) -> None:
    """A ``.detach()`` before the second convolution: outputs unchanged, conv1 gets no gradient."""
    result = run_check(seed_cnn(), tmp_path, plant=_replace(r"self\.conv2\((\w+)\)", r"self.conv2(\1.detach())"))
    assert not result["passed"]
    assert result["first_divergence"].startswith("Keras layer 'seed_cnn/conv1', weight 'kernel': gradient (inference")
    rows = {r["keras"].split("/", 1)[1]: r for r in result["weights"]}
    assert rows["conv2/kernel"]["grad_inference"]["passed"] and rows["predictions/kernel"]["passed"]


def test_planted_frozen_weight_is_named(tmp_path: Path) -> None:
    """A weight made a non-trainable buffer (as onnx2torch imports do): named, counts differ."""
    plant = _replace(
        r"(        self\.reset_parameters\(\))", r"        self.predictions.bias.requires_grad_(False)\n\1"
    )
    result = run_check(seed_cnn(), tmp_path, plant=plant)
    assert not result["passed"]
    assert "'seed_cnn/predictions', weight 'bias'" in result["first_divergence"]
    assert result["parameters"]["torch_trainable"] == 144842 - 10 and not result["parameters"]["equal"]


def _text_model(keras: Any, kind: str) -> Any:
    keras.utils.set_random_seed(6)
    tokens = keras.Input((12,), dtype="int32", name="tokens")
    x = keras.layers.Embedding(50, 8, name="embed")(tokens)
    x = getattr(keras.layers, kind)(6, name="rnn")(x)
    out = keras.layers.Dense(3, activation="softmax", name="head")(x)
    model = keras.Model(tokens, out, name=f"{kind.lower()}_text")
    # SGD: Keras's Adam squares an Embedding's sparse gradient per occurrence of a token
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9), loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recurrent_text_model_passes(kind: str, tmp_path: Path) -> None:
    import keras

    result = run_check(_text_model(keras, kind), tmp_path)
    assert result["passed"], result["first_divergence"]
    rows = {r["keras"]: r for r in result["weights"]}
    assert rows[f"rnn/{kind.lower()}_cell/kernel"]["grad_fit"]["max_in_spread"] < 1e-4
    assert result["parameters"]["equal"] and result["step"]["fit"]


def test_layer_norm_attention_passes(tmp_path: Path) -> None:
    import keras

    keras.utils.set_random_seed(7)
    seq = keras.Input((6, 8), name="seq")
    x = keras.layers.LayerNormalization(name="ln")(seq)
    x = keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, dropout=0.1, name="mha")(x, x)
    x = keras.layers.GlobalAveragePooling1D(name="gap")(x)
    model = keras.Model(seq, keras.layers.Dense(3, name="head")(x), name="attn")
    result = run_check(model, tmp_path)
    assert result["passed"], result["first_divergence"]
    assert result["deterministic"] == ["mha/dropout (Dropout): rate 0.1 -> 0"]
    assert model.get_layer("mha").dropout == 0.1


def test_planted_gru_gate_swap_is_named(tmp_path: Path) -> None:
    """The reset and update gate blocks of the GRU's input kernel swapped in model.safetensors."""
    import keras
    import numpy as np
    from safetensors.numpy import load_file, save_file

    keras.utils.set_random_seed(8)
    seq = keras.Input((5, 4), name="seq")
    model = keras.Model(seq, keras.layers.Dense(2, name="head")(keras.layers.GRU(3, name="rnn")(seq)), name="gru")

    def plant(model_py: Path) -> None:
        path = model_py.with_name("model.safetensors")
        weights = load_file(str(path))
        w = weights["rnn.weight_ih_l0"]
        weights["rnn.weight_ih_l0"] = np.concatenate([w[3:6], w[0:3], w[6:]])
        save_file(weights, str(path))

    result = run_check(model, tmp_path, plant=plant)
    assert not result["passed"]
    assert result["first_divergence"].startswith("Keras layer 'rnn/gru_cell', weight 'kernel'")


def _resnet_stem(keras: Any) -> Any:
    """ResNet50's stem (padding folded into conv1 and into pool1's max pooling) and one residual block."""
    keras.utils.set_random_seed(3)
    layers = keras.layers
    image = layers.Input((32, 32, 3), name="image")
    x = layers.ZeroPadding2D(3, name="conv1_pad")(image)
    x = layers.Conv2D(8, 7, strides=2, name="conv1_conv")(x)
    x = layers.BatchNormalization(name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    y = layers.Conv2D(8, 3, padding="same", name="block_conv")(x)
    y = layers.BatchNormalization(name="block_bn")(y)
    x = layers.Activation("relu", name="block_out")(layers.Add(name="block_add")([x, y]))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(image, layers.Dense(4, name="head")(x), name="resnet_stem")


def test_resnet_stem_with_folded_padding_passes(tmp_path: Path) -> None:
    import keras

    result = run_check(_resnet_stem(keras), tmp_path)
    assert result["passed"], result["first_divergence"]
    text = (tmp_path / "model.py").read_text()
    assert "ZeroPad" not in text and "F.pad(" not in text, "both paddings are folded"
    # torch's -inf max-pool padding routes the gradient as Keras's zero padding does (ties at 0
    # after the ReLU reach a ReLU at rest or the padding: nothing either way)
    rows = {(r["layer"], r["weight"]): r for r in result["weights"]}
    assert rows[("conv1_conv", "kernel")]["grad_inference"]["max_in_spread"] < 1e-9
    # both halves in float64: what is left is rounding far below a translation fault
    assert result["precision"] == {"keras": "float64", "torch": "float64", "why": ""}
    print(result["worst"])
    assert max(result["worst"].values()) < 1e-8, result["worst"]


def test_module_that_cannot_run_in_float64_is_checked_in_float32(tmp_path: Path) -> None:
    def plant(model_py: Path) -> None:  # a float32-only forward: harmless in float32, fails in float64
        text = model_py.read_text()
        model_py.write_text(
            text.replace(
                "    def forward(self, image):\n", "    def forward(self, image):\n        image = image.float()\n", 1
            )
        )

    result = run_check(seed_cnn(), tmp_path, plant=plant)
    assert result["precision"]["keras"] == "float64" and result["precision"]["torch"] == "float32"
    assert "does not run in float64" in result["precision"]["why"], result["precision"]
    assert result["passed"] and result["tolerance"]["atol"] == 2e-3, result["first_divergence"]


def test_model_keras_cannot_rebuild_in_float64_is_checked_in_float32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.training import tf_side

    # the path taken by models whose config does not rebuild them (custom classes without get_config)
    monkeypatch.setattr(tf_side, "float64_clone", lambda model: (None, "not rebuilt from its config"))
    result = run_check(seed_cnn(), tmp_path)
    assert result["precision"] == {"keras": "float32", "torch": "float32", "why": "not rebuilt from its config"}
    assert result["passed"], result["first_divergence"]
    assert 0 < result["worst"]["grad_inference"] < 1e-4  # float32 rounding, inside the float32 tolerance


def test_float64_model_that_fails_in_tensorflow_falls_back_to_float32(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.training import tf_side

    class Broken:  # stands for a float64 model one of whose ops has no float64 kernel
        def __init__(self, model: Any) -> None:
            self.input, self.variables = getattr(model, "input", None), model.variables
            self.trainable_variables = model.trainable_variables

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            raise TypeError("Value passed to parameter 'input' has DataType float64 not in list of allowed values")

    monkeypatch.setattr(tf_side, "float64_clone", lambda model: (Broken(model), ""))
    result = run_check(seed_cnn(), tmp_path)
    assert result["precision"]["keras"] == "float32", result["precision"]
    assert result["precision"]["why"].startswith("the float64 model does not run in TensorFlow (TypeError")
    assert result["passed"], result["first_divergence"]
