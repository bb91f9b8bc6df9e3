"""lower_conditionals: tf.cond reaches tf2onnx as Switch/Merge, whose If conversion keeps branch shapes."""

from __future__ import annotations

import numpy as np
import pytest

import pipeline.fixups as fixups
from pipeline.errors import ExportError
from pipeline.fixups.base import FixupContext
from pipeline.fixups.lower_conditionals import lower_conditionals
from tests import zoo_models
from tests.fixups.tracing import export, run_onnx, run_traced, trace


def _inputs(sign: float) -> tuple[np.ndarray, np.ndarray]:
    image = np.random.default_rng(0).uniform(-1, 1, (2, 8, 8, 3)).astype(np.float32)
    return image, np.full((2, 1), sign, np.float32)


def test_fires_on_tf_cond_and_keeps_both_branches() -> None:
    function = trace(zoo_models.conditional())
    lowered, changes = lower_conditionals(function, FixupContext())
    assert changes == ["lowered 1 tf.cond conditional(s) to Switch/Merge"]
    ops = {n.op for n in lowered.graph.as_graph_def().node}
    assert {"Switch", "Merge"} <= ops and not ops & {"If", "StatelessIf"}
    for sign in (1.0, -1.0):
        np.testing.assert_allclose(
            run_traced(lowered, *_inputs(sign)), run_traced(function, *_inputs(sign)), rtol=1e-6, atol=1e-6
        )


def test_declines_on_loops() -> None:
    """A while loop (a recurrent layer) is control flow too, but stays functional."""
    function = trace(zoo_models.stacked())
    same, changes = lower_conditionals(function, FixupContext())
    assert changes == [] and same is function


def test_onnxruntime_matches_tensorflow_in_both_branches() -> None:
    model = zoo_models.conditional()
    onnx_model = export(model)
    for sign in (1.0, -1.0):
        image, flag = _inputs(sign)
        got = run_onnx(onnx_model, {"image": image, "flag": flag})[0]
        np.testing.assert_allclose(got, model([image, flag]).numpy(), rtol=1e-5, atol=1e-5)


def test_without_it_the_export_fails_and_names_the_branch_convolution(monkeypatch: pytest.MonkeyPatch) -> None:
    others = fixups.TRACE_FIXUPS.without("lower_conditionals")
    monkeypatch.setattr(fixups, "TRACE_FIXUPS", others)
    with pytest.raises(ExportError) as caught:
        export(zoo_models.conditional())
    assert "Conv" in str(caught.value) and any("cond" in (loc.node or "") for loc in caught.value.locations)
