"""Comparing outputs with a conformance case's expected ones, as onnx's backend tests do."""

from __future__ import annotations

import numpy as np

from pipeline import conformance


def test_compare_follows_onnx_backend_rules() -> None:
    ref = np.array([1.0, 2.0], np.float32)
    assert conformance.compare([ref], [ref + 1e-5], 1e-3, 1e-7) is None
    assert "values differ" in (conformance.compare([ref], [ref + 1.0], 1e-3, 1e-7) or "")
    assert "dtype" in (conformance.compare([ref], [ref.astype(np.float64)], 1e-3, 1e-7) or "")
    assert "shape" in (conformance.compare([ref], [ref[:1]], 1e-3, 1e-7) or "")
    assert "outputs" in (conformance.compare([ref], [], 1e-3, 1e-7) or "")
