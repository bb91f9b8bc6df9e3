"""Every model of configs/zoo.yaml translates with no fallback layer and its model.py matches
TensorFlow (logits: the classifier's softmax is switched off, random weights make it flat)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.translate.helpers import check_weights, module_from

ZOO = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "zoo.yaml").read_text())["models"]


@pytest.mark.slow
@pytest.mark.parametrize("entry", ZOO, ids=[m["name"] for m in ZOO])
def test_zoo_model_translates_directly(entry: dict, rng: np.random.Generator) -> None:
    import keras
    import torch

    from pipeline.translate import LAYERS, translate_model

    keras.utils.set_random_seed(0)
    build = getattr(keras.applications, entry["source"].split(":", 1)[1])
    model = build(weights=None, classifier_activation=None, **(entry.get("kwargs") or {}))
    missing = {type(op).__name__ for op in model.operations} - set(LAYERS) - {"InputLayer", "Functional", "Sequential"}
    if missing & {"LayerNormalization"}:
        pytest.skip(f"{entry['name']} needs entries of the extra layer families: {sorted(missing)}")
    code = translate_model(model)  # raises on any layer that would need the ONNX fallback
    assert {row["method"] for row in code.layers} == {"direct"}
    module = module_from(code)
    x = rng.uniform(-1, 1, (2, *[int(d) for d in model.inputs[0].shape[1:]])).astype(np.float32)
    expected = np.asarray(model(x, training=False))
    with torch.no_grad():
        got = module(torch.from_numpy(x)).numpy()
    assert np.abs(got - expected).max() <= 1e-4 * float(np.std(expected)) + 1e-6
    check_weights(model, code, module)
    if entry["name"] == "ResNet50":
        norms = [m for m in module.modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert len(norms) == 53
        assert all(m.track_running_stats and m.running_mean is not None and m.running_var is not None for m in norms)
        assert "conv1_bn.running_var" in code.weight_map and "conv1_bn.running_var" in code.buffers
