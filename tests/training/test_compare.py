"""Per-weight comparison of the two training halves: float64 and float32 tolerances, changes."""

from __future__ import annotations

from typing import Any

import numpy as np

from pipeline.training.compare import FLOAT32, FLOAT64, compare, tolerance_for


def _halves(shift: float) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One 4x3 kernel; torch's inference-mode gradient is Keras's plus ``shift`` spreads at one element."""
    rng = np.random.default_rng(0)
    before = rng.normal(size=(4, 3)).astype(np.float32)
    grad = rng.normal(size=(4, 3))
    tf: dict[str, Any] = {"before/k": before, "delta/k": (-0.1 * grad).astype(np.float32)}
    tf["index/w"] = np.arange(12).reshape(4, 3).T  # torch holds the kernel transposed
    for check in ("grad_inference", "grad_training"):
        tf[f"{check}/k"] = grad
    for mode in ("inference", "training", "fit"):
        tf[f"loss/{mode}"] = np.asarray(1.0)
    torch = {k.replace("/k", "/w"): v.T.copy() for k, v in tf.items() if k.startswith(("grad_", "delta/"))}
    torch |= {f"loss/{mode}": np.asarray(1.0) for mode in ("inference", "training", "fit")}
    torch["grad_inference/w"][1, 2] += shift * np.std(grad)
    return tf, torch, {"w": before.T.copy()}


def _row(shift: float, tol: Any) -> dict[str, Any]:
    tf, torch, torch_before = _halves(shift)
    info = {"graph_order": ["k"], "trainable": {"k": True}, "outputs": 0}
    return compare(tf, torch, torch_before, {"w": "k"}, info, tol)["weights"][0]


def test_float64_tolerance_catches_what_float32_rounding_would_hide() -> None:
    assert _row(0.0, FLOAT64)["passed"]
    small = 10 * FLOAT64.atol  # far above float64 rounding, below float32's
    assert not _row(small, FLOAT64)["grad_inference"]["passed"]
    assert _row(small, FLOAT32)["grad_inference"]["passed"]
    assert not _row(5 * FLOAT32.atol, FLOAT32)["grad_inference"]["passed"]


def test_only_the_gradients_keras_computed_are_compared() -> None:
    row = _row(0.0, FLOAT64)  # no compiled loss: no fit-loss gradient on either side
    assert "grad_fit" not in row and row["update"]["passed"] and row["update"]["max_in_spread"] == 0.0


def test_a_wrong_change_fails_the_update() -> None:
    tf, torch, torch_before = _halves(0.0)
    torch["delta/w"] = torch["delta/w"] * 1.01  # a learning rate one percent off
    info = {"graph_order": ["k"], "trainable": {"k": True}, "outputs": 0}
    result = compare(tf, torch, torch_before, {"w": "k"}, info, FLOAT64)
    assert not result["passed"] and "change in one optimizer step" in result["first_divergence"]


def test_tolerance_follows_both_precisions() -> None:
    assert tolerance_for({"precision": "float64"}, {"precision": "float64"}) is FLOAT64
    assert tolerance_for({"precision": "float64"}, {"precision": "float32"}) is FLOAT32
    assert tolerance_for({"precision": "float32"}, {"precision": "float32"}) is FLOAT32
