"""The torch half of the training check (a torch worker; no TensorFlow in the process).

It loads ``model.py`` from the conversion's folder (its ``load()``: the module with
model.safetensors, as a user gets it), then does what :mod:`pipeline.training.tf_side` did, on the
same batch, projections and targets, in the same precision: gradients of the projection loss in
``eval()`` and ``train()`` mode (dropout and noise modules kept in eval, as their Keras layers ran at rate 0), the loss
``training_loss`` from model.py with its gradients, one step of ``make_optimizer(module)`` (or
SGD(0.01) on the projection loss when the Keras model is not compiled or its configuration is not
carried), the outputs after the step and each state-dict entry's change in it (``training_torch.npz``).
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.helpers import first_line
from pipeline.training.arrays import ArrayWriter
from pipeline.training.tf_side import DEFAULT_LR, TF_FILE, TF_INFO

TORCH_FILE = "training_torch.npz"
DROPOUT_CLASSES = {
    "Dropout",
    "Dropout1d",
    "Dropout2d",
    "Dropout3d",
    "AlphaDropout",
    "FeatureAlphaDropout",
    "SharedDropout",
    "GaussianNoise",
    "GaussianDropout",
}


class PlainSGD:
    """``p -= lr * grad``: Keras's SGD without momentum, for models without a compile config
    (constructing a ``torch.optim`` optimizer imports torch's compiler stack, seconds per process)."""

    def __init__(self, params: list[Any], lr: float) -> None:
        self.params, self.lr = params, lr

    def step(self) -> None:
        import torch

        with torch.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p.sub_(p.grad * self.lr)


def load_model_py(path: Path) -> Any:
    """``model.py`` as a module object (imported by path, under a private name)."""
    spec = importlib.util.spec_from_file_location(f"keras2torch_model_{abs(hash(str(path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def train_mode(module: Any) -> list[str]:
    """``module.train()`` with dropout/noise submodules in eval (rate 0, as on the Keras side)."""
    module.train()
    kept = []
    for name, sub in module.named_modules():
        if type(sub).__name__ in DROPOUT_CLASSES:
            sub.eval()
            kept.append(name)
        elif hasattr(sub, "dropout") and isinstance(sub.dropout, float) and sub.dropout > 0:
            sub.dropout = 0.0  # nn.LSTM / nn.GRU / nn.MultiheadAttention
            kept.append(name)
    return kept


def _flat(result: Any, keys: list[str] | None) -> list[Any]:
    import torch

    if isinstance(result, torch.Tensor):
        return [result]
    if isinstance(result, dict):
        return [result[k] for k in (keys or list(result))]
    return list(result)


def task(request: dict[str, Any]) -> dict[str, Any]:
    """Worker task: the torch half; request: ``workspace`` (the conversion folder), ``inputs``.

    In the precision the Keras half ran in: float64 (``module.double()``) unless Keras could not,
    or the module cannot (a fallback graph's float32 literal, an op without a float64 kernel), then
    float32, and the result says why."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    root = Path(request["workspace"])
    info = json.loads((root / TF_INFO).read_text(encoding="utf-8"))
    model_py = load_model_py(root / "model.py")
    why = ""
    if info.get("precision") == "float64":
        try:
            return _run(root, model_py, request["inputs"], info, torch.float64, "")
        except Exception as exc:  # any float64 failure falls back to float32, said why
            first = first_line(exc, 200)
            why = f"the module does not run in float64 ({type(exc).__name__}: {first})"
    return _run(root, model_py, request["inputs"], info, torch.float32, why or info.get("precision_why", ""))


def _run(
    root: Path, model_py: Any, input_names: list[str], info: dict[str, Any], dtype: Any, why: str
) -> dict[str, Any]:
    import torch
    from safetensors import safe_open

    translation = json.loads((root / "translation.json").read_text(encoding="utf-8"))
    keys = translation.get("output_keys")
    from pipeline.inputs import load_sets

    sets = load_sets(root / "inputs.npz")
    batch = sets.get("random") or next(iter(sets.values()))
    with np.load(root / TF_FILE, allow_pickle=False) as data:
        tf_arrays = {k: data[k] for k in data.files if k.startswith(("projection/", "target/"))}
    n = int(info["outputs"])

    def typed(array: np.ndarray) -> Any:
        value = torch.from_numpy(np.ascontiguousarray(array))
        return value.to(dtype) if value.is_floating_point() else value

    projs = [typed(tf_arrays[f"projection/{i}"]) if f"projection/{i}" in tf_arrays else None for i in range(n)]
    targets = [typed(tf_arrays[f"target/{i}"]) for i in range(n) if f"target/{i}" in tf_arrays]

    module = model_py.load(str(root / "model.safetensors")).to(dtype)
    named = {k: p for k, p in module.named_parameters() if p.requires_grad}
    frozen = [k for k, p in module.named_parameters() if not p.requires_grad]
    inputs = [typed(batch[name]) for name in input_names]

    def numpy(value: Any) -> np.ndarray:
        array = value.detach().numpy()
        return array.astype(np.float32) if array.dtype == np.float64 else array

    def projected(outs: list[Any]) -> Any:
        return sum((o.to(dtype) * p).sum() for o, p in zip(outs, projs, strict=True) if p is not None)

    def grads_of(loss: Any) -> dict[str, Any]:
        values = torch.autograd.grad(loss, list(named.values()), allow_unused=True)
        return {k: (torch.zeros_like(p) if g is None else g) for (k, p), g in zip(named.items(), values, strict=True)}

    def fit_loss_of(outs: list[Any]) -> Any:
        fit_targets: Any = targets[0] if len(targets) == 1 else targets
        fit_outputs: Any = outs[0] if len(outs) == 1 else tuple(outs)
        if keys:
            fit_outputs = dict(zip(keys, outs, strict=True))
            fit_targets = dict(zip(keys, targets, strict=True))
        return model_py.training_loss(module, fit_outputs, fit_targets)

    seconds: dict[str, float] = {}
    with ArrayWriter(root / TORCH_FILE) as out:
        start = time.perf_counter()
        module.eval()
        loss = projected(_flat(module(*inputs), keys))
        for k, g in grads_of(loss).items():
            out[f"grad_inference/{k}"] = numpy(g)
        out["loss/inference"] = np.asarray(loss.item())
        seconds["inference"] = time.perf_counter() - start

        use_fit = bool(info.get("fit"))
        has_fit = use_fit and hasattr(model_py, "make_optimizer") and hasattr(model_py, "training_loss")
        start = time.perf_counter()
        kept = train_mode(module)
        outs = _flat(module(*inputs), keys)
        loss = projected(outs)
        for i, o in enumerate(outs):
            out[f"train_out/{i}"] = numpy(o)
        if has_fit:  # one backward, of the loss the step minimises (as the Keras half)
            fit_loss = fit_loss_of(outs)
            optimizer = model_py.make_optimizer(module)
        else:
            fit_loss = loss
            optimizer = PlainSGD(list(named.values()), DEFAULT_LR)
        for k, g in grads_of(fit_loss).items():
            out[f"{'grad_fit' if has_fit else 'grad_training'}/{k}"] = numpy(g)
            named[k].grad = g.detach()
        out["loss/training"] = np.asarray(loss.item())
        out["loss/fit"] = np.asarray(fit_loss.item())
        optimizer.step()
        for p in named.values():  # the step is taken: its gradients are on disk
            p.grad = None
        seconds["training"] = time.perf_counter() - start
        module.eval()
        with torch.no_grad():
            for i, o in enumerate(_flat(module(*inputs), keys)):
                out[f"after/{i}"] = numpy(o)
            with safe_open(str(root / "model.safetensors"), framework="pt") as weights:
                for k, v in module.state_dict().items():
                    if v.is_floating_point():  # the change, in the module's own precision (in place:
                        before = weights.get_tensor(k).reshape(v.shape)  # (a scalar may be stored as [1])
                        out[f"delta/{k}"] = numpy(v.sub_(before))  # the module is done)

    trainable = sum(p.numel() for p in named.values())
    weight_map = translation.get("weight_map") or {}
    # frozen parameters and buffers that hold no Keras weight are constants (an LSTM's second bias
    # at zero, a Normalization's given mean and variance, a fallback graph's literals)
    constants = [k for k in frozen if k not in weight_map]
    constants += [k for k, _ in module.named_buffers() if k not in weight_map and not k.endswith("num_batches_tracked")]
    frozen = [k for k in frozen if k not in constants]
    buffers = sum(b.numel() for k, b in module.named_buffers() if k in weight_map)
    return {
        "kept_in_eval": kept,
        "fit": has_fit,
        "optimizer": type(optimizer).__name__,
        "precision": "float64" if dtype == torch.float64 else "float32",
        "precision_why": why,
        "trainable_params": int(trainable),
        "non_trainable_params": int(buffers + sum(module.get_parameter(k).numel() for k in frozen)),
        "frozen_parameters": frozen,
        "constant_parameters": constants,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
