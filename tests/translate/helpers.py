"""Translate small Keras models and run their model.py against TensorFlow, in the test process.

``model.py`` source is executed as a fresh module and loaded with the translator's state dict
(strictly: every key present, none extra); outputs are compared with Keras's on random inputs.
The clean-process run (no TensorFlow, Keras, ONNX or this package) has its own test.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tests.models import _randomize
from tests.translate.harness import variable_path


@dataclass
class Checked:
    code: Any  # pipeline.translate.codegen.ModelCode
    module: torch.nn.Module
    max_error: float


def module_from(code: Any) -> torch.nn.Module:
    """The class in ``code.source``, with ``code.weights`` loaded strictly, in eval mode."""
    namespace = types.ModuleType("translated_model")
    exec(compile(code.source, "model.py", "exec"), namespace.__dict__)
    model = getattr(namespace, code.class_name)()
    state = {k: torch.from_numpy(np.array(v)) for k, v in code.weights.items()}
    model.load_state_dict(state, strict=True)
    return model.eval()


def inputs_for(model: Any, rng: np.random.Generator, batch: int = 2) -> list[np.ndarray]:
    arrays = []
    for tensor in model.inputs:
        shape = [batch if d is None else int(d) for d in tensor.shape]
        dtype = str(getattr(tensor.dtype, "name", tensor.dtype))
        if dtype.startswith("int"):
            arrays.append(rng.integers(0, 5, shape).astype(dtype))
        else:
            arrays.append(rng.normal(0.0, 1.0, shape).astype(np.float32))
    return arrays


def check(
    model: Any, rng: np.random.Generator, *, atol: float = 1e-5, randomize: bool = True, **kwargs: Any
) -> Checked:
    """Translate ``model``, run both, assert the outputs match and every Keras weight is mapped."""
    from pipeline.translate import translate_model

    if randomize:
        _randomize(model, seed=int(rng.integers(1 << 30)))
    code = translate_model(model, **kwargs)
    module = module_from(code)
    xs = inputs_for(model, rng)
    expected = model(xs if len(xs) > 1 else xs[0], training=False)
    fed = xs
    if kwargs.get("layout") == "channels_first":  # image inputs go in NCHW
        fed = [np.ascontiguousarray(np.moveaxis(x, -1, 1)) if x.ndim >= 3 and x.dtype.kind == "f" else x for x in xs]
    with torch.no_grad():
        got = module(*[torch.from_numpy(x) for x in fed])
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected)
        pairs = [(got[k], expected[k]) for k in expected]
    else:
        expected = list(expected) if isinstance(expected, list | tuple) else [expected]
        got = list(got) if isinstance(got, list | tuple) else [got]
        assert len(got) == len(expected)
        pairs = list(zip(got, expected, strict=True))
    worst = 0.0
    for value, reference in pairs:
        reference = np.asarray(reference)
        if kwargs.get("layout") == "channels_first" and reference.ndim >= 3:
            reference = np.moveaxis(reference, -1, 1)
        assert tuple(value.shape) == reference.shape
        worst = max(worst, float(np.abs(value.numpy() - reference).max()))
    assert worst <= atol, f"max abs error {worst} > {atol}\n{code.source}"
    check_weights(model, code, module)
    return Checked(code, module, worst)


def check_weights(model: Any, code: Any, module: torch.nn.Module) -> None:
    """Every Keras weight is mapped once; trainable counts agree; mapped values are the Keras ones."""
    paths = {variable_path(v) for v in model.weights}
    mapped = set(code.weight_map.values())
    assert mapped <= paths, mapped - paths
    unmapped = {p for p in paths - mapped if not p.endswith("/count")}  # Normalization's adapt counter
    assert unmapped == set(), f"Keras weights not in the state dict: {unmapped}"
    keras_trainable = sum(int(np.prod(v.shape)) for v in model.trainable_weights)
    torch_trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    assert torch_trainable == keras_trainable
    values = {variable_path(v): np.asarray(v.numpy()) for v in model.weights}
    for key, path in code.weight_map.items():
        assert code.weights[key].size == values[path].size, key


def one_layer(layer: Any, shape: tuple[int, ...], dtype: str = "float32", library: Any = None) -> Any:
    """A functional model around one layer call on an input of ``shape`` (no batch)."""
    if library is None:
        import keras as library
    inp = library.Input(shape, dtype=dtype, name="x")
    return library.Model(inp, layer(inp), name="one_layer")
