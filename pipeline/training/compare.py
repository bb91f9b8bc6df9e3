"""Compare the two halves of the training check, per Keras weight, in Keras layout.

Torch's gradients and updates are brought to each Keras variable's layout with the index maps of
:func:`pipeline.training.index_maps.index_maps` (an element used twice in torch adds its gradients, as
autograd does for a shared weight); where a layer has no map (ONNX fallback) the map is found by
matching the weight values over the axis permutations of the Keras variable.

Each comparison is ``|torch - keras| <= atol * spread + rtol * |keras|`` with ``spread`` the standard
deviation of the Keras values (as the forward tolerances are): gradients in inference mode, in
training mode and of the fit loss; the change one optimizer step made to every variable (the
change, not the value, so a BatchNorm momentum or variance estimator that is off shows at its true
size); the outputs after the step. Both halves run in float64 where they can
(:mod:`pipeline.training.float64`), so the tolerance is :data:`FLOAT64`; :data:`FLOAT32` where
either could not. A failure names the Keras layer and weight that diverges first in graph order.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TrainingTolerance:
    """``|torch - keras| <= atol * spread + rtol * |keras|`` for gradients, one-step changes and outputs."""

    atol: float
    rtol: float
    loss_rtol: float


# Both halves in float64: rounding is ~1e-12 of a spread even where BatchNorm's batch statistics
# cancel. What remains are constants Keras rounds to float32 inside its float64 computation: Adam
# casts beta_2 to a float32 tensor first, and sqrt(1 - 0.999f) is 6.4e-6 smaller than sqrt(1 -
# 0.999) (model.py's): the first step of Adam differs by 6.9e-6 of its spread; hyper-parameters read
# back from float32 configs (an L2 factor of 0.009999999776482582): 5e-8. Planted faults: 1e-2 and
# more. The tolerance sits between, with room for both.
FLOAT64 = TrainingTolerance(atol=5e-5, rtol=1e-5, loss_rtol=1e-6)
# Either half in float32 (a model Keras cannot rebuild in float64, a module that cannot run in
# it): two frameworks' float32 rounding; the test models stay within 1e-4 of the spread.
FLOAT32 = TrainingTolerance(atol=2e-3, rtol=1e-3, loss_rtol=1e-4)
GRADS = ("grad_inference", "grad_training", "grad_fit")
LEAST = 1e-2


def tolerance_for(tf_info: dict[str, Any], torch_info: dict[str, Any]) -> TrainingTolerance:
    """The float64 tolerance when both halves ran in float64, else the float32 one."""
    wide = tf_info.get("precision") == "float64" and torch_info.get("precision") == "float64"
    return FLOAT64 if wide else FLOAT32


def value_map(keras_value: np.ndarray, torch_value: np.ndarray) -> np.ndarray | None:
    """Flat Keras indices for each torch element, by matching values over axis permutations."""
    if keras_value.size != torch_value.size:
        return None
    index = np.arange(keras_value.size).reshape(keras_value.shape)
    for perm in itertools.permutations(range(keras_value.ndim)) if keras_value.ndim <= 5 else [None]:
        moved = keras_value.transpose(perm) if perm is not None else keras_value
        if moved.size and np.array_equal(moved.reshape(torch_value.shape), torch_value):
            return (index.transpose(perm) if perm is not None else index).reshape(torch_value.shape)
    return None


CHUNK = 1 << 22  # elements per pass: VGG16's fc1 kernel (103 million) in float64 at once was 5 GB


def _errors(
    got: np.ndarray, want: np.ndarray, tol: TrainingTolerance, least: float = 0.0, floor: Any = 0.0
) -> dict[str, Any]:
    """Errors of ``got`` against ``want`` in units of ``want``'s spread (at least ``least``);
    ``floor``: a further allowance per element (float32 rounding of the values an update changed)."""
    got, want = np.ravel(got), np.ravel(want)
    floor = np.ravel(floor)
    if want.size == 0:
        return {"max_abs": 0.0, "spread": 0.0, "max_in_spread": 0.0, "max_rel": 0.0, "passed": True}
    chunks = range(0, want.size, CHUNK)
    mean = sum(float(np.sum(want[i : i + CHUNK], dtype=np.float64)) for i in chunks) / want.size
    square = sum(float(np.sum((want[i : i + CHUNK].astype(np.float64) - mean) ** 2)) for i in chunks)
    peak = max(float(np.max(np.abs(want[i : i + CHUNK]))) for i in chunks)
    spread = max(float(np.sqrt(square / want.size)), least) or peak or 1e-30
    ok, max_abs, max_rel = True, 0.0, 0.0
    for i in chunks:
        a, b = got[i : i + CHUNK].astype(np.float64), want[i : i + CHUNK].astype(np.float64)
        diff, magnitude = np.abs(a - b), np.abs(b)
        allowed = tol.atol * spread + tol.rtol * magnitude + (floor[i : i + CHUNK] if floor.size > 1 else floor)
        ok = ok and bool(np.all(diff <= allowed)) and bool(np.all(np.isfinite(a)))
        max_abs = max(max_abs, float(diff.max()))
        max_rel = max(max_rel, float((diff / np.maximum(magnitude, spread)).max()))
    return {
        "max_abs": max_abs,
        "spread": spread,
        "max_in_spread": max_abs / spread,
        "max_rel": max_rel,
        "passed": ok,
    }


def _layer_weight(path: str) -> tuple[str, str]:
    layer, _, weight = path.rpartition("/")
    return layer or path, weight or path


def compare(
    tf: Mapping[str, np.ndarray],
    torch: Mapping[str, np.ndarray],
    torch_before: Mapping[str, np.ndarray],
    weight_map: dict[str, str],
    info: dict[str, Any],
    tol: TrainingTolerance = FLOAT64,
) -> dict[str, Any]:
    """The ``training`` section of the report (without timings)."""
    keys_of: dict[str, list[str]] = {}
    for key, path in weight_map.items():
        keys_of.setdefault(path, []).append(key)
    order = [p for p in info.get("graph_order", []) if f"before/{p}" in tf]
    order += [k[len("before/") :] for k in tf if k.startswith("before/") and k[len("before/") :] not in order]
    trainable = set(info.get("trainable", {}))
    maps: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for key in weight_map:
        index = tf.get(f"index/{key}")
        if index is not None and not np.any(index >= 0):  # the coded translation did not reach it
            index = None
        if index is None and key in torch_before and f"before/{weight_map[key]}" in tf:
            index = value_map(tf[f"before/{weight_map[key]}"], torch_before[key])
        if index is not None:
            maps[key] = index

    def to_keras(
        path: str, arrays: Mapping[str, np.ndarray], prefix: str, add: bool
    ) -> tuple[np.ndarray, np.ndarray] | None:
        size = tf[f"before/{path}"].size
        values, covered = np.zeros(size), np.zeros(size, bool)
        found = False
        for key in keys_of.get(path, []):
            if f"{prefix}/{key}" not in arrays or key not in maps:
                continue
            index, value = maps[key].ravel(), np.asarray(arrays[f"{prefix}/{key}"], np.float64).ravel()
            keep = index >= 0
            if not keep.all():
                index, value = index[keep], value[keep]
            if add:  # (bincount sums repeated indices as np.add.at does, many times faster)
                values += np.bincount(index, weights=value, minlength=size)
            else:
                values[index] = value
            covered[index] = True
            found = True
        return (values, covered) if found else None

    def delta(path: str) -> np.ndarray:
        return np.ravel(tf[f"delta/{path}"])

    # A weight whose gradient cancels out (a bias before BatchNorm in training mode) has only
    # rounding noise: spreads count as at least LEAST of the largest spread of the same check.
    least = {
        c: LEAST * max([float(np.std(tf[f"{c}/{p}"], dtype=np.float64)) for p in order if f"{c}/{p}" in tf] or [0.0])
        for c in GRADS
    }
    least["update"] = LEAST * max(
        [float(np.std(delta(p), dtype=np.float64)) for p in order if f"delta/{p}" in tf] or [0.0]
    )
    narrow = tol.atol >= FLOAT32.atol

    def row_of(path: str) -> dict[str, Any]:
        layer, weight = _layer_weight(path)
        row: dict[str, Any] = {"keras": path, "layer": layer, "weight": weight, "state_keys": keys_of.get(path, [])}
        row["trainable"] = path in trainable
        for prefix in checks_of(row):
            mapped = to_keras(path, torch, prefix, add=True)
            if mapped is None:
                row[prefix] = {"passed": False, "reason": "no trainable torch parameter holds this weight"}
                continue
            row[prefix] = _errors(mapped[0], tf[f"{prefix}/{path}"], tol, least[prefix])
            if not mapped[1].all():
                row[prefix].update(passed=False, reason=f"{int((~mapped[1]).sum())} elements have no torch parameter")
        changed = to_keras(path, torch, "delta", add=False)
        if changed is not None and f"delta/{path}" in tf:
            floor = 0.0
            if narrow:  # float32 rounding of the values the step changed
                after = tf[f"before/{path}"].astype(np.float32).ravel() + tf[f"delta/{path}"].ravel()
                floor = 2 * np.spacing(np.abs(after.astype(np.float32)))
            row["update"] = _errors(changed[0], delta(path), tol, least["update"], floor)
        elif path in trainable or np.any(tf.get(f"delta/{path}", 0) != 0):
            row["update"] = {"passed": False, "reason": "not in the module's state dict"}
        row["passed"] = all(row[c]["passed"] for c in (*checks_of(row), "update") if c in row)
        return row

    def checks_of(row: dict[str, Any]) -> tuple[str, ...]:
        return tuple(c for c in GRADS if f"{c}/{row['keras']}" in tf) if row["trainable"] else ()

    # weights are compared independently: two threads (numpy's array passes release the GIL)
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        weights: list[dict[str, Any]] = list(pool.map(row_of, order))
    first: str | None = None
    for row in weights:  # the first failure in graph order
        if not row["passed"] and first is None:
            first = _first_check(row, checks_of(row))
    step = "grad_fit" if any(k.startswith("grad_fit/") for k in torch) else "grad_training"
    extra = [k.split("/", 1)[1] for k in torch if k.startswith(f"{step}/")]
    extra = [k for k in extra if weight_map.get(k) not in trainable]
    extra = [k for k in extra if np.any(torch[f"{step}/{k}"] != 0) or k not in weight_map]
    for key in extra:
        problems.append(f"torch parameter '{key}' is trainable but holds no trainable Keras weight")
    outputs = _outputs(tf, torch, "after", int(info.get("outputs", 0)), tol)
    training_outputs = _outputs(tf, torch, "train_out", int(info.get("outputs", 0)), tol)
    losses = {}
    for mode in ("inference", "training", "fit"):
        a, b = float(torch[f"loss/{mode}"]), float(tf[f"loss/{mode}"])
        losses[mode] = {"torch": a, "keras": b, "passed": abs(a - b) <= tol.loss_rtol * max(abs(b), 1e-6) + 1e-7}
    passed = first is None and not problems and all(o["passed"] for o in outputs + training_outputs)
    passed = passed and all(v["passed"] for v in losses.values())
    if first is None and not passed:
        first = problems[0] if problems else _output_or_loss(outputs, losses)
    return {
        "passed": bool(passed),
        "first_divergence": first,
        "weights": weights,
        "outputs_after_step": outputs,
        "outputs_training_mode": training_outputs,
        "losses": losses,
        "problems": problems,
        "tolerance": {"atol": tol.atol, "rtol": tol.rtol, "loss_rtol": tol.loss_rtol},
        "worst": _worst(weights),
    }


def _outputs(
    tf: dict[str, np.ndarray], torch: dict[str, np.ndarray], prefix: str, n: int, tol: TrainingTolerance
) -> list[dict[str, Any]]:
    found = []
    for i in range(n):
        if f"{prefix}/{i}" in tf and f"{prefix}/{i}" in torch:
            got, want = torch[f"{prefix}/{i}"], tf[f"{prefix}/{i}"]
            if got.shape != want.shape:
                found.append({"output": i, "passed": False, "reason": f"shape {got.shape} vs {want.shape}"})
            else:
                found.append({"output": i, **_errors(got, want, tol)})
    return found


def _first_check(row: dict[str, Any], checks: tuple[str, ...]) -> str:
    what = {"grad_inference": "gradient (inference mode)", "grad_training": "gradient (training mode)"}
    what |= {"grad_fit": "gradient of the fit loss", "update": "change in one optimizer step"}
    for check in (*checks, "update"):
        if check in row and not row[check]["passed"]:
            detail = row[check].get("reason") or f"max error {row[check]['max_in_spread']:.3g} of its spread"
            return f"Keras layer '{row['layer']}', weight '{row['weight']}': {what[check]} diverges ({detail})"
    return f"Keras layer '{row['layer']}', weight '{row['weight']}'"


def _output_or_loss(outputs: list[dict[str, Any]], losses: dict[str, Any]) -> str:
    for o in outputs:
        if not o["passed"]:
            return f"output {o['output']} after the optimizer step diverges"
    for mode, v in losses.items():
        if not v["passed"]:
            return f"{mode} loss differs: torch {v['torch']:.7g} vs Keras {v['keras']:.7g}"
    return "unknown"


def _worst(weights: list[dict[str, Any]]) -> dict[str, float]:
    worst: dict[str, float] = {}
    for row in weights:
        for check in ("grad_inference", "grad_training", "grad_fit", "update"):
            value = row.get(check, {}).get("max_in_spread")
            if value is not None:
                worst[check] = max(worst.get(check, 0.0), float(value))
    return worst
