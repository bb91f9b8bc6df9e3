"""pipeline.precision: the compute dtype of Keras models and the default tolerance that follows it."""

from __future__ import annotations

import pytest

from pipeline.config import ConversionConfig, Tolerance
from pipeline.precision import compute_dtype, note, tolerance_for


@pytest.mark.parametrize(("policy", "expected"), [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")])
def test_compute_dtype_of_a_mixed_policy_model(policy: str, expected: str) -> None:
    import keras

    layer = keras.layers.Dense(3, dtype=policy)
    model = keras.Sequential([keras.Input((4,)), layer, keras.layers.Dense(2, dtype="float32")])
    assert compute_dtype(model) == expected
    assert compute_dtype(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])) is None


def test_default_tolerance_widens_but_a_configured_one_is_kept() -> None:
    default = ConversionConfig()
    widened = tolerance_for(default, "float16")("logits")
    assert widened.atol == widened.rtol == pytest.approx(2 * 2.0**-10)
    assert tolerance_for(default, "bfloat16")("logits").rtol == pytest.approx(2 * 2.0**-7)
    assert tolerance_for(default, None)("logits") == Tolerance()
    assert "widened" in (note(default, "float16") or "")
    strict = ConversionConfig(tolerance=Tolerance(atol=1e-6, rtol=1e-6), tolerances={"x": Tolerance(atol=0.5)})
    assert tolerance_for(strict, "float16")("logits") == Tolerance(atol=1e-6, rtol=1e-6)
    assert tolerance_for(strict, "float16")("x") == Tolerance(atol=0.5)
