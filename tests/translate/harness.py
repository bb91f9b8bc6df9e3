"""Check translation entries against TensorFlow: many small Keras models per process.

A test module (listed in ``FAMILIES``) defines ``CASES`` (name -> builder of (model, inputs), run
in a TensorFlow process) and binds :func:`family_tests`. The first call runs, for every
family at once, two subprocesses: the TensorFlow side builds every case, runs Keras on its
inputs, takes Keras's gradients (``tf.GradientTape``) and writes ``model.py`` /
``model.safetensors`` with the translator; the torch side loads each ``model.py`` where
TensorFlow, Keras and ``pipeline`` cannot be imported, runs it, takes its gradients, runs
``reset_parameters()`` and a training-mode forward, and counts parameters. The comparison
happens in the test process, with numpy only.

Run as ``python -m tests.translate.harness tf|torch <folder>``.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


FAMILIES = tuple(
    f"tests.translate.test_{name}"
    for name in ("recurrent", "embedding", "attention", "normalization", "wrappers", "ops")
)


def tf_side(folder: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    from safetensors.numpy import save_file

    from pipeline.translate import translate_model

    summary: dict[str, Any] = {}
    keras.utils.set_random_seed(0)
    all_cases = {}
    for module_name in FAMILIES:
        module = importlib.import_module(module_name)
        all_cases.update({f"{module_name.rsplit('_', 1)[-1]}.{n}": b for n, b in module.CASES.items()})
    for name, build in all_cases.items():
        out = folder / name
        out.mkdir(parents=True, exist_ok=True)
        info: dict[str, Any] = {}
        try:
            model, inputs = build()
            expected = model(inputs if len(inputs) > 1 else inputs[0], training=False)
            flat = expected if isinstance(expected, list | tuple) else [expected]
            np.savez(out / "inputs.npz", *inputs)
            np.savez(out / "expected.npz", *[np.asarray(e) for e in flat])
            info["keras_trainable"] = {variable_path(v): list(v.shape) for v in model.trainable_weights}
            info["keras_non_trainable"] = {variable_path(v): list(v.shape) for v in model.non_trainable_weights}
            code = translate_model(model)
            (out / "model.py").write_text(code.source, encoding="utf-8")
            save_file({k: np.ascontiguousarray(v) for k, v in code.weights.items()}, str(out / "model.safetensors"))
            info["weight_map"] = code.weight_map
            info["buffers"] = sorted(code.buffers)
            info["methods"] = [row["method"] for row in code.layers]
            _gradients(model, inputs, out)
        except Exception as exc:  # recorded; the test of this case fails with the message
            info["error"] = f"{type(exc).__name__}: {exc}"
            info["trace"] = traceback.format_exc()[-3000:]
        summary[name] = info
    (folder / "tf.json").write_text(json.dumps(summary), encoding="utf-8")


def _loss(outputs: list[Any], square: Any, mean: Any) -> Any:
    """The loss both sides differentiate: the mean square of every float output, summed."""
    floats = [
        o for o in outputs if getattr(o.dtype, "is_floating", None) or getattr(o.dtype, "is_floating_point", None)
    ]
    return sum(mean(square(o)) for o in floats)


def _gradients(model: Any, inputs: list[np.ndarray], out: Path) -> None:
    """Keras's gradients of :func:`_loss` per variable path, and where each torch weight's elements
    come from: the model translated once more with every variable holding its own element indices."""
    import tensorflow as tf

    from pipeline.translate import translate_model

    tensors = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        result = model(tensors if len(tensors) > 1 else tensors[0], training=False)
        flat = list(result) if isinstance(result, list | tuple) else [result]
        loss = _loss(flat, tf.square, tf.reduce_mean)
    variables = model.trainable_weights
    grads = tape.gradient(loss, variables) if variables else []
    np.savez(
        out / "keras_grads.npz",
        **{
            variable_path(v): np.zeros(v.shape, np.float32) if g is None else np.asarray(tf.convert_to_tensor(g))
            for v, g in zip(variables, grads, strict=True)
        },
    )
    saved = model.get_weights()
    model.set_weights([np.arange(w.size, dtype=np.float32).reshape(w.shape) for w in saved])
    try:
        indexed = translate_model(model)
    finally:
        model.set_weights(saved)
    np.savez(out / "index_maps.npz", **{k: np.asarray(v) for k, v in indexed.weights.items()})


def randomize(model: Any, seed: int = 7, std: float = 0.5) -> Any:
    """``model`` with every weight drawn at random (biases too: a misplaced one shows)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, std, w.shape).astype(w.dtype) for w in model.get_weights()])
    return model


def variable_path(variable: Any) -> str:
    """A Keras variable's path (Keras 3 ``variable.path``; tf_keras: its name without ``:0``)."""
    path = getattr(variable, "path", None)
    if path:
        return str(path)
    name = str(variable.name)
    return name[:-2] if name.endswith(":0") else name


BLOCKED = ("tensorflow", "keras", "tf_keras", "onnx", "onnx2torch", "onnxruntime", "pipeline")


def torch_side(folder: Path) -> None:
    for name in BLOCKED:
        sys.modules[name] = None  # type: ignore[assignment]
    import torch

    summary: dict[str, Any] = {}
    for case in sorted(p for p in folder.iterdir() if (p / "model.py").is_file()):
        info: dict[str, Any] = {}
        try:
            spec = importlib.util.spec_from_file_location(f"model_{case.name}", case / "model.py")
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            model = module.load(str(case / "model.safetensors"))
            data = np.load(case / "inputs.npz")
            args = [torch.from_numpy(data[f"arr_{i}"]) for i in range(len(data.files))]
            with torch.no_grad():
                result = model(*args)
            flat = flat_outputs(result)
            np.savez(case / "actual.npz", *[t.numpy() for t in flat])
            info["trainable"] = {n: list(p.shape) for n, p in model.named_parameters() if p.requires_grad}
            info["frozen"] = {n: list(p.shape) for n, p in model.named_parameters() if not p.requires_grad}
            model.zero_grad()
            loss = _loss(flat_outputs(model(*args)), torch.square, torch.mean)
            if isinstance(loss, torch.Tensor) and loss.requires_grad:
                loss.backward()
            grads = {n: p.grad.numpy() for n, p in model.named_parameters() if p.grad is not None}
            np.savez(case / "torch_grads.npz", **grads)
            model.zero_grad()
            model.train()
            torch.manual_seed(0)
            out = model(*args)
            loss = sum(t.float().square().mean() for t in ([out] if isinstance(out, torch.Tensor) else out))
            if loss.requires_grad:
                loss.backward()
            info["grads"] = sorted(n for n, p in model.named_parameters() if p.grad is not None)
            model.reset_parameters()
            info["reset_ok"] = True
        except Exception as exc:
            info["error"] = f"{type(exc).__name__}: {exc}"
            info["trace"] = traceback.format_exc()[-3000:]
        summary[case.name] = info
    (folder / "torch.json").write_text(json.dumps(summary), encoding="utf-8")


def flat_outputs(result: Any) -> list[Any]:
    if isinstance(result, dict):
        return list(result.values())
    return list(result) if isinstance(result, list | tuple) else [result]


def _run(*args: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, "-m", "tests.translate.harness", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"harness {args[0]} failed:\n{proc.stderr[-4000:]}")


def family_tests(module_name: str, cases: dict[str, Any], tol: float = 2e-5) -> tuple[Any, Any]:
    """The module fixture ``translated`` (this family's results) and the test run on each case whose
    name does not start with ``declined``: a family's test module binds both,
    ``translated, test_<family> = harness.family_tests(__name__, CASES)``."""
    import pytest

    @pytest.fixture(scope="module")
    def translated() -> dict[str, Any]:
        return results(module_name)

    @pytest.mark.parametrize("case", sorted(c for c in cases if not c.startswith("declined")))
    def test_case(translated: dict[str, Any], case: str) -> None:
        error = check(translated[case], tol=tol)
        print(f"max_error {case} {error:.3g}")

    return translated, test_case


def results(module_name: str) -> dict[str, dict[str, Any]]:
    """The results of the cases of ``module_name`` (``__name__`` of a test module)."""
    prefix = module_name.rsplit("_", 1)[-1] + "."
    return {k[len(prefix) :]: v for k, v in _all().items() if k.startswith(prefix)}


@cache
def _all() -> dict[str, dict[str, Any]]:
    """Run the TensorFlow side, then the torch side, once for the cases of every family."""
    path = Path(tempfile.mkdtemp(prefix="translate_layers_"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    _run("tf", str(path))
    _run("torch", str(path))
    tf_info = json.loads((path / "tf.json").read_text(encoding="utf-8"))
    torch_info = json.loads((path / "torch.json").read_text(encoding="utf-8"))
    merged = {}
    for name, info in tf_info.items():
        merged[name] = {"tf": info, "torch": torch_info.get(name, {}), "folder": str(path / name)}
    return merged


def check(result: dict[str, Any], tol: float = 1e-5) -> float:
    """Assert one case: it translated, ran, matches TensorFlow within ``tol`` (relative to the
    output's scale), maps every Keras trainable variable, has Keras's trainable count, and each
    mapped torch weight's gradient equals Keras's for the same elements. Returns the maximum
    absolute output error."""
    tf_info, torch_info = result["tf"], result["torch"]
    assert "error" not in tf_info, tf_info.get("trace", tf_info.get("error"))
    assert "error" not in torch_info, torch_info.get("trace", torch_info.get("error"))
    assert all(m == "direct" for m in tf_info["methods"]), tf_info["methods"]
    folder = Path(result["folder"])
    expected, actual = np.load(folder / "expected.npz"), np.load(folder / "actual.npz")
    assert len(expected.files) == len(actual.files)
    worst = 0.0
    for key in expected.files:
        e, a = expected[key], actual[key]
        assert e.shape == a.shape, (key, e.shape, a.shape)
        err = float(np.max(np.abs(e.astype(np.float64) - a.astype(np.float64)))) if e.size else 0.0
        scale = max(1.0, float(np.max(np.abs(e)))) if e.size else 1.0
        assert err <= tol * scale, f"{key}: max error {err:.3g} (scale {scale:.3g})"
        worst = max(worst, err)
    keras = tf_info["keras_trainable"]
    mapped = set(tf_info["weight_map"].values())
    assert mapped >= set(keras), f"Keras variables without a torch weight: {set(keras) - mapped}"
    trainable = torch_info["trainable"]
    assert sum(int(np.prod(s)) for s in trainable.values()) == sum(int(np.prod(s)) for s in keras.values())
    assert set(trainable) <= set(tf_info["weight_map"]), set(trainable) - set(tf_info["weight_map"])
    assert set(torch_info["grads"]) == set(trainable), set(trainable) ^ set(torch_info["grads"])
    assert torch_info.get("reset_ok")
    check_gradients(folder, tf_info["weight_map"], tol)
    return worst


def check_gradients(folder: Path, weight_map: dict[str, str], tol: float) -> None:
    """Each torch weight's gradient equals Keras's gradient of the elements it was made from."""
    keras_grads, torch_grads = np.load(folder / "keras_grads.npz"), np.load(folder / "torch_grads.npz")
    index = np.load(folder / "index_maps.npz")
    for key, path in weight_map.items():
        if key not in torch_grads.files or path not in keras_grads.files:
            continue
        where = index[key]
        reference = keras_grads[path].reshape(-1)
        if not np.array_equal(where, np.round(where)) or where.max(initial=0) >= reference.size:
            continue  # not a plain rearrangement of the Keras variable
        expected = reference[where.astype(np.int64)]
        err = float(np.max(np.abs(expected - torch_grads[key]), initial=0.0))
        scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
        assert err <= 10 * tol * scale, f"gradient of {key} ({path}): max error {err:.3g}"


if __name__ == "__main__":
    side, target = sys.argv[1], Path(sys.argv[2])
    if side == "tf":
        tf_side(target)
    else:
        torch_side(target)
