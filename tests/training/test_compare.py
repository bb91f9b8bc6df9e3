"""Per-weight comparison of the two training halves: the float32 rounding allowance of gradients."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from pipeline.training.compare import NOISE_FACTOR, TrainingTolerance, compare


def _halves(shift: float, noise: float | None) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """One 4x3 kernel; torch's inference-mode gradient is Keras's plus ``shift`` spreads at one element."""
    rng = np.random.default_rng(0)
    before = rng.normal(size=(4, 3)).astype(np.float32)
    grad = rng.normal(size=(4, 3))
    tf: dict[str, Any] = {"before/k": before, "value/k": before - 0.1 * grad.astype(np.float32)}
    tf["index/w"] = np.arange(12).reshape(4, 3).T  # torch holds the kernel transposed
    for check in ("grad_inference", "grad_training", "grad_fit"):
        tf[f"{check}/k"] = grad
    for mode in ("inference", "training", "fit"):
        tf[f"loss/{mode}"] = np.asarray(1.0)
    torch = {k.replace("/k", "/w"): v.T.copy() for k, v in tf.items() if k.startswith(("grad_", "loss/"))}
    torch |= {f"loss/{mode}": np.asarray(1.0) for mode in ("inference", "training", "fit")}
    torch["value/w"] = tf["value/k"].T.copy()
    torch["grad_inference/w"][1, 2] += shift * np.std(grad)
    if noise is not None:
        torch["noise_inference/w"] = np.full((3, 4), noise * np.std(grad))
    return tf, torch, {"w": before.T.copy()}


def _row(shift: float, noise: float | None) -> dict[str, Any]:
    tf, torch, torch_before = _halves(shift, noise)
    info = {"graph_order": ["k"], "trainable": {"k": True}, "outputs": 0}
    return compare(tf, torch, torch_before, {"w": "k"}, info)["weights"][0]["grad_inference"]


def test_inference_gradient_within_its_rounding_noise_passes() -> None:
    atol = TrainingTolerance().atol
    assert not _row(5 * atol, None)["passed"]  # no float64 replay: only the fixed tolerance
    row = _row(5 * atol, atol)  # torch's own float32 noise of the gradient is one atol
    assert row["passed"] and row["noise_in_spread"] == pytest.approx(NOISE_FACTOR * atol)
    assert not _row(20 * atol, atol)["passed"]  # beyond ten times the noise: a real difference


def test_keras_rounding_noise_widens_the_inference_allowance() -> None:
    atol = TrainingTolerance().atol
    tf, torch, torch_before = _halves(20 * atol, atol / 10)
    info = {"graph_order": ["k"], "trainable": {"k": True}, "outputs": 0}
    assert not compare(tf, torch, torch_before, {"w": "k"}, info)["weights"][0]["grad_inference"]["passed"]
    # Keras's float32 gradient is off its float64 replay by two atol: ten times torch's plus Keras's
    tf["keras_noise_inference/k"] = np.full((4, 3), 2 * atol * np.std(tf["grad_inference/k"]))
    row = compare(tf, torch, torch_before, {"w": "k"}, info)["weights"][0]["grad_inference"]
    assert row["passed"] and row["keras_noise_in_spread"] == pytest.approx(2 * atol)
